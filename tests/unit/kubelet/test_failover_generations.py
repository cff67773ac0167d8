"""Concurrent calls that fail together move a node to the next control plane once, not once each.

The chaos suite found a partitioned node Unknown for a whole call timeout after its network
came back: the lease renewal and the pod watch failed at the same moment, each switched control
plane, so the second switch went back to the address the first had just left and closed the
channel the retried renewal was already using.
"""

from __future__ import annotations

import pytest

from kemu.client.nodeagent import NodeAgentClient

pytestmark = pytest.mark.unit


async def test_calls_failing_in_one_generation_fail_over_once() -> None:
    client = NodeAgentClient(["127.0.0.1:1001", "127.0.0.1:1002"], "node-1", spread=False)
    lease_call, watch = client.generation, client.generation
    client.fail_over(lease_call)
    assert client.server == "127.0.0.1:1002"
    client.fail_over(watch)
    assert client.server == "127.0.0.1:1002" and client.failovers == 1
    # A call that started after the switch and fails there moves on again.
    client.fail_over(client.generation)
    assert client.server == "127.0.0.1:1001" and client.failovers == 2
    await client.close()


async def test_a_failover_without_a_generation_always_moves() -> None:
    client = NodeAgentClient(["127.0.0.1:1001", "127.0.0.1:1002"], "node-1", spread=False)
    client.fail_over()
    client.fail_over()
    assert client.server == "127.0.0.1:1001" and client.failovers == 2
    await client.close()
