"""Ready times for minReadySeconds: the controller's own observation of a pod turning Ready
stands in for the condition's one-second timestamp, which is coarser than a fast-profile
minReadySeconds (10 s x 0.05 = 0.5 s)."""

from __future__ import annotations

import pytest

from controlplane.controllers.readiness import ReadyTimes
from controlplane.controllers.replicaset import calculate_status, next_availability
from kemu.api.meta import now_rfc3339
from kemu.api.pods import is_available
from kemu.v1 import apps_pb2, core_pb2

pytestmark = pytest.mark.unit

T = 1_700_000_000.0  # a whole second


def pod(ready: bool, at: float = T, uid: str = "u1") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.uid = uid
    p.metadata.name = uid
    p.status.phase = "Running"
    p.status.conditions.add(type="Ready", status="True" if ready else "False",
                            last_transition_time=now_rfc3339(at))
    return p


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_transition_seen_live_is_timed_by_the_controller() -> None:
    clock = Clock(T + 0.7)  # the kubelet stamped T (truncated from T + 0.6)
    times = ReadyTimes(clock)
    times.updated(pod(False, T - 5), pod(True, T))
    assert times.since(pod(True, T)) == T + 0.7
    # With the stamp alone, a 0.5 s minReadySeconds would be over at once.
    assert is_available(pod(True, T), 0.5, T + 0.9)
    assert not is_available(pod(True, T), 0.5, T + 0.9, times.since)
    assert is_available(pod(True, T), 0.5, T + 1.2, times.since)


def test_the_stamp_is_used_for_pods_found_ready_or_when_the_two_disagree() -> None:
    times = ReadyTimes(Clock(T + 30))
    assert times.since(pod(True, T)) == T  # never seen turning Ready
    times.updated(pod(False), pod(True, T))  # seen 30 s after the stamp: not this transition
    assert times.since(pod(True, T)) == T
    assert times.since(pod(False)) is None


def test_not_ready_or_deleted_pods_are_forgotten() -> None:
    clock = Clock(T + 0.2)
    times = ReadyTimes(clock)
    times.updated(pod(False), pod(True, T))
    times.updated(pod(True, T), pod(False, T + 1))
    clock.now = T + 3.4
    times.updated(pod(False, T + 1), pod(True, T + 3))
    assert times.since(pod(True, T + 3)) == T + 3.4
    times.deleted(pod(True, T + 3))
    assert times.since(pod(True, T + 3)) == T + 3


def test_replica_set_status_and_requeue_use_the_precise_time() -> None:
    clock = Clock(T + 0.8)
    times = ReadyTimes(clock)
    ready = pod(True, T)
    times.updated(pod(False), ready)
    rs = apps_pb2.ReplicaSet()
    rs.spec.replicas = 1
    status = calculate_status(rs, [ready], None, 0.5, T + 1.0, ready_since=times.since)
    assert (status.ready_replicas, status.available_replicas) == (1, 0)
    wait = next_availability([ready], 0.5, T + 1.0, ready_since=times.since)
    assert wait == pytest.approx(0.3)
    assert calculate_status(rs, [ready], None, 0.5, T + 1.31, ready_since=times.since).available_replicas == 1
