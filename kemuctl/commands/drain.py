"""``kemuctl drain``: cordon a node, then delete the pods on it that may go (see
``kemuctl.draining``) and wait until they are gone, printing kubectl's lines."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from kemu.api import kinds
from kemu.api.errors import ApiError
from kemu.api.meta import controller_of
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from kemuctl import session
from kemuctl.commands.nodes import node_names, nodes_named, set_unschedulable
from kemuctl.draining import DrainOptions, plan
from kemuctl.errors import CliError
from kemuctl.timefmt import timeout_flag
from kemuctl.waiting import FOREVER, until_gone

POD = kinds.by_name("Pod")


@click.command("drain")
@click.argument("args", nargs=-1)
@click.option("--force", is_flag=True,
              help="Continue even if there are pods that do not declare a controller.")
@click.option("--ignore-daemonsets", is_flag=True, help="Ignore DaemonSet-managed pods.")
@click.option("--delete-emptydir-data", is_flag=True,
              help="Continue even if there are pods using emptyDir (local data that will be "
                   "deleted when the node is drained).")
@click.option("--grace-period", "grace_seconds", default=-1, type=int,
              help="Seconds given to each pod to terminate gracefully (-1: the pod's own).")
@click.option("--timeout", default="0s",
              help="How long to wait before giving up; zero means infinite.")
@click.option("--disable-eviction", is_flag=True,
              help="Delete pods instead of evicting them (kemu always deletes; this only "
                   "changes the words printed).")
@click.option("--pod-selector", default="", help="Label selector to filter pods on the node.")
@click.option("-l", "--selector", default="", help="Selector (label query) to filter nodes on.")
@session.global_options
def drain(args: tuple[str, ...], force: bool, ignore_daemonsets: bool,
          delete_emptydir_data: bool, grace_seconds: int, timeout: str, disable_eviction: bool,
          pod_selector: str, selector: str) -> None:
    """Drain node in preparation for maintenance."""
    if not args and not selector:
        raise CliError("USAGE: drain NODE [flags]")
    options = DrainOptions(force=force, ignore_daemonsets=ignore_daemonsets,
                           delete_emptydir_data=delete_emptydir_data)
    limit = timeout_flag(timeout)
    grace = grace_seconds if grace_seconds >= 0 else None

    async def action(client: GrpcClient) -> int:
        nodes = await nodes_named(client, node_names(args), selector)
        for node in nodes:
            session.out(await set_unschedulable(client, node, True))
        pending: list[tuple[str, str]] = []
        for node in nodes:
            problem = await _drain_node(client, node, options, pod_selector, grace, limit,
                                        disable_eviction)
            if problem:
                session.err(f'error: unable to drain node "{node.metadata.name}" due to error: '
                            f"{problem}, continuing command...")
                pending.append((node.metadata.name, problem))
            else:
                session.out(f"node/{node.metadata.name} drained")
        if pending:
            session.err("There are pending nodes to be drained:")
            for name, _ in pending:
                session.err(f" {name}")
            for _, problem in pending:
                session.err(problem)
            return 1
        return 0

    session.run(action)


async def _daemon_sets(client: GrpcClient, pods: list[Any]) -> dict[tuple[str, str], bool | str]:
    found: dict[tuple[str, str], bool | str] = {}
    for pod in pods:
        owner = controller_of(pod)
        if owner is None or owner.kind != "DaemonSet":
            continue
        key = (pod.metadata.namespace, owner.name)
        if key in found:
            continue
        try:
            await client.get(apps_pb2.DaemonSet, owner.name, pod.metadata.namespace)
            found[key] = True
        except ApiError as exc:
            found[key] = exc.message
    return found


async def _drain_node(client: GrpcClient, node: Any, options: DrainOptions, pod_selector: str,
                      grace: int | None, limit: float, disable_eviction: bool) -> str:
    """Delete the node's pods and wait for them; return the error text, or "" when drained."""
    listed = await client.list(core_pb2.Pod, "", label_selector=pod_selector,
                               field_selector=f"spec.nodeName={node.metadata.name}")
    pods = sorted(listed.items, key=lambda p: (p.metadata.namespace, p.metadata.name))
    daemon_sets = await _daemon_sets(client, pods)
    decided = plan(pods, options, lambda ns, name: daemon_sets.get((ns, name), True))
    errors = decided.error_texts()
    if errors:
        return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    if decided.warnings:
        session.err(f"Warning: {decided.warning_text()}")
    verb = "deleted" if disable_eviction else "evicted"
    waiting: list[Any] = []
    for pod in decided.delete:
        if not disable_eviction:
            session.out(f"evicting pod {pod.metadata.namespace}/{pod.metadata.name}")
        try:
            await client.delete(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                grace_period_seconds=grace, precondition_uid=pod.metadata.uid)
        except ApiError as exc:
            if exc.reason not in ("NotFound", "Conflict"):
                return f'error when {"deleting" if disable_eviction else "evicting"} pods/"' \
                       f'{pod.metadata.name}" -n "{pod.metadata.namespace}": {exc.message}'
        waiting.append(pod)
    return await _wait(client, waiting, verb, limit)


async def _wait(client: GrpcClient, pods: list[Any], verb: str, limit: float) -> str:
    async def gone(pod: Any) -> Any:
        await until_gone(client, POD, pod.metadata.name, pod.metadata.namespace,
                         pod.metadata.uid)
        return pod

    tasks = [asyncio.ensure_future(gone(p)) for p in pods]
    deadline = asyncio.get_running_loop().time() + (limit or FOREVER)
    remaining = set(tasks)
    while remaining:
        done, remaining = await asyncio.wait(
            remaining, timeout=max(0.0, deadline - asyncio.get_running_loop().time()),
            return_when=asyncio.FIRST_COMPLETED)
        if not done:
            break
        for task in done:
            pod = task.result()
            session.out(f"pod/{pod.metadata.name} {verb}")
    for task in remaining:
        task.cancel()
    if remaining:
        late = [p for p, t in zip(pods, tasks, strict=True) if t in remaining]
        texts = [f'error when waiting for pod "{p.metadata.name}" in namespace '
                 f'"{p.metadata.namespace}" to terminate: global timeout reached: '
                 f"{_seconds(limit)}" for p in late]
        return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ""


def _seconds(value: float) -> str:
    return f"{int(value)}s" if value == int(value) else f"{value}s"
