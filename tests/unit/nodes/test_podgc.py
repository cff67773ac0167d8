"""Pod GC decisions: orphans only after quarantine and a confirming GET, terminated pods beyond
the threshold (evicted first, then oldest), out-of-service nodes, the threshold setting."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from controlplane.controllers.informer import Informer
from controlplane.controllers.podgc import PodGCController, terminated_threshold
from kemu.timing import FAST
from kemu.v1 import core_pb2
from tests.unit.nodes.fakes import FakeClient, deliver

pytestmark = pytest.mark.unit


class Harness:
    def __init__(self, threshold: int = 12500, quarantine: float = 0.0):
        self.client = FakeClient()
        client: Any = self.client
        self.pods: Informer[core_pb2.Pod] = Informer(client, core_pb2.Pod)
        self.nodes: Informer[core_pb2.Node] = Informer(client, core_pb2.Node)
        timing = dataclasses.replace(FAST, pod_gc_quarantine=quarantine)
        self.controller = PodGCController(client, self.pods, self.nodes, timing, threshold)

    def node(self, name: str, ready: bool = True, taint: str = "") -> None:
        node = core_pb2.Node()
        node.metadata.name = name
        node.status.conditions.add(type="Ready", status="True" if ready else "Unknown")
        if taint:
            node.spec.taints.add(key=taint, effect="NoExecute")
        self.client.put(node)

    def pod(self, name: str, node: str = "", phase: str = "Running", created: str = "",
            reason: str = "", terminating: bool = False) -> None:
        pod = core_pb2.Pod()
        pod.metadata.name, pod.metadata.namespace = name, "default"
        pod.metadata.uid = f"uid-{name}"
        pod.metadata.creation_timestamp = created or "2024-01-01T00:00:00Z"
        pod.spec.node_name = node
        pod.status.phase, pod.status.reason = phase, reason
        if terminating:
            pod.metadata.deletion_timestamp = "2024-01-02T00:00:00Z"
        self.client.put(pod)

    async def gc(self) -> list[str]:
        deliver(self.client, self.pods, self.nodes)
        before = len(self.client.writes)
        await self.controller.gc()
        deliver(self.client, self.pods, self.nodes)
        return [obj.metadata.name for verb, obj in self.client.writes[before:] if verb == "delete"]


def test_threshold_setting() -> None:
    assert terminated_threshold({}) == 12500
    assert terminated_threshold({"KEMU_TERMINATED_POD_GC_THRESHOLD": "10"}) == 10
    with pytest.raises(ValueError, match="must be 0 or more"):
        terminated_threshold({"KEMU_TERMINATED_POD_GC_THRESHOLD": "-1"})


async def test_orphans_are_failed_and_force_deleted_after_quarantine() -> None:
    h = Harness(quarantine=0.0)
    h.node("alive")
    h.pod("orphan", node="gone")
    h.pod("fine", node="alive")
    h.pod("pending")
    assert await h.gc() == ["orphan"]
    failed = next(obj for verb, obj in h.client.writes if verb == "update_status")
    condition = failed.status.conditions[0]
    assert failed.status.phase == "Failed"
    assert (condition.type, condition.reason, condition.message) == \
        ("DisruptionTarget", "DeletionByPodGC", "PodGC: node no longer exists")


async def test_quarantine_spares_a_node_that_shows_up() -> None:
    h = Harness(quarantine=3600.0)
    h.pod("early", node="late")
    assert await h.gc() == []
    assert "late" in h.controller.quarantine
    h.node("late")
    h.controller.quarantine["late"] = 0.0
    assert await h.gc() == []


async def test_terminated_pods_beyond_the_threshold_go_evicted_then_oldest_first() -> None:
    h = Harness(threshold=2)
    h.node("n")
    h.pod("old", "n", "Succeeded", "2024-01-01T00:00:00Z")
    h.pod("older", "n", "Failed", "2023-01-01T00:00:00Z")
    h.pod("new", "n", "Succeeded", "2025-01-01T00:00:00Z")
    h.pod("evicted", "n", "Failed", "2025-06-01T00:00:00Z", reason="Evicted")
    h.pod("running", "n", "Running", "2020-01-01T00:00:00Z")
    h.pod("unset", "n", "", "2020-01-01T00:00:00Z")
    assert sorted(await h.gc()) == ["evicted", "older"]
    assert await h.gc() == []


async def test_terminating_pods_on_out_of_service_nodes_and_unscheduled_ones() -> None:
    h = Harness()
    h.node("down", ready=False, taint="node.kubernetes.io/out-of-service")
    h.node("down-no-taint", ready=False)
    h.pod("stuck", "down", terminating=True)
    h.pod("waiting", "down-no-taint", terminating=True)
    h.pod("never-scheduled", terminating=True)
    assert sorted(await h.gc()) == ["never-scheduled", "stuck"]
