"""Questions controllers ask about pods: ready, available, active, finished, conditions."""

from __future__ import annotations

from collections.abc import Callable

from kemu.api.meta import parse_time
from kemu.v1 import core_pb2

SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
PENDING = "Pending"


def condition(pod: core_pb2.Pod, kind: str) -> core_pb2.PodCondition | None:
    for c in pod.status.conditions:
        if c.type == kind:
            return c
    return None


def is_ready(pod: core_pb2.Pod) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.status == "True"


ReadySince = Callable[[core_pb2.Pod], float | None]


def stamped_ready_since(pod: core_pb2.Pod) -> float | None:
    """When the pod became Ready, as its condition says (one-second precision); None if it is
    not Ready."""
    c = condition(pod, "Ready")
    if c is None or c.status != "True":
        return None
    return parse_time(c.last_transition_time)


def is_available(pod: core_pb2.Pod, min_ready_seconds: float, now: float,
                 ready_since: ReadySince = stamped_ready_since) -> bool:
    """Ready for at least ``min_ready_seconds`` (already scaled by the caller's profile);
    ``ready_since`` tells when the pod became Ready (a controller may know it more precisely
    than the condition's timestamp)."""
    since = ready_since(pod)
    if since is None:
        return False
    if min_ready_seconds <= 0:
        return True
    return since + min_ready_seconds <= now


def is_terminal(pod: core_pb2.Pod) -> bool:
    return pod.status.phase in (SUCCEEDED, FAILED)


def is_active(pod: core_pb2.Pod) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    return not is_terminal(pod) and not pod.metadata.deletion_timestamp


def restart_count(pod: core_pb2.Pod) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses)
