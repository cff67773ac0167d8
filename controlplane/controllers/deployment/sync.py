"""The parts of a Deployment sync every strategy shares: finding or creating the new
ReplicaSet, scaling events (proportional scaling), cleaning up old ReplicaSets, and the status.

``sync`` is what runs for a paused Deployment or a scaling event: replica counts change, the
template does not roll out.
"""

from __future__ import annotations

import contextlib
import logging

from controlplane.controllers.deployment import conditions, strategy
from controlplane.controllers.deployment.conditions import new_condition, set_condition
from controlplane.controllers.deployment.replicasets import (
    POD_TEMPLATE_HASH,
    active,
    actual_replica_count,
    available_replica_count,
    desired_replicas_annotation,
    equal_ignore_hash,
    find_active_or_latest,
    find_new,
    find_old,
    is_saturated,
    new_rs_new_replicas,
    proportional_sizes,
    ready_replica_count,
    replica_count,
    spec_replicas,
)
from controlplane.controllers.deployment.revisions import (
    REVISION,
    by_revision,
    max_revision,
    set_deployment_revision,
    set_new_replica_set_annotations,
)
from controlplane.controllers.deployment.rollout import Rollout
from controlplane.controllers.events import NORMAL, WARNING
from controlplane.controllers.hashing import template_hash
from controlplane.controllers.podcontrol import controller_ref
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of
from kemu.client.interface import clone
from kemu.v1 import apps_pb2

log = logging.getLogger(__name__)

ReplicaSet = apps_pb2.ReplicaSet
NewAndOld = tuple[ReplicaSet | None, list[ReplicaSet]]


async def new_and_old_replica_sets(r: Rollout, rs_list: list[ReplicaSet], create: bool) -> NewAndOld:
    """The new ReplicaSet (created when ``create`` and missing) with revisions synced, and all
    old ReplicaSets."""
    _, olds = find_old(r.d, rs_list)
    new = await new_replica_set(r, rs_list, olds, create)
    return new, olds


async def new_replica_set(r: Rollout, rs_list: list[ReplicaSet], olds: list[ReplicaSet],
                          create: bool) -> ReplicaSet | None:
    d = r.d
    existing = find_new(d, rs_list)
    new_revision = max_revision(olds) + 1
    has_deadline = strategy.progress_deadline_seconds(d) is not None
    if existing is not None:
        copy = clone(existing)
        annotations_changed = set_new_replica_set_annotations(d, copy, new_revision, exists=True)
        if annotations_changed or copy.spec.min_ready_seconds != d.spec.min_ready_seconds:
            copy.spec.min_ready_seconds = d.spec.min_ready_seconds
            written = await r.client.update(copy)
            _replace(rs_list, written)
            return written
        needs_update = set_deployment_revision(d, copy.metadata.annotations.get(REVISION, ""))
        if has_deadline and conditions.get_condition(d.status, conditions.PROGRESSING) is None:
            set_condition(d.status, new_condition(
                conditions.PROGRESSING, "True", conditions.FOUND_NEW_RS,
                f'Found new replica set "{copy.metadata.name}"', r.now()))
            needs_update = True
        if needs_update:
            await r.save_status()
        return copy
    if not create:
        return None
    return await _create_new_replica_set(r, olds, new_revision, has_deadline)


def new_replica_set_object(d: apps_pb2.Deployment) -> ReplicaSet:
    """The ReplicaSet a Deployment's current template gets: ``<deployment>-<hash>``, the hash
    label on its labels, selector and template, controlled by the Deployment."""
    collisions = d.status.collision_count if d.status.HasField("collision_count") else None
    pod_hash = template_hash(d.spec.template, collisions)
    rs = ReplicaSet()
    rs.metadata.name = f"{d.metadata.name}-{pod_hash}"
    rs.metadata.namespace = d.metadata.namespace
    rs.metadata.owner_references.append(controller_ref(d))
    rs.spec.template.CopyFrom(d.spec.template)
    rs.spec.template.metadata.labels[POD_TEMPLATE_HASH] = pod_hash
    rs.metadata.labels.update(rs.spec.template.metadata.labels)
    rs.spec.selector.CopyFrom(d.spec.selector)
    rs.spec.selector.match_labels[POD_TEMPLATE_HASH] = pod_hash
    rs.spec.min_ready_seconds = d.spec.min_ready_seconds
    rs.spec.replicas = 0
    return rs


