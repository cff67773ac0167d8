"""The order in which a ReplicaSet deletes pods (Kubernetes' ActivePodsWithRanks)."""

from __future__ import annotations

import time

import pytest

from controlplane.controllers.activepods import (
    DELETION_COST_ANNOTATION,
    deletion_order,
    pods_to_delete,
)
from kemu.api.meta import now_rfc3339
from kemu.v1 import core_pb2

pytestmark = pytest.mark.unit

NOW = time.time()


def pod(name: str, *, node: str = "node-1", phase: str = "Running", ready: bool | None = True,
        ready_ago: float = 3600.0, created_ago: float = 7200.0, restarts: int = 0,
        cost: int | None = None) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.uid = f"uid-{name}"
    p.metadata.creation_timestamp = now_rfc3339(NOW - created_ago)
    if cost is not None:
        p.metadata.annotations[DELETION_COST_ANNOTATION] = str(cost)
    p.spec.node_name = node
    p.spec.containers.add(name="c")
    p.status.phase = phase
    if ready is not None:
        p.status.conditions.add(type="Ready", status="True" if ready else "False",
                                last_transition_time=now_rfc3339(NOW - ready_ago))
    p.status.container_statuses.add(name="c", restart_count=restarts)
    return p


def names(pods: list[core_pb2.Pod]) -> list[str]:
    return [p.metadata.name for p in pods]


def test_each_criterion_in_kubernetes_order() -> None:
    pods = [
        pod("ready-long", ready_ago=10_000),
        pod("ready-briefly", ready_ago=10),
        pod("running-not-ready", ready=False),
        pod("unknown", phase="Unknown", ready=None),
        pod("pending", phase="Pending", ready=None),
        pod("unassigned", node="", phase="Pending", ready=None),
    ]
    assert names(deletion_order(pods, [], NOW)) == [
        "unassigned", "pending", "unknown", "running-not-ready", "ready-briefly", "ready-long"]


def test_more_restarts_go_first_then_newer() -> None:
    pods = [
        pod("old-steady", created_ago=10_000),
        pod("new-steady", created_ago=10),
        pod("crashy", restarts=4, created_ago=20_000),
    ]
    assert names(deletion_order(pods, [], NOW)) == ["crashy", "new-steady", "old-steady"]


def test_lower_deletion_cost_goes_first() -> None:
    pods = [pod("expensive", cost=100, ready_ago=10), pod("cheap", cost=-5, ready_ago=9_000)]
    assert names(deletion_order(pods, [], NOW)) == ["cheap", "expensive"]


def test_pods_doubled_up_on_a_node_go_first() -> None:
    alone = pod("alone", node="node-b", ready_ago=10)
    crowded = pod("crowded", node="node-a", ready_ago=10_000)
    related = [crowded, pod("sibling-1", node="node-a"), pod("sibling-2", node="node-a"), alone]
    assert names(deletion_order([alone, crowded], related, NOW)) == ["crowded", "alone"]


def test_similar_ages_tie_on_a_logarithmic_scale_and_fall_back_to_uid() -> None:
    # 5 s and 6 s are in the same power-of-two bucket of nanoseconds; the UID decides.
    a = pod("b-newer", created_ago=5)
    b = pod("a-older", created_ago=6)
    assert names(deletion_order([a, b], [], NOW)) == ["a-older", "b-newer"]


def test_only_the_surplus_is_chosen() -> None:
    pods = [pod("ready"), pod("pending", phase="Pending", ready=None), pod("not-ready", ready=False)]
    assert names(pods_to_delete(pods, [], 2, NOW)) == ["pending", "not-ready"]
    assert sorted(names(pods_to_delete(pods, [], 3, NOW))) == ["not-ready", "pending", "ready"]
