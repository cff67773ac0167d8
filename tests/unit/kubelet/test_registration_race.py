"""Registration when the Node is deleted (or the control plane goes away) right after it was
accepted: the kubelet keeps running (registering again if the Node is gone, leaving the address
to its status loop if the control plane is), instead of exiting with "node was refused"
(seen as a flaky test_deleted_node_registers_again under load)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.v1 import core_pb2
from kubelet.clock import FakeClock
from kubelet.config import KubeletConfig
from kubelet.events import EventRecorder
from kubelet.heartbeat import NodeHeartbeat
from kubelet.node import NodeIdentity

pytestmark = pytest.mark.unit


class DeletedAfterRegistering:
    """Accepts the registration; the Node is gone by the time its status is written."""

    server = "memory"

    def __init__(self, error: ApiError) -> None:
        self.error = error
        self.status_writes = 0

    async def register(self, node: core_pb2.Node) -> core_pb2.Node:
        accepted = core_pb2.Node()
        accepted.CopyFrom(node)
        accepted.spec.pod_cidr = "10.244.3.0/24"
        return accepted

    async def update_node_status(self, status: core_pb2.NodeStatus) -> core_pb2.Node:
        self.status_writes += 1
        raise self.error

    async def record_events(self, events: Sequence[core_pb2.Event]) -> list[ApiError | None]:
        return [None] * len(events)


@pytest.mark.parametrize(("error", "registrations"), [
    # Deleted: registered once more, with the address this time (nothing left to post).
    (ApiError(Code.NOT_FOUND, "NotFound", 'nodes "n1" not found'), 2),
    # Unreachable: the status loop posts the address later.
    (ApiError(Code.UNAVAILABLE, "ServiceUnavailable", "connection refused"), 1),
], ids=["deleted", "unavailable"])
async def test_a_failed_address_report_after_registering_does_not_end_the_kubelet(
        error: ApiError, registrations: int) -> None:
    clock = FakeClock()
    client: Any = DeletedAfterRegistering(error)
    config = KubeletConfig(node_name="n1")
    registered: list[str] = []
    heartbeat = NodeHeartbeat(config, NodeIdentity.of("n1"), client, clock,
                              EventRecorder(client, clock, 10.0),
                              lambda node, ip: registered.append(ip))
    node = await heartbeat.register()
    assert node.spec.pod_cidr == "10.244.3.0/24"
    assert registered == ["172.20.3.1"] * registrations
    assert client.status_writes == 1
    assert heartbeat.registrations == registrations
