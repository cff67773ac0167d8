"""``kemuctl label`` and ``kemuctl annotate``: add, change (with --overwrite) and remove
(``key-``) labels or annotations, or list them, on named objects or all selected ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from kemu.api.errors import ApiError
from kemu.api.names import label_value_problems, qualified_name_problems
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.errors import CliError, server_error
from kemuctl.fetch import Found, fetch, fetch_files, list_kind
from kemuctl.resources import parse_args


@dataclass(frozen=True)
class Flavour:
    """What differs between label and annotate."""

    field: str
    noun: str
    done: str
    not_done: str
    is_label: bool


LABEL = Flavour("labels", "label", "labeled", "not labeled", True)
ANNOTATION = Flavour("annotations", "annotation", "annotated", "not annotated", False)


def split_resources_and_pairs(args: Sequence[str], command: str) -> tuple[list[str], list[str]]:
    """kubectl's GetResourcesAndPairs: resources first, then ``k=v`` / ``k-`` changes."""
    resources: list[str] = []
    pairs: list[str] = []
    for arg in args:
        is_pair = "=" in arg or arg.endswith("-")
        if is_pair:
            pairs.append(arg)
        elif pairs:
            raise CliError(f"all resources must be specified before {command} changes: {arg}")
        else:
            resources.append(arg)
    return resources, pairs


def parse_changes(pairs: Sequence[str], flavour: Flavour) -> tuple[dict[str, str], list[str]]:
    new: dict[str, str] = {}
    remove: list[str] = []
    for pair in pairs:
        if "=" in pair:
            parts = pair.split("=") if flavour.is_label else pair.split("=", 1)
            if len(parts) != 2:
                raise CliError(f"invalid {flavour.noun} spec: {pair}")
            key, value = parts
            if qualified_name_problems(key):
                raise CliError(f'invalid {flavour.noun} format: "{key}": '
                               + "; ".join(qualified_name_problems(key)))
            if flavour.is_label and label_value_problems(value):
                raise CliError(f'invalid label value: "{pair}": '
                               + ";".join(label_value_problems(value)))
            new[key] = value
        elif pair.endswith("-"):
            remove.append(pair[:-1])
        else:
            raise CliError(f"unknown {flavour.noun} spec: {pair}")
    for key in remove:
        if key in new:
            article = "a label" if flavour.is_label else "an annotation"
            raise CliError(f"can not both modify and remove {article} in the same command")
    return new, remove


def overwrite_problem(current: dict[str, str], new: dict[str, str], flavour: Flavour) -> str:
    clashes = [(k, current[k]) for k in sorted(new) if k in current and current[k] != new[k]]
    if flavour is ANNOTATION:
        clashes = [(k, v) for k, v in clashes if k != "kubernetes.io/change-cause"]
    if not clashes:
        return ""
    if flavour.is_label:
        messages = [f"'{k}' already has a value ({v}), and --overwrite is false" for k, v in clashes]
        return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    found = "; ".join(f"'{k}' already has a value ({v})" for k, v in clashes)
    return f"--overwrite is false but found the following declared annotation(s): {found}"


def run_changes(args: tuple[str, ...], flavour: Flavour, overwrite: bool, selector: str,
                all_objects: bool, list_only: bool, resource_version: str,
                filename: tuple[str, ...], all_namespaces: bool) -> None:
    config = session.settings()
    resources, pairs = split_resources_and_pairs(args, flavour.noun)
    new, remove = parse_changes(pairs, flavour)
    if all_objects and selector:
        raise CliError("cannot set --all and --selector at the same time")
    if not resources and not filename:
        raise CliError("one or more resources must be specified as <resource> <name> or "
                       "<resource>/<name>")
    if not new and not remove and not list_only:
        raise CliError(f"at least one {flavour.noun} update is required")
    requests = parse_args(resources) if resources else []
    for request in requests:
        if not request.names and not (selector or all_objects):
            raise CliError("resource(s) were provided, but no name was specified")

    async def action(client: GrpcClient) -> int:
        targets: list[Found] = []
        errors: list[ApiError] = []
        if filename:
            fetched, problems = await fetch_files(client, filename, False, config.namespace)
            for problem in problems:
                session.err(problem)
            targets, errors = fetched.found, fetched.errors
        named = await fetch(client, [r for r in requests if r.names], namespace=config.namespace)
        targets += named.found
        errors += named.errors
        scope = "" if all_namespaces else config.namespace
        for request in (r for r in requests if not r.names):
            targets += [Found(request.kind, o) for o in
                        await list_kind(client, request.kind, scope, label_selector=selector)]
        if resource_version and len(targets) > 1:
            raise CliError("--resource-version may only be used with a single resource")
        for target in targets:
            await _change(client, target, flavour, new, remove, overwrite, list_only,
                          resource_version, single=len(targets) == 1)
        for error in errors:
            session.err(server_error(error))
        return 1 if errors else 0

    session.run(action)


