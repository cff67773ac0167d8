"""``kemuctl cordon``, ``uncordon`` and ``taint``: scheduling controls on nodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from kemu.api import codec, kinds
from kemu.api.names import label_value_problems, qualified_name_problems
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from kemuctl import session
from kemuctl.describe.common import taint_string
from kemuctl.errors import CliError
from kemuctl.fetch import list_kind
from kemuctl.resources import resolve_kind

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NODE = kinds.by_name("Node")


async def nodes_named(client: GrpcClient, names: Sequence[str], selector: str) -> list[Any]:
    if names and selector:
        raise CliError("cannot specify both a node name and a --selector option")
    if selector:
        return await list_kind(client, NODE, "", label_selector=selector)
    return [await client.get(core_pb2.Node, name) for name in names]


async def set_unschedulable(client: GrpcClient, node: Any, unschedulable: bool) -> str:
    """Cordon or uncordon ``node``; return kubectl's message for what happened."""
    verb = "cordoned" if unschedulable else "uncordoned"
    if node.spec.unschedulable == unschedulable:
        return f"node/{node.metadata.name} already {verb}"
    await client.patch(core_pb2.Node, node.metadata.name, "",
                       {"spec": {"unschedulable": True if unschedulable else None}})
    return f"node/{node.metadata.name} {verb}"


def node_names(args: Sequence[str]) -> list[str]:
    names = []
    for arg in args:
        word, slash, name = arg.partition("/")
        if slash:
            if resolve_kind(word) is not NODE:
                raise CliError(f"invalid resource type {word}, only node types are supported")
            names.append(name)
        else:
            names.append(arg)
    return names


def _scheduling(args: tuple[str, ...], selector: str, unschedulable: bool) -> None:
    if not args and not selector:
        raise CliError(f"USAGE: {'cordon' if unschedulable else 'uncordon'} NODE [flags]")

    async def action(client: GrpcClient) -> int:
        for node in await nodes_named(client, node_names(args), selector):
            session.out(await set_unschedulable(client, node, unschedulable))
        return 0

    session.run(action)


@click.command("cordon")
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", default="", help="Selector (label query) to filter nodes on.")
@session.global_options
def cordon(args: tuple[str, ...], selector: str) -> None:
    """Mark node as unschedulable."""
    _scheduling(args, selector, True)


@click.command("uncordon")
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", default="", help="Selector (label query) to filter nodes on.")
@session.global_options
def uncordon(args: tuple[str, ...], selector: str) -> None:
    """Mark node as schedulable."""
    _scheduling(args, selector, False)


# ---------------------------------------------------------------------------------- taint

@dataclass(frozen=True)
class TaintSpec:
    key: str
    value: str = ""
    effect: str = ""
    time_added: str = ""

    def __str__(self) -> str:
        return taint_string(self)


def _parse_taint(text: str) -> TaintSpec:
    parts = text.split(":")
    value = effect = ""
    if len(parts) == 1:
        key = parts[0]
    elif len(parts) == 2:
        effect = parts[1]
        if effect not in EFFECTS:
            raise CliError(f"invalid taint effect: {effect}, unsupported taint effect")
        key_value = parts[0].split("=")
        if len(key_value) > 2:
            raise CliError(f"invalid taint spec: {text}")
        key = key_value[0]
        if len(key_value) == 2:
            value = key_value[1]
            problems = label_value_problems(value)
            if problems:
                raise CliError(f"invalid taint spec: {text}, {'; '.join(problems)}")
    else:
        raise CliError(f"invalid taint spec: {text}")
    problems = qualified_name_problems(key)
    if problems:
        raise CliError(f"invalid taint spec: {text}, {'; '.join(problems)}")
    return TaintSpec(key, value, effect)