async def _create_new_replica_set(r: Rollout, olds: list[ReplicaSet], new_revision: int,
                                  has_deadline: bool) -> ReplicaSet | None:
    d = r.d
    rs = new_replica_set_object(d)
    count = new_rs_new_replicas(d, [*olds, rs], rs)
    rs.spec.replicas = count
    set_new_replica_set_annotations(d, rs, new_revision, exists=False)
    already_existed = False
    try:
        created = await r.client.create(rs)
    except ApiError as exc:
        if exc.code == Code.ALREADY_EXISTS:
            found = r.replica_sets.get_by_name(rs.metadata.namespace, rs.metadata.name)
            if found is None:
                raise
            ref = controller_of(found)
            if ref is not None and ref.uid == d.metadata.uid and \
                    equal_ignore_hash(d.spec.template, found.spec.template):
                created, already_existed = found, True
            else:
                await _bump_collision_count(r)
                raise
        elif exc.code == Code.PERMISSION_DENIED and "being terminated" in exc.message:
            raise
        else:
            message = f'Failed to create new replica set "{rs.metadata.name}": {exc}'
            if has_deadline:
                set_condition(d.status, new_condition(conditions.PROGRESSING, "False",
                                                      conditions.FAILED_RS_CREATE, message,
                                                      r.now()))
                with contextlib.suppress(ApiError):
                    await r.save_status()
            r.event(WARNING, conditions.FAILED_RS_CREATE, message)
            raise
    if not already_existed and count > 0:
        r.event(NORMAL, "ScalingReplicaSet",
                f"Scaled up replica set {created.metadata.name} from 0 to {count}")
    needs_update = set_deployment_revision(d, str(new_revision))
    if not already_existed and has_deadline:
        set_condition(d.status, new_condition(
            conditions.PROGRESSING, "True", conditions.NEW_REPLICA_SET,
            f'Created new replica set "{created.metadata.name}"', r.now()))
        needs_update = True
    if needs_update:
        await r.save_status()
    return created


def _replace(rs_list: list[ReplicaSet], written: ReplicaSet) -> None:
    """Put a ReplicaSet just written in place of its cached copy for the rest of the sync."""
    for i, rs in enumerate(rs_list):
        if rs.metadata.uid == written.metadata.uid:
            rs_list[i] = written


async def _bump_collision_count(r: Rollout) -> None:
    d = r.d
    before = d.status.collision_count if d.status.HasField("collision_count") else 0
    d.status.collision_count = before + 1
    try:
        await r.save_status()
    except ApiError as exc:
        log.debug("deployment %s: collision count not saved: %s", d.metadata.name, exc)
        return
    log.info("found a hash collision for deployment %s/%s - bumping collisionCount (%d->%d) "
             "to resolve it", d.metadata.namespace, d.metadata.name, before, before + 1)


async def scale_and_record(r: Rollout, rs: ReplicaSet, new_scale: int) -> tuple[bool, ReplicaSet]:
    """Scale ``rs`` to ``new_scale`` if it is not that size already."""
    if spec_replicas(rs) == new_scale:
        return False, rs
    return await r.scale_replica_set(rs, new_scale)


async def scale(r: Rollout, new: ReplicaSet | None, olds: list[ReplicaSet]) -> None:
    """Apply a change of spec.replicas: all of it to the only active ReplicaSet, or, during a
    rolling update, proportionally to every active ReplicaSet."""
    d = r.d
    want = strategy.replicas(d)
    only = find_active_or_latest(new, olds)
    if only is not None:
        if spec_replicas(only) != want:
            await scale_and_record(r, only, want)
        return
    if is_saturated(d, new):
        for old in active(olds):
            await scale_and_record(r, old, 0)
        return
    if strategy.is_rolling_update(d):
        running = active([*olds, new])
        ordered, sizes = proportional_sizes(d, running)
        for rs in ordered:
            await r.scale_replica_set(rs, sizes[rs.metadata.name])


