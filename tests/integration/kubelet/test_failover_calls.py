"""Calls cut off by another call's failover: retried elsewhere, never a silent cancellation.

A control plane that accepts connections and never answers (a frozen process) is the first
address; the shared control plane is the second. A call that times out on the frozen one fails
over and closes that channel, which cancels every other call still in flight on it. Those calls
must end as API errors (or succeed on the next control plane): an ``asyncio.CancelledError``
would end the kubelet loop that made the call as if the loop itself had been cancelled.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.client.nodeagent import CUT_OFF, NodeAgentClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import node_ready, unique, wait_node
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def frozen_address() -> AsyncIterator[str]:
    """A listener that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def _register(client: GrpcClient, name: str) -> None:
    node = core_pb2.Node()
    node.metadata.name = name
    await client.create(node)


async def test_a_call_cut_off_by_a_failover_is_retried_on_the_next_control_plane(
        shared_control_plane: LocalCluster, client: GrpcClient, frozen_address: str) -> None:
    name = unique("cut-off")
    await _register(client, name)
    agent = NodeAgentClient([frozen_address, shared_control_plane.address], name, timeout=1.0,
                            spread=False)
    try:
        first = asyncio.create_task(agent.renew_lease(40))
        await eventually(lambda: agent._stub is not None, what="the first call's channel")
        # In flight on the frozen channel when the first call times out and fails over.
        status = core_pb2.NodeStatus()
        status.conditions.add(type="Ready", status="True", reason="KubeletReady")
        second = asyncio.create_task(agent.update_node_status(status))
        results = await asyncio.gather(first, second, return_exceptions=True)
    finally:
        await agent.close()
    assert not any(isinstance(r, asyncio.CancelledError) for r in results), results
    assert all(not isinstance(r, BaseException) for r in results), results
    assert agent.server == shared_control_plane.address
    assert agent.failovers == 1


async def test_a_pod_watch_cut_off_by_a_failover_ends_with_an_api_error(
        shared_control_plane: LocalCluster, client: GrpcClient, frozen_address: str) -> None:
    name = unique("watch-cut")
    await _register(client, name)
    agent = NodeAgentClient([frozen_address, shared_control_plane.address], name, timeout=1.0,
                            spread=False)

    async def watch() -> None:
        async for _ in agent.watch_pods():
            pass

    try:
        watching = asyncio.create_task(watch())
        # The watch has opened its stream on the frozen control plane's channel.
        await eventually(lambda: agent._stub is not None, what="the watch's channel")
        await agent.renew_lease(40)  # times out on the frozen one, succeeds on the next
        with pytest.raises(ApiError) as cut:
            await asyncio.wait_for(watching, 10)
    finally:
        await agent.close()
    # Unavailable, marked as cut off: the pod manager watches again on the channel that
    # replaced it (its fail_over(generation) is a no-op, the generation has moved on).
    assert (cut.value.code, cut.value.reason) == (Code.UNAVAILABLE, CUT_OFF)
    assert agent.failovers == 1


async def test_the_kubelets_call_timeout_is_a_timing_setting(
        shared_control_plane: LocalCluster, client: GrpcClient, frozen_address: str) -> None:
    """A kubelet process given a frozen control plane first and a 1 s call timeout
    (``--timing node_agent_call_timeout=1``) moves on to the working one and is Ready long
    before the default 10 s would have let its first call give up."""
    name = next(n for n in (unique("impatient") for _ in range(64))
                if zlib.crc32(n.encode()) % 2 == 0)  # starts on the first address, the frozen one
    node = shared_control_plane.add_node(name, extra_args=[
        "--server", f"{frozen_address},{shared_control_plane.address}",
        "--timing", "node_agent_call_timeout=1"])
    try:
        await wait_node(client, name, node_ready, "Ready after failing over", timeout=8)
        assert f"switching to control plane {shared_control_plane.address}" in node.log_tail(200)
    finally:
        shared_control_plane.stop_node(name)
