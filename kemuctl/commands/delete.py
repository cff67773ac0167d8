"""``kemuctl delete``: delete objects by name, by selector, by file or all of a kind, with
kubectl's cascade, grace period and wait options."""

from __future__ import annotations

from typing import Any

import click

from kemu.api.errors import ApiError
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.errors import CliError, server_error
from kemuctl.fetch import Found, fetch, fetch_files, list_kind
from kemuctl.resources import parse_args
from kemuctl.timefmt import timeout_flag
from kemuctl.waiting import wait_all_gone

NO_RESOURCES = ("You must provide one or more resources by argument or filename.\n"
                "Example resource specifications include:\n   '-f rsrc.yaml'\n"
                "   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
FORCE_WARNING = ("Warning: Immediate deletion does not wait for confirmation that the running "
                 "resource has been terminated. The resource may continue to run on the cluster "
                 "indefinitely.")
_POLICIES = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}


def propagation_policy(cascade: str) -> str:
    value = cascade.lower()
    if value in ("true", "false"):
        replacement = "background" if value == "true" else "orphan"
        session.err(f"warning: --cascade={value} is deprecated (boolean value) and can be "
                    f"replaced with --cascade={replacement}.")
        return _POLICIES[replacement]
    if value not in _POLICIES:
        raise CliError(f'invalid cascade value ({cascade}). Must be "background", "foreground", '
                       'or "orphan".')
    return _POLICIES[value]


def grace_period(requested: int, now: bool, force: bool) -> int | None:
    """kubectl's rules: --now is 1s; 0 without --force becomes 1; --force alone means 0."""
    if now:
        if requested != -1:
            raise CliError("--now and --grace-period cannot be specified together")
        requested = 1
    if requested == 0 and not force:
        requested = 1
    if force and requested < 0:
        requested = 0
    return None if requested < 0 else requested


@click.command("delete")
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", multiple=True, help="Files identifying the resources to delete.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory in -f recursively.")
@click.option("-l", "--selector", default="", help="Selector (label query) to filter on.")
@click.option("--field-selector", default="", help="Selector (field query) to filter on.")
@click.option("--all", "all_objects", is_flag=True,
              help="Delete all resources, in the namespace of the specified resource types.")
@click.option("-A", "--all-namespaces", is_flag=True,
              help="Delete the requested objects across all namespaces.")
@click.option("--cascade", default="background", is_flag=False, flag_value="background",
              help="background, foreground or orphan (true and false are deprecated aliases).")
@click.option("--grace-period", "grace_seconds", default=-1, type=int,
              help="Seconds given to the resource to terminate gracefully (-1: its default).")
@click.option("--now", is_flag=True, help="Signal resources for immediate shutdown (grace 1s).")
@click.option("--force", is_flag=True,
              help="Immediately remove resources from the API, bypassing graceful deletion.")
@click.option("--wait", type=click.BOOL, default=True, is_flag=False, flag_value=True,
              help="Wait for resources to be gone before returning (default true).")
@click.option("--timeout", default="0s", help="How long to wait for the deletion (0: a week).")
@click.option("--ignore-not-found", is_flag=True, help="Treat 'resource not found' as success.")
@click.option("-o", "--output", default="", type=click.Choice(["", "name"]),
              help="Output format: name prints only resource/name.")
@session.global_options
def delete(args: tuple[str, ...], filename: tuple[str, ...], recursive: bool, selector: str,
           field_selector: str, all_objects: bool, all_namespaces: bool, cascade: str,
           grace_seconds: int, now: bool, force: bool, wait: bool, timeout: str,
           ignore_not_found: bool, output: str) -> None:
    """Delete resources by file names, stdin, resources and names, or by resources and label
    selector."""
    config = session.settings()
    policy = propagation_policy(cascade)
    grace = grace_period(grace_seconds, now, force)
    wait_seconds = timeout_flag(timeout)
    if not args and not filename:
        raise CliError(NO_RESOURCES)
    if args and filename:
        raise CliError("Unexpected args: " + " ".join(args))
    requests = parse_args(args) if args else []
    for request in requests:
        if not request.names and not (selector or field_selector or all_objects):
            raise CliError("resource(s) were provided, but no name was specified")
    if all_objects and (selector or field_selector):
        raise CliError("cannot set --all and --selector at the same time")
    if grace == 0 and force:
        session.err(FORCE_WARNING)
    verb = "force deleted" if grace == 0 else "deleted"

    async def action(client: GrpcClient) -> int:
        if filename:
            fetched, problems = await fetch_files(client, filename, recursive, config.namespace)
            for problem in problems:
                session.err(problem)
            targets, errors = fetched.found, fetched.errors
        else:
            targets, errors = await _targets(client, requests, config.namespace, all_namespaces,
                                             selector, field_selector)
        failed = False
        for error in errors:
            if not (ignore_not_found and error.reason == "NotFound"):
                session.err(server_error(error))
                failed = True
        if not targets and not errors and not filename:
            session.out("No resources found")
        waiting: list[tuple[Kind, Any]] = []
        for target in targets:
            kind, obj = target.kind, target.obj
            try:
                after: Any = await client.delete(kind.message, obj.metadata.name,
                                            obj.metadata.namespace, propagation_policy=policy,
                                            grace_period_seconds=grace)
            except ApiError as exc:
                if not (ignore_not_found and exc.reason == "NotFound"):
                    session.err(server_error(exc))
                    failed = True
                continue
            name = obj.metadata.name
            session.out(f"{kind.qualified_singular}/{name}" if output == "name"
                        else f'{kind.qualified_singular} "{name}" {verb}')
            if after.metadata.deletion_timestamp:
                waiting.append((kind, after))
        if wait and waiting:
            for kind, obj in await wait_all_gone(client, waiting, wait_seconds):
                session.err(f"error: timed out waiting for the condition on "
                            f"{kind.qualified_plural}/{obj.metadata.name}")
                failed = True
        return 1 if failed else 0

    session.run(action)


async def _targets(client: GrpcClient, requests: list[Any], namespace: str, all_namespaces: bool,
                   selector: str, field_selector: str) -> tuple[list[Found], list[ApiError]]:
    named = [r for r in requests if r.names]
    listed = [r for r in requests if not r.names]
    fetched = await fetch(client, named, namespace=namespace)
    found = list(fetched.found)
    scope = "" if all_namespaces else namespace
    for request in listed:
        for obj in await list_kind(client, request.kind, scope, label_selector=selector,
                                   field_selector=field_selector):
            found.append(Found(request.kind, obj))
    return found, fetched.errors