async def _change(client: GrpcClient, target: Found, flavour: Flavour, new: dict[str, str],
                  remove: list[str], overwrite: bool, list_only: bool, resource_version: str,
                  single: bool) -> None:
    kind, obj = target.kind, target.obj
    current: dict[str, str] = dict(getattr(obj.metadata, flavour.field))
    if list_only:
        _list(kind, obj, current, flavour, single)
        return
    if not overwrite:
        problem = overwrite_problem(current, new, flavour)
        if problem:
            raise CliError(problem)
    if flavour.is_label:
        for key in remove:
            if key not in current:
                session.out(f'label "{key}" not found.')
    changes: dict[str, Any] = {k: v for k, v in new.items() if current.get(k) != v}
    changes.update({k: None for k in remove if k in current})
    reference = f"{kind.qualified_singular}/{obj.metadata.name}"
    if not changes and not resource_version:
        session.out(f"{reference} {flavour.not_done}")
        return
    metadata: dict[str, Any] = {flavour.field: changes} if changes else {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    await client.patch(kind.message, obj.metadata.name, obj.metadata.namespace,
                       {"metadata": metadata}, patch_type="merge")
    session.out(f"{reference} {flavour.done if changes else flavour.not_done}")


def _list(kind: Any, obj: Any, values: dict[str, str], flavour: Flavour, single: bool) -> None:
    indent = ""
    if not single:
        indent = " "
        session.out(f"Listing {flavour.field} for {kind.name}.{kind.group}/{obj.metadata.name}:")
    for key in sorted(values):
        session.out(f"{indent}{key}={values[key]}")


def _options(func: Any) -> Any:
    for decorator in reversed((
            click.argument("args", nargs=-1),
            click.option("--overwrite", is_flag=True,
                         help="Allow existing values to be overwritten."),
            click.option("-l", "--selector", default="", help="Selector (label query)."),
            click.option("--all", "all_objects", is_flag=True,
                         help="Select all resources of the given types in the namespace."),
            click.option("-A", "--all-namespaces", is_flag=True,
                         help="With --all or -l, act in all namespaces."),
            click.option("--list", "list_only", is_flag=True, help="List the current values."),
            click.option("--resource-version", default="",
                         help="Change only if the object is still at this resource version."),
            click.option("-f", "--filename", multiple=True,
                         help="Files identifying the resources to update."),
            session.global_options)):
        func = decorator(func)
    return func


@click.command("label")
@_options
def label(args: tuple[str, ...], overwrite: bool, selector: str, all_objects: bool,
          all_namespaces: bool, list_only: bool, resource_version: str,
          filename: tuple[str, ...]) -> None:
    """Update the labels on a resource (KEY=VALUE to set, KEY- to remove)."""
    run_changes(args, LABEL, overwrite, selector, all_objects, list_only, resource_version,
                filename, all_namespaces)


@click.command("annotate")
@_options
def annotate(args: tuple[str, ...], overwrite: bool, selector: str, all_objects: bool,
             all_namespaces: bool, list_only: bool, resource_version: str,
             filename: tuple[str, ...]) -> None:
    """Update the annotations on a resource (KEY=VALUE to set, KEY- to remove)."""
    run_changes(args, ANNOTATION, overwrite, selector, all_objects, list_only, resource_version,
                filename, all_namespaces)
