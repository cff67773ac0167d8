"""Deployment conditions: the reasons Kubernetes uses and how a condition is set.

Setting a condition with the same status and reason changes nothing (its lastUpdateTime stays,
which is what the progress deadline is measured from); a new reason with the same status keeps
lastTransitionTime.
"""

from __future__ import annotations

from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2, core_pb2

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"

MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"

Status = apps_pb2.DeploymentStatus
Condition = apps_pb2.DeploymentCondition


def new_condition(kind: str, status: str, reason: str, message: str,
                  now: float | None = None) -> Condition:
    stamp = now_rfc3339(now)
    return Condition(type=kind, status=status, reason=reason, message=message,
                     last_update_time=stamp, last_transition_time=stamp)


def get_condition(status: Status, kind: str) -> Condition | None:
    for c in status.conditions:
        if c.type == kind:
            return c
    return None


def set_condition(status: Status, condition: Condition) -> None:
    current = get_condition(status, condition.type)
    if current is not None and current.status == condition.status and \
            current.reason == condition.reason:
        return
    if current is not None and current.status == condition.status:
        condition.last_transition_time = current.last_transition_time
    remove_condition(status, condition.type)
    status.conditions.append(condition)


def remove_condition(status: Status, kind: str) -> None:
    kept = [c for c in status.conditions if c.type != kind]
    if len(kept) != len(status.conditions):
        del status.conditions[:]
        status.conditions.extend(kept)


def from_replica_set_condition(c: core_pb2.ReplicaSetCondition) -> Condition:
    return Condition(type=c.type, status=c.status, reason=c.reason, message=c.message,
                     last_update_time=c.last_transition_time,
                     last_transition_time=c.last_transition_time)
