"""NodeAgentClient when a fail-over closes its channel under calls in flight.

grpc.aio reports a call whose channel was closed locally as ``asyncio.CancelledError``. A
kubelet's pod watch that fails over (after a freeze, say) closes the channel its lease renewal
is using; that must come back as a retryable error, not as a cancellation that silently ends
the lease loop (the node would never be Ready again).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.nodeagent import CUT_OFF, NodeAgentClient
from kemu.v1 import coordination_pb2

pytestmark = pytest.mark.unit


class ClosedUnderneath:
    """A stub whose first RenewLease is cut off the way grpc.aio reports it."""

    def __init__(self, cuts: int) -> None:
        self.cuts = cuts
        self.calls = 0

    async def RenewLease(self, request: Any, timeout: float) -> coordination_pb2.Lease:
        self.calls += 1
        if self.calls <= self.cuts:
            raise asyncio.CancelledError()
        lease = coordination_pb2.Lease()
        lease.metadata.name = request.node_name
        return lease


def client_with(stub: Any) -> NodeAgentClient:
    client = NodeAgentClient("127.0.0.1:1", "node-1")
    client._stub = stub
    client._channel = None
    return client


async def test_a_call_cut_off_by_a_closed_channel_is_tried_again() -> None:
    stub = ClosedUnderneath(cuts=1)
    lease = await client_with(stub).renew_lease(40)
    assert lease.metadata.name == "node-1" and stub.calls == 2


async def test_a_call_cut_off_twice_is_unavailable_not_cancelled() -> None:
    stub = ClosedUnderneath(cuts=5)
    with pytest.raises(ApiError) as raised:
        await client_with(stub).renew_lease(40)
    assert (raised.value.code, raised.value.reason) == (Code.UNAVAILABLE, CUT_OFF)
    assert stub.calls == 2


async def test_cancelling_the_calling_task_still_cancels() -> None:
    started = asyncio.Event()

    class Slow:
        async def RenewLease(self, request: Any, timeout: float) -> coordination_pb2.Lease:
            started.set()
            await asyncio.sleep(60)
            raise AssertionError("not cancelled")

    task = asyncio.create_task(client_with(Slow()).renew_lease(40))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
