"""DaemonSet status counting and the per-node decisions of the manage loop."""

from __future__ import annotations

import pytest

from controlplane.controllers.daemonset.backoff import Backoff
from controlplane.controllers.daemonset.eligibility import ELIGIBLE, NOT_ELIGIBLE, Eligibility
from controlplane.controllers.daemonset.placement import pods_should_be_on_node
from controlplane.controllers.daemonset.status import DaemonSetCounts, count_status
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.controllers.daemonset_objects import node, pod

pytestmark = pytest.mark.unit

NOW = 2_000_000.0


def _count(nodes: list[core_pb2.Node], runs: set[str], pods: dict[str, list[core_pb2.Pod]],
           min_ready: float = 0.0) -> DaemonSetCounts:
    return count_status(nodes, lambda n: n.metadata.name in runs, pods, "new", None, min_ready,
                        NOW)


def test_counts_follow_kubernetes_definitions() -> None:
    nodes = [node(n) for n in ("a", "b", "c", "d", "e")]
    pods = {
        "a": [pod("pa", "a", revision_hash="new", ready_since=NOW - 100)],
        "b": [pod("pb", "b", revision_hash="old", ready_since=NOW - 5)],
        "c": [pod("pc", target="c", revision_hash="new", phase="Pending")],
        "e": [pod("pe", "e", revision_hash="new", ready_since=NOW - 100)],
    }
    counts = _count(nodes, {"a", "b", "c", "d"}, pods, min_ready=10.0)
    assert counts == DaemonSetCounts(
        desired_number_scheduled=4,      # a, b, c, d should run it
        current_number_scheduled=3,      # a, b and c (pinned, not yet bound) have one
        number_misscheduled=1,           # e has one but should not
        number_ready=2,                  # a and b
        updated_number_scheduled=2,      # a and c carry the current hash
        number_available=1,              # only a has been ready for minReadySeconds
        number_unavailable=3)


def test_the_oldest_pod_on_a_node_decides() -> None:
    older = pod("older", "a", revision_hash="old", created=NOW - 50)
    newer = pod("newer", "a", revision_hash="new", ready_since=NOW - 10, created=NOW - 20)
    counts = _count([node("a")], {"a"}, {"a": [newer, older]})
    assert (counts.number_ready, counts.updated_number_scheduled) == (0, 0)
    # A bound pod comes before an unbound one, whatever their age.
    pending = pod("pending", target="a", revision_hash="new", created=NOW - 100)
    counts = _count([node("a")], {"a"}, {"a": [pending, newer]})
    assert (counts.number_ready, counts.updated_number_scheduled) == (1, 1)


def test_status_comparison() -> None:
    counts = DaemonSetCounts(3, 3, 0, 2, 3, 2, 1)
    status = apps_pb2.DaemonSetStatus()
    assert counts.differs_from(status)
    counts.write_to(status)
    assert not counts.differs_from(status)
    assert status.number_unavailable == 1


def _decide(eligibility: Eligibility, pods: list[core_pb2.Pod], *, surge: bool = False,
            backoff: Backoff | None = None, monotonic: float = 100.0,
            min_ready: float = 0.0) -> tuple[bool, list[str], list[str], float | None]:
    decision = pods_should_be_on_node("n1", eligibility, pods, "new", surge, min_ready,
                                      backoff if backoff is not None else Backoff(1.0, 8.0), "key",
                                      NOW, monotonic)
    return (decision.create, [p.metadata.name for p in decision.delete],
            [reason for _, reason, _ in decision.events], decision.retry_after)


def test_node_without_pod_gets_one_and_extra_pods_go_oldest_kept() -> None:
    assert _decide(ELIGIBLE, []) == (True, [], [], None)
    assert _decide(NOT_ELIGIBLE, []) == (False, [], [], None)
    pods = [pod("young", "n1", created=NOW - 1), pod("old", "n1", created=NOW - 60),
            pod("mid", "n1", created=NOW - 30)]
    assert _decide(ELIGIBLE, pods)[1] == ["mid", "young"]


def test_node_that_stops_matching_loses_its_pods_but_not_twice() -> None:
    pods = [pod("p", "n1"), pod("going", "n1", deleting=True)]
    assert _decide(NOT_ELIGIBLE, pods) == (False, ["p"], [], None)
    # Only NoSchedule taints untolerated: the pod stays.
    assert _decide(Eligibility(False, True), [pod("p", "n1")]) == (False, [], [], None)


def test_terminating_pod_blocks_a_replacement_until_gone() -> None:
    assert _decide(ELIGIBLE, [pod("going", "n1", deleting=True)]) == (False, [], [], None)
    # When surging, a node must always have a live pod.
    assert _decide(ELIGIBLE, [pod("going", "n1", deleting=True)], surge=True)[0] is True


def test_failed_pod_is_replaced_with_backoff() -> None:
    backoff = Backoff(1.0, 8.0)
    failed = pod("failed", "n1", phase="Failed")
    assert _decide(ELIGIBLE, [failed], backoff=backoff, monotonic=100.0) == (
        False, ["failed"], ["FailedDaemonPod"], None)
    # Its replacement fails at once: wait out the backoff (1 s, then 2 s ...).
    assert _decide(ELIGIBLE, [failed], backoff=backoff, monotonic=100.5) == (
        False, [], [], 1.0)
    assert _decide(ELIGIBLE, [failed], backoff=backoff, monotonic=101.5)[1] == ["failed"]
    assert _decide(ELIGIBLE, [failed], backoff=backoff, monotonic=102.5)[3] == 2.0


def test_succeeded_pod_is_deleted_with_an_event() -> None:
    done = pod("done", "n1", phase="Succeeded")
    assert _decide(ELIGIBLE, [done]) == (False, ["done"], ["SucceededDaemonPod"], None)


def test_surge_keeps_old_until_new_available() -> None:
    old = pod("old", "n1", revision_hash="old", ready_since=NOW - 100, created=NOW - 200)
    new = pod("new", "n1", revision_hash="new", created=NOW - 10)
    assert _decide(ELIGIBLE, [old, new], surge=True)[1] == []
    ready_new = pod("new", "n1", revision_hash="new", ready_since=NOW - 5, created=NOW - 10)
    assert _decide(ELIGIBLE, [old, ready_new], surge=True, min_ready=30)[1] == []
    assert _decide(ELIGIBLE, [old, ready_new], surge=True, min_ready=1)[1] == ["old"]
    # An old pod that is not ready goes at once; a second new pod always goes.
    unready_old = pod("old", "n1", revision_hash="old", created=NOW - 200)
    second_new = pod("new2", "n1", revision_hash="new", created=NOW - 1)
    assert _decide(ELIGIBLE, [unready_old, new, second_new], surge=True)[1] == ["new2", "old"]


def test_backoff_doubles_and_resets() -> None:
    backoff = Backoff(1.0, 4.0)
    assert backoff.next("k", 0.0) == 1.0
    assert backoff.in_backoff_since_update("k", 0.5)
    assert not backoff.in_backoff_since_update("k", 1.5)
    assert [backoff.next("k", t) for t in (2.0, 3.0, 4.0)] == [2.0, 4.0, 4.0]
    assert backoff.next("k", 20.0) == 1.0, "left alone for twice the maximum, it starts over"
    backoff.gc(40.0)
    assert len(backoff) == 0
