"""``kemuctl scale``: set the replicas of a Deployment, ReplicaSet, ReplicationController or
StatefulSet, optionally only if it currently has ``--current-replicas``."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from kemu.api.errors import ApiError, Code
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.errors import CliError, server_error
from kemuctl.fetch import fetch_files, list_kind, namespace_for
from kemuctl.printers.workloads import replicas_of
from kemuctl.resources import parse_args
from kemuctl.timefmt import timeout_flag

SCALABLE = ("Deployment", "ReplicaSet", "ReplicationController", "StatefulSet")
_CONFLICT_RETRIES = 5


@click.command("scale")
@click.argument("args", nargs=-1)
@click.option("--replicas", type=int, required=True, help="The new desired number of replicas.")
@click.option("--current-replicas", type=int, default=-1,
              help="Precondition for current size; -1 means no condition.")
@click.option("--resource-version", default="",
              help="Precondition for resource version.")
@click.option("-l", "--selector", default="", help="Selector (label query) to filter on.")
@click.option("--all", "all_objects", is_flag=True,
              help="Select all resources of the given types in the namespace.")
@click.option("-f", "--filename", multiple=True, help="Files identifying the resources to scale.")
@click.option("--timeout", default="0s",
              help="How long to wait for the new size to be reached (0: do not wait).")
@session.global_options
def scale(args: tuple[str, ...], replicas: int, current_replicas: int, resource_version: str,
          selector: str, all_objects: bool, filename: tuple[str, ...], timeout: str) -> None:
    """Set a new size for a deployment, replica set, replication controller, or stateful set."""
    config = session.settings()
    if replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than "
                       "or equal to 0")
    wait = timeout_flag(timeout)
    requests = parse_args(args) if args else []
    if not requests and not filename:
        raise CliError("required resource not specified")

    async def action(client: GrpcClient) -> int:
        targets: list[tuple[Kind, str, str]] = []
        failed = False
        if filename:
            fetched, problems = await fetch_files(client, filename, False, config.namespace)
            for problem in problems:
                session.err(problem)
            targets += [(f.kind, f.obj.metadata.name, f.obj.metadata.namespace)
                        for f in fetched.found]
            for error in fetched.errors:
                session.err(server_error(error))
                failed = True
        for request in requests:
            if request.names:
                targets += [(request.kind, n, config.namespace) for n in request.names]
            elif selector or all_objects:
                targets += [(request.kind, o.metadata.name, o.metadata.namespace) for o in
                            await list_kind(client, request.kind, config.namespace,
                                            label_selector=selector)]
            else:
                raise CliError("resource(s) were provided, but no name was specified")
        if not targets:
            raise CliError("no objects passed to scale")
        for kind, name, namespace in targets:
            try:
                await _scale(client, kind, name, namespace, replicas, current_replicas,
                             resource_version, wait)
            except ApiError as exc:
                session.check_reachable(client, exc)
                session.err(server_error(exc))
                failed = True
                continue
            session.out(f"{kind.qualified_singular}/{name} scaled")
        return 1 if failed else 0

    session.run(action)


async def _scale(client: GrpcClient, kind: Kind, name: str, namespace: str, replicas: int,
                 current_replicas: int, resource_version: str, wait: float) -> None:
    if kind.name not in SCALABLE:
        raise ApiError(Code.NOT_FOUND, "NotFound",
                       "the server could not find the requested resource")
    namespace = namespace_for(kind, namespace)
    for _ in range(_CONFLICT_RETRIES):
        obj: Any = await client.get(kind.message, name, namespace)
        if current_replicas >= 0 and replicas_of(obj.spec) != current_replicas:
            raise CliError(f"Expected replicas to be {current_replicas}, was "
                           f"{replicas_of(obj.spec)}")
        if resource_version and obj.metadata.resource_version != resource_version:
            raise CliError(f"Expected resource version to be {resource_version}, was "
                           f"{obj.metadata.resource_version}")
        patch = {"metadata": {"resourceVersion": obj.metadata.resource_version},
                 "spec": {"replicas": replicas}}
        try:
            scaled = await client.patch(kind.message, name, namespace, patch)
        except ApiError as exc:
            if exc.reason == "Conflict" and not resource_version:
                continue
            raise
        if wait > 0:
            await _wait_for_replicas(client, kind, scaled, replicas, wait)
        return
    raise CliError(f"could not scale {kind.qualified_plural}/{name}: too many conflicts")


async def _wait_for_replicas(client: GrpcClient, kind: Kind, obj: Any, replicas: int,
                             wait: float) -> None:
    async def reached() -> None:
        async for event in client.watch(kind.message, obj.metadata.namespace,
                                        field_selector=f"metadata.name={obj.metadata.name}"):
            current = event.object
            if current is not None and current.status.replicas == replicas and \
                    current.status.observed_generation >= current.metadata.generation:
                return

    try:
        await asyncio.wait_for(reached(), wait)
    except TimeoutError:
        raise CliError("timed out waiting for the condition") from None