async def cleanup(r: Rollout, olds: list[ReplicaSet]) -> None:
    """Delete the oldest old ReplicaSets beyond revisionHistoryLimit that are fully scaled
    down and observed so."""
    d = r.d
    limit = strategy.revision_history_limit(d)
    if limit is None:
        return
    cleanable = [rs for rs in olds if not rs.metadata.deletion_timestamp]
    surplus = len(cleanable) - limit
    if surplus <= 0:
        return
    failure: ApiError | None = None
    for rs in by_revision(cleanable)[:surplus]:
        if rs.status.replicas != 0 or spec_replicas(rs) != 0 or \
                rs.metadata.generation > rs.status.observed_generation or \
                rs.metadata.deletion_timestamp:
            continue
        log.info("deployment %s/%s: deleting old replica set %s", d.metadata.namespace,
                 d.metadata.name, rs.metadata.name)
        try:
            await r.client.delete(ReplicaSet, rs.metadata.name, rs.metadata.namespace,
                                  precondition_uid=rs.metadata.uid)
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND:
                failure = failure or exc
    if failure is not None:
        raise failure


def calculate_status(all_rss: list[ReplicaSet | None], new: ReplicaSet | None,
                     d: apps_pb2.Deployment, now: float) -> apps_pb2.DeploymentStatus:
    available = available_replica_count(all_rss)
    total = replica_count(all_rss)
    status = apps_pb2.DeploymentStatus(
        observed_generation=d.metadata.generation,
        replicas=actual_replica_count(all_rss),
        updated_replicas=actual_replica_count([new]),
        ready_replicas=ready_replica_count(all_rss),
        available_replicas=available,
        unavailable_replicas=max(0, total - available))
    if d.status.HasField("collision_count"):
        status.collision_count = d.status.collision_count
    status.conditions.extend(d.status.conditions)
    if available >= strategy.replicas(d) - strategy.max_unavailable(d):
        set_condition(status, new_condition(conditions.AVAILABLE, "True",
                                            conditions.MINIMUM_REPLICAS_AVAILABLE,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition(conditions.AVAILABLE, "False",
                                            conditions.MINIMUM_REPLICAS_UNAVAILABLE,
                                            "Deployment does not have minimum availability.",
                                            now))
    return status


async def sync_deployment_status(r: Rollout, all_rss: list[ReplicaSet | None],
                                 new: ReplicaSet | None) -> None:
    status = calculate_status(all_rss, new, r.d, r.now())
    if status == r.d.status:
        return
    r.d.status.CopyFrom(status)
    await r.save_status()


async def sync(r: Rollout, rs_list: list[ReplicaSet]) -> None:
    """A scaling event or a paused Deployment: scale, clean up when paused, write status."""
    new, olds = await new_and_old_replica_sets(r, rs_list, create=False)
    await scale(r, new, olds)
    if r.d.spec.paused:
        await cleanup(r, olds)
    # Scaling wrote the ReplicaSets; the status counts what they report, which the cache
    # shows as it is updated (the next sync corrects any lag).
    await sync_deployment_status(r, [*olds, new], new)


async def sync_status_only(r: Rollout, rs_list: list[ReplicaSet]) -> None:
    new, olds = await new_and_old_replica_sets(r, rs_list, create=False)
    await sync_deployment_status(r, [*olds, new], new)


async def check_paused_conditions(r: Rollout) -> None:
    """Progressing becomes Unknown with DeploymentPaused / DeploymentResumed, so that time
    spent paused never counts against the progress deadline."""
    d = r.d
    if strategy.progress_deadline_seconds(d) is None:
        return
    current = conditions.get_condition(d.status, conditions.PROGRESSING)
    if current is not None and current.reason == conditions.TIMED_OUT:
        return
    paused_recorded = current is not None and current.reason == conditions.PAUSED
    if d.spec.paused and not paused_recorded:
        set_condition(d.status, new_condition(conditions.PROGRESSING, "Unknown",
                                              conditions.PAUSED, "Deployment is paused",
                                              r.now()))
    elif not d.spec.paused and paused_recorded:
        set_condition(d.status, new_condition(conditions.PROGRESSING, "Unknown",
                                              conditions.RESUMED, "Deployment is resumed",
                                              r.now()))
    else:
        return
    await r.save_status()


async def is_scaling_event(r: Rollout, rs_list: list[ReplicaSet]) -> bool:
    """spec.replicas differs from the desired-replicas annotation of an active ReplicaSet."""
    new, olds = await new_and_old_replica_sets(r, rs_list, create=False)
    if new is None:
        return False
    want = strategy.replicas(r.d)
    for rs in active([*olds, new]):
        desired = desired_replicas_annotation(rs)
        if desired is not None and desired != want:
            return True
    return False