def parse_taints(specs: Sequence[str]) -> tuple[list[TaintSpec], list[TaintSpec]]:
    add: list[TaintSpec] = []
    remove: list[TaintSpec] = []
    for spec in specs:
        if spec.endswith("-"):
            taint = _parse_taint(spec[:-1])
            remove.append(TaintSpec(taint.key, "", taint.effect))
            continue
        taint = _parse_taint(spec)
        if not taint.effect:
            raise CliError(f"invalid taint spec: {spec}")
        if any(t.key == taint.key and t.effect == taint.effect for t in add):
            raise CliError(f"duplicated taints with the same key and effect: {taint}")
        add.append(taint)
    return add, remove


def reorganize_taints(old: Sequence[Any], overwrite: bool, add: Sequence[TaintSpec],
                      remove: Sequence[TaintSpec]) -> tuple[str, list[TaintSpec]]:
    """The node's new taints and kubectl's verb (tainted, untainted, modified)."""
    new = list(add)
    for taint in old:
        if not any(t.key == taint.key and t.effect == taint.effect for t in new):
            new.append(TaintSpec(taint.key, taint.value, taint.effect, taint.time_added))
    added = len(old) != len(new)
    problems: list[str] = []
    deleted = False
    for taint in remove:
        before = len(new)
        if taint.effect:
            new = [t for t in new if not (t.key == taint.key and t.effect == taint.effect)]
        else:
            new = [t for t in new if t.key != taint.key]
        deleted = len(new) != before
        if not deleted:
            problems.append(f'taint "{taint}" not found')
    if problems:
        raise CliError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    if (added and deleted) or overwrite:
        return "modified", new
    if added:
        return "tainted", new
    return "untainted", new


def split_taint_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    resources: list[str] = []
    taints: list[str] = []
    for arg in args:
        is_taint = "=" in arg or ":" in arg or arg.endswith("-")
        if is_taint:
            taints.append(arg)
        elif taints:
            raise CliError(f"all resources must be specified before taint changes: {arg}")
        else:
            resources.append(arg)
    if not resources:
        raise CliError("one or more resources must be specified as <resource> <name>")
    if not taints:
        raise CliError("at least one taint update is required")
    return resources, taints


@click.command("taint")
@click.argument("args", nargs=-1)
@click.option("--overwrite", is_flag=True,
              help="Allow taints to be overwritten, otherwise a taint with the same key and "
                   "effect is an error.")
@click.option("-l", "--selector", default="", help="Selector (label query) to filter nodes on.")
@click.option("--all", "all_nodes", is_flag=True, help="Select all nodes in the cluster.")
@session.global_options
def taint(args: tuple[str, ...], overwrite: bool, selector: str, all_nodes: bool) -> None:
    """Update the taints on one or more nodes: KEY=VALUE:EFFECT adds, KEY:EFFECT- or KEY-
    removes."""
    resources, specs = split_taint_args(args)
    word, slash, first = resources[0].partition("/")
    try:
        kind = kinds.resolve(word)
    except kinds.UnknownKindError:
        kind = None
    if kind is not NODE:
        raise CliError(f"invalid resource type {word}, only node types are supported")
    names = ([first] if slash else []) + node_names(resources[1:])
    add, remove = parse_taints(specs)

    async def action(client: GrpcClient) -> int:
        if all_nodes:
            targets = await list_kind(client, NODE, "")
        else:
            targets = await nodes_named(client, names, selector)
        for node in targets:
            if not overwrite:
                clash = [t.key for t in add for o in node.spec.taints
                         if t.key == o.key and t.effect == o.effect]
                if clash:
                    raise CliError(f"node {node.metadata.name} already has {','.join(clash)} "
                                   "taint(s) with same effect(s) and --overwrite is false")
            verb, taints = reorganize_taints(node.spec.taints, overwrite, add, remove)
            encoded = [codec.encode(core_pb2.Taint(key=t.key, value=t.value, effect=t.effect,
                                                   time_added=t.time_added)) for t in taints]
            await client.patch(core_pb2.Node, node.metadata.name, "",
                               {"spec": {"taints": encoded}})
            session.out(f"node/{node.metadata.name} {verb}")
        return 0

    session.run(action)
