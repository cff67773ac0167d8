"""Rollout progress: the Progressing condition and the progress deadline.

A rollout is *complete* when every replica is updated and available; it is *progressing* when
the new ReplicaSet grew, an old one shrank, or more replicas became ready or available since
the last status; it has *timed out* when no progress was recorded for progressDeadlineSeconds
(x timing.scale). A Deployment that shows no progress is looked at again exactly when its
deadline would pass, so ProgressDeadlineExceeded appears on time without polling.
"""

from __future__ import annotations

from controlplane.controllers.deployment import conditions, strategy
from controlplane.controllers.deployment.conditions import (
    get_condition,
    new_condition,
    remove_condition,
    set_condition,
)
from controlplane.controllers.deployment.rollout import Rollout
from controlplane.controllers.deployment.sync import calculate_status
from kemu.api.meta import parse_time
from kemu.v1 import apps_pb2

ReplicaSet = apps_pb2.ReplicaSet


def deployment_complete(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus) -> bool:
    want = strategy.replicas(d)
    return (status.updated_replicas == want and status.replicas == want
            and status.available_replicas == want
            and status.observed_generation >= d.metadata.generation)


def deployment_progressing(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus) -> bool:
    old = d.status
    old_replicas_before = old.replicas - old.updated_replicas
    old_replicas_now = status.replicas - status.updated_replicas
    return (status.updated_replicas > old.updated_replicas
            or old_replicas_now < old_replicas_before
            or status.ready_replicas > old.ready_replicas
            or status.available_replicas > old.available_replicas)


def deadline_seconds(d: apps_pb2.Deployment, scale: float) -> float | None:
    """The progress deadline as kemu acts on it (scaled), or None without one."""
    seconds = strategy.progress_deadline_seconds(d)
    return None if seconds is None else seconds * scale


def deployment_timed_out(d: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus,
                         scale: float, now: float) -> bool:
    deadline = deadline_seconds(d, scale)
    if deadline is None:
        return False
    progressing = get_condition(status, conditions.PROGRESSING)
    if progressing is None or progressing.reason == conditions.NEW_RS_AVAILABLE:
        return False
    if progressing.reason == conditions.TIMED_OUT:
        return True
    return parse_time(progressing.last_update_time) + deadline < now


def replica_failures(all_rss: list[ReplicaSet | None],
                     new: ReplicaSet | None) -> list[apps_pb2.DeploymentCondition]:
    """ReplicaFailure conditions of the new ReplicaSet, else of any ReplicaSet."""
    found = []
    if new is not None:
        found = [conditions.from_replica_set_condition(c) for c in new.status.conditions
                 if c.type == conditions.REPLICA_FAILURE]
    if found:
        return found
    for rs in all_rss:
        if rs is not None:
            found += [conditions.from_replica_set_condition(c) for c in rs.status.conditions
                      if c.type == conditions.REPLICA_FAILURE]
    return found


def rollout_status(r: Rollout, all_rss: list[ReplicaSet | None],
                   new: ReplicaSet | None) -> apps_pb2.DeploymentStatus:
    """The status with Available, Progressing and ReplicaFailure brought up to date."""
    d = r.d
    now = r.now()
    status = calculate_status(all_rss, new, d, now)
    has_deadline = strategy.progress_deadline_seconds(d) is not None
    if not has_deadline:
        remove_condition(status, conditions.PROGRESSING)
    current = get_condition(d.status, conditions.PROGRESSING)
    complete_before = (status.replicas == status.updated_replicas and current is not None
                       and current.reason == conditions.NEW_RS_AVAILABLE)
    if has_deadline and not complete_before:
        if deployment_complete(d, status):
            message = f'Deployment "{d.metadata.name}" has successfully progressed.'
            if new is not None:
                message = f'ReplicaSet "{new.metadata.name}" has successfully progressed.'
            set_condition(status, new_condition(conditions.PROGRESSING, "True",
                                                conditions.NEW_RS_AVAILABLE, message, now))
        elif deployment_progressing(d, status):
            message = f'Deployment "{d.metadata.name}" is progressing.'
            if new is not None:
                message = f'ReplicaSet "{new.metadata.name}" is progressing.'
            progressing = new_condition(conditions.PROGRESSING, "True",
                                        conditions.REPLICA_SET_UPDATED, message, now)
            if current is not None:
                if current.status == "True":
                    progressing.last_transition_time = current.last_transition_time
                remove_condition(status, conditions.PROGRESSING)
            set_condition(status, progressing)
        elif deployment_timed_out(d, status, r.timing.scale, now):
            message = f'Deployment "{d.metadata.name}" has timed out progressing.'
            if new is not None:
                message = f'ReplicaSet "{new.metadata.name}" has timed out progressing.'
            set_condition(status, new_condition(conditions.PROGRESSING, "False",
                                                conditions.TIMED_OUT, message, now))
    failures = replica_failures(all_rss, new)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, conditions.REPLICA_FAILURE)
    return status


async def sync_rollout_status(r: Rollout, all_rss: list[ReplicaSet | None],
                              new: ReplicaSet | None) -> None:
    status = rollout_status(r, all_rss, new)
    if status == r.d.status:
        requeue_stuck(r, status)
        return
    r.d.status.CopyFrom(status)
    await r.save_status()


def requeue_stuck(r: Rollout, status: apps_pb2.DeploymentStatus) -> float | None:
    """Look at a Deployment again when its progress deadline would pass; the delay, if any."""
    d = r.d
    current = get_condition(d.status, conditions.PROGRESSING)
    deadline = deadline_seconds(d, r.timing.scale)
    if deadline is None or current is None:
        return None
    if deployment_complete(d, status) or current.reason == conditions.TIMED_OUT:
        return None
    # A moment past the deadline, so that the next sync finds it passed.
    after = max(0.0, parse_time(current.last_update_time) + deadline - r.now()) + 0.01
    r.requeue_after(after)
    return after
