"""Registration racing a deletion: the Node deleted right after the kubelet created it (before
it posted its address) must be registered again, not end the kubelet."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.timing import FAST
from kemu.v1 import core_pb2
from kubelet.clock import FakeClock
from kubelet.config import KubeletConfig
from kubelet.events import EventRecorder
from kubelet.heartbeat import NodeHeartbeat
from kubelet.node import NodeIdentity

pytestmark = pytest.mark.unit


class DeletedOnce:
    """Accepts registrations; the first status write finds the Node deleted."""

    server = "memory"
    node_name = "phoenix"

    def __init__(self) -> None:
        self.registered = 0
        self.posted: list[core_pb2.NodeStatus] = []

    async def register(self, node: core_pb2.Node) -> core_pb2.Node:
        self.registered += 1
        created = core_pb2.Node()
        created.CopyFrom(node)
        created.spec.pod_cidr = "10.244.3.0/24"
        return created

    async def update_node_status(self, status: core_pb2.NodeStatus) -> core_pb2.Node:
        if not self.posted and self.registered == 1:
            self.posted.append(status)
            raise ApiError(Code.NOT_FOUND, "NotFound", 'nodes "phoenix" not found')
        self.posted.append(status)
        return core_pb2.Node()

    async def record_events(self, events: Sequence[core_pb2.Event]) -> list[ApiError | None]:
        return [None] * len(events)


async def test_a_node_deleted_as_it_registers_is_registered_again() -> None:
    agent = DeletedOnce()
    client: Any = agent
    clock = FakeClock()
    seen: list[str] = []
    heartbeat = NodeHeartbeat(KubeletConfig(node_name="phoenix", timing=FAST),
                              NodeIdentity.of("phoenix"), client, clock,
                              EventRecorder(client, clock, 1.0),
                              lambda node, ip: seen.append(ip))
    node = await heartbeat.register()
    assert node.metadata.name == "phoenix"
    assert agent.registered == 2 and heartbeat.registrations == 2
    assert seen == ["172.20.3.1", "172.20.3.1"]
    # The second registration already carried the address: nothing more to post.
    assert len(agent.posted) == 1


class Accepting(DeletedOnce):
    def __init__(self) -> None:
        super().__init__()
        self.renewals = 0

    async def update_node_status(self, status: core_pb2.NodeStatus) -> core_pb2.Node:
        self.posted.append(status)
        return core_pb2.Node()

    async def renew_lease(self, duration: int) -> Any:
        self.renewals += 1


async def test_a_freeze_right_after_registration_is_a_gap_too() -> None:
    """Frozen between registration and the lease loop's first step, the node was marked Unknown
    meanwhile: the first renewal after the thaw reports the status at once."""
    agent = Accepting()
    client: Any = agent
    clock = FakeClock()
    heartbeat = NodeHeartbeat(KubeletConfig(node_name="sleeper", timing=FAST),
                              NodeIdentity.of("sleeper"), client, clock,
                              EventRecorder(client, clock, 1.0), lambda node, ip: None)
    await heartbeat.register()
    posted = len(agent.posted)
    await clock.advance(3.0)  # the process stood still
    lease = asyncio.create_task(heartbeat.run_lease())
    await clock.advance(0.01)
    assert agent.renewals == 1
    assert len(agent.posted) == posted + 1, "the status was not reported after the gap"
    # Regular renewals afterwards post nothing.
    await clock.advance(5 * FAST.node_lease_renew_interval)
    assert agent.renewals >= 5 and len(agent.posted) == posted + 1
    lease.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lease
