"""What a StatefulSet's status counts, and the pod states its ordering decisions look at.

``replicas`` counts created pods (terminating ones included), ``readyReplicas`` those Running
and Ready, ``availableReplicas`` those ready for ``minReadySeconds`` (x timing.scale, counted
from the later of the Ready transition time and the moment the controller saw it),
``currentReplicas``/``updatedReplicas`` those not terminating at the current/update revision.
A RollingUpdate is complete when every replica is updated and ready: the update revision then
becomes the current one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controlplane.controllers.statefulset.identity import ROLLING_UPDATE, replicas_of, revision_of
from kemu.api.meta import parse_time
from kemu.api.pods import FAILED, PENDING, RUNNING, SUCCEEDED, condition, is_ready
from kemu.v1 import apps_pb2, core_pb2

# Pod UID -> when the controller saw the pod turn ready (seconds since the epoch).
ReadySeen = Mapping[str, float]
NOTHING_SEEN: ReadySeen = {}


def is_created(pod: core_pb2.Pod) -> bool:
    """The API server has the pod (it set a phase); a pod only planned has none."""
    return bool(pod.status.phase)


def is_pending(pod: core_pb2.Pod) -> bool:
    return pod.status.phase == PENDING


def is_finished(pod: core_pb2.Pod) -> bool:
    return pod.status.phase in (FAILED, SUCCEEDED)


def is_terminating(pod: core_pb2.Pod) -> bool:
    return bool(pod.metadata.deletion_timestamp)


def is_running_and_ready(pod: core_pb2.Pod) -> bool:
    return pod.status.phase == RUNNING and is_ready(pod)


def ready_since(pod: core_pb2.Pod, seen: ReadySeen) -> float | None:
    """When the pod became ready, or None while it is not: its Ready condition's transition
    time, or the moment the controller saw the change if later (the condition has seconds
    precision, too coarse for a scaled minReadySeconds)."""
    ready = condition(pod, "Ready")
    if ready is None or ready.status != "True":
        return None
    return max(parse_time(ready.last_transition_time), seen.get(pod.metadata.uid, 0.0))


def is_running_and_available(pod: core_pb2.Pod, min_ready: float, now: float,
                             seen: ReadySeen = NOTHING_SEEN) -> bool:
    if not is_running_and_ready(pod):
        return False
    since = ready_since(pod, seen)
    return min_ready <= 0 or (since is not None and since + min_ready <= now)


def next_available(pods: Iterable[core_pb2.Pod], min_ready: float, now: float,
                   seen: ReadySeen = NOTHING_SEEN) -> float | None:
    """Seconds until the next ready pod becomes available; None if no pod is waiting."""
    if min_ready <= 0:
        return None
    waits = [since + min_ready - now for pod in pods
             if is_running_and_ready(pod) and (since := ready_since(pod, seen)) is not None
             and since + min_ready > now]
    return min(waits, default=None)


def is_healthy(pod: core_pb2.Pod) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def compute_status(sts: apps_pb2.StatefulSet, pods: Iterable[core_pb2.Pod], current: str,
                   update: str, collision_count: int, min_ready: float, now: float,
                   seen: ReadySeen = NOTHING_SEEN) -> apps_pb2.StatefulSetStatus:
    status = apps_pb2.StatefulSetStatus(observed_generation=sts.metadata.generation,
                                        current_revision=current, update_revision=update,
                                        collision_count=collision_count)
    for pod in pods:
        if is_created(pod):
            status.replicas += 1
        if is_running_and_ready(pod):
            status.ready_replicas += 1
            if is_running_and_available(pod, min_ready, now, seen):
                status.available_replicas += 1
        if is_created(pod) and not is_terminating(pod):
            revision = revision_of(pod)
            if revision == current:
                status.current_replicas += 1
            if revision == update:
                status.updated_replicas += 1
    return status


def complete_rolling_update(sts: apps_pb2.StatefulSet,
                            status: apps_pb2.StatefulSetStatus) -> None:
    """Every replica updated and ready: the update revision becomes current."""
    wanted = replicas_of(sts)
    if (sts.spec.update_strategy.type or ROLLING_UPDATE) == ROLLING_UPDATE and \
            status.updated_replicas == wanted and status.ready_replicas == wanted and \
            status.replicas == wanted:
        status.current_replicas = status.updated_replicas
        status.current_revision = status.update_revision


def status_changed(sts: apps_pb2.StatefulSet, status: apps_pb2.StatefulSetStatus) -> bool:
    old = sts.status
    collision = old.collision_count if old.HasField("collision_count") else None
    return (status.observed_generation > old.observed_generation
            or (status.replicas, status.ready_replicas, status.current_replicas,
                status.updated_replicas, status.available_replicas, status.current_revision,
                status.update_revision)
            != (old.replicas, old.ready_replicas, old.current_replicas, old.updated_replicas,
                old.available_replicas, old.current_revision, old.update_revision)
            or collision != status.collision_count)
