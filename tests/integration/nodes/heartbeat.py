"""Heartbeats sent from a test the way a kubelet sends them: the node's Lease in kube-node-lease
renewed every ``node_lease_renew_interval``, and the node's Ready condition posted."""

from __future__ import annotations

import asyncio
import contextlib

from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339_micro
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import coordination_pb2, core_pb2
from tests.integration.scheduling.builders import set_ready

LEASE_NAMESPACE = "kube-node-lease"


async def renew_lease(client: ApiClient, node: str, duration: int = 40) -> None:
    try:
        lease = await client.get(coordination_pb2.Lease, node, LEASE_NAMESPACE)
    except ApiError as exc:
        if exc.code != Code.NOT_FOUND:
            raise
        fresh = coordination_pb2.Lease()
        fresh.metadata.name = node
        fresh.metadata.namespace = LEASE_NAMESPACE
        fresh.spec.holder_identity = node
        fresh.spec.lease_duration_seconds = duration
        fresh.spec.renew_time = fresh.spec.acquire_time = now_rfc3339_micro()
        await client.create(fresh)
        return
    renewed = clone(lease)
    renewed.spec.renew_time = now_rfc3339_micro()
    await client.update(renewed)


async def post_ready(client: ApiClient, node: str, status: str = "True") -> core_pb2.Node:
    """What a kubelet does when it (re)starts: its Ready condition, freshly heartbeated."""
    current = await client.get(core_pb2.Node, node)
    changed = clone(current)
    set_ready(changed, status)
    result: core_pb2.Node = await client.update_status(changed)
    return result


class Heartbeats:
    """Renews the leases of the nodes in ``alive`` until stopped."""

    def __init__(self, client: ApiClient, timing: Timing):
        self.client = client
        self.timing = timing
        self.alive: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Heartbeats:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            for node in list(self.alive):
                with contextlib.suppress(ApiError):
                    await renew_lease(self.client, node)
            await asyncio.sleep(self.timing.node_lease_renew_interval)
