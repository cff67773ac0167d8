"""``kemuctl rollout``: status, history, undo, pause, resume and restart of Deployments,
DaemonSets and StatefulSets."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import click

from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.errors import CliError
from kemuctl.resources import parse_name_args
from kemuctl.rollout.history import view_history
from kemuctl.rollout.status import SUPPORTED, status
from kemuctl.rollout.undo import rollback
from kemuctl.timefmt import timeout_flag

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@click.group("rollout")
def rollout() -> None:
    """Manage the rollout of one or many resources (deployments, daemonsets, statefulsets)."""


def _targets(args: tuple[str, ...], command: str) -> tuple[Kind, list[str]]:
    kind, names = parse_name_args(args, f"rollout {command}")
    if not names:
        raise CliError("resource(s) were provided, but no name was specified")
    return kind, names


def _reference(kind: Kind, name: str) -> str:
    return f"{kind.qualified_singular}/{name}"


async def _get(client: GrpcClient, kind: Kind, name: str, namespace: str) -> Any:
    return await client.get(kind.message, name, namespace)


@rollout.command("status")
@click.argument("args", nargs=-1)
@click.option("--revision", default=0, type=int, help="Pin to a specific revision.")
@click.option("--timeout", default="0s", help="How long to wait; zero means forever.")
@click.option("-w", "--watch", type=click.BOOL, default=True, is_flag=False, flag_value=True,
              help="Watch the status of the rollout until it's done (default true).")
@session.global_options
def status_command(args: tuple[str, ...], revision: int, timeout: str, watch: bool) -> None:
    """Show the status of the rollout."""
    config = session.settings()
    kind, names = _targets(args, "status")
    if kind.name not in SUPPORTED:
        raise CliError(f"no status viewer has been implemented for {kind.qualified_kind}")
    limit = timeout_flag(timeout)

    async def follow(client: GrpcClient, name: str) -> int:
        current = await _get(client, kind, name, config.namespace)
        message, done = status(kind, current, revision)
        session.out(message)
        if done or not watch:
            return 0
        async for event in client.watch(kind.message, current.metadata.namespace,
                                        field_selector=f"metadata.name={name}",
                                        resource_version=current.metadata.resource_version):
            if event.object is None:
                continue
            if event.type == "DELETED":
                raise CliError("object has been deleted")
            message, done = status(kind, event.object, revision)
            session.out(message)
            if done:
                return 0
        return 0

    async def action(client: GrpcClient) -> int:
        for name in names:
            try:
                await asyncio.wait_for(follow(client, name), limit or None)
            except TimeoutError:
                raise CliError("timed out waiting for the condition") from None
        return 0

    session.run(action)


@rollout.command("history")
@click.argument("args", nargs=-1)
@click.option("--revision", default=0, type=int,
              help="See the details, including podTemplate of the revision specified.")
@session.global_options
def history(args: tuple[str, ...], revision: int) -> None:
    """View previous rollout revisions and configurations."""
    config = session.settings()
    kind, names = _targets(args, "history")

    async def action(client: GrpcClient) -> int:
        for name in names:
            obj = await _get(client, kind, name, config.namespace)
            text = await view_history(client, kind, obj, revision)
            suffix = f" with revision #{revision}" if revision > 0 else ""
            session.out(_reference(kind, name) + suffix)
            session.out(text)
        return 0

    session.run(action)


@rollout.command("undo")
@click.argument("args", nargs=-1)
@click.option("--to-revision", default=0, type=int,
              help="The revision to roll back to. Default 0 (last revision).")
@session.global_options
def undo(args: tuple[str, ...], to_revision: int) -> None:
    """Roll back to a previous rollout."""
    config = session.settings()
    kind, names = _targets(args, "undo")

    async def action(client: GrpcClient) -> int:
        for name in names:
            obj = await _get(client, kind, name, config.namespace)
            verb = await rollback(client, kind, obj, to_revision)
            session.out(f"{_reference(kind, name)} {verb}")
        return 0

    session.run(action)


def _pause_or_resume(args: tuple[str, ...], paused: bool) -> None:
    config = session.settings()
    command = "pause" if paused else "resume"
    kind, names = _targets(args, command)
    verb = "paused" if paused else "resumed"

    async def action(client: GrpcClient) -> int:
        for name in names:
            obj = await _get(client, kind, name, config.namespace)
            if kind.name != "Deployment":
                raise CliError(f'{kind.qualified_plural} "{name}" '
                               f"{'pausing' if paused else 'resuming'} is not supported")
            if obj.spec.paused == paused:
                session.out(f"{_reference(kind, name)} already {verb}")
                continue
            await client.patch(kind.message, name, obj.metadata.namespace,
                               {"spec": {"paused": True if paused else None}})
            session.out(f"{_reference(kind, name)} {verb}")
        return 0

    session.run(action)


@rollout.command("pause")
@click.argument("args", nargs=-1)
@session.global_options
def pause(args: tuple[str, ...]) -> None:
    """Mark the provided resource as paused."""
    _pause_or_resume(args, True)


@rollout.command("resume")
@click.argument("args", nargs=-1)
@session.global_options
def resume(args: tuple[str, ...]) -> None:
    """Resume a paused resource."""
    _pause_or_resume(args, False)


@rollout.command("restart")
@click.argument("args", nargs=-1)
@session.global_options
def restart(args: tuple[str, ...]) -> None:
    """Restart a resource: its pods are replaced, as after a template change."""
    config = session.settings()
    kind, names = _targets(args, "restart")

    async def action(client: GrpcClient) -> int:
        for name in names:
            obj = await _get(client, kind, name, config.namespace)
            if kind.name not in SUPPORTED:
                raise CliError(f'{kind.qualified_plural} "{name}" restarting is not supported')
            if kind.name == "Deployment" and obj.spec.paused:
                raise CliError("can't restart paused deployment (run rollout resume first)")
            now = dt.datetime.now().astimezone().replace(microsecond=0).isoformat()
            patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
            await client.patch(kind.message, name, obj.metadata.namespace, patch)
            session.out(f"{_reference(kind, name)} restarted")
        return 0

    session.run(action)
