"""The RollingUpdate strategy: grow the new ReplicaSet within maxSurge, shrink the old ones
within maxUnavailable, one step per sync, each step waiting for the ReplicaSet controller to
report availability.

Old ReplicaSets' unhealthy replicas are scaled away first (they cost no availability), so a
broken old revision never blocks a rollout.
"""

from __future__ import annotations

from controlplane.controllers.deployment import strategy
from controlplane.controllers.deployment.progress import (
    deployment_complete,
    sync_rollout_status,
)
from controlplane.controllers.deployment.replicasets import (
    active,
    by_creation,
    new_rs_new_replicas,
    replica_count,
    settled_available_count,
    spec_replicas,
)
from controlplane.controllers.deployment.rollout import Rollout
from controlplane.controllers.deployment.sync import (
    cleanup,
    new_and_old_replica_sets,
    scale_and_record,
)
from kemu.v1 import apps_pb2

ReplicaSet = apps_pb2.ReplicaSet


async def rollout_rolling(r: Rollout, rs_list: list[ReplicaSet]) -> None:
    new, olds = await new_and_old_replica_sets(r, rs_list, create=True)
    assert new is not None
    all_rss: list[ReplicaSet | None] = [*olds, new]
    if await reconcile_new_replica_set(r, all_rss, new):
        await sync_rollout_status(r, all_rss, new)
        return
    if await reconcile_old_replica_sets(r, all_rss, active(olds), new):
        await sync_rollout_status(r, all_rss, new)
        return
    if deployment_complete(r.d, r.d.status):
        await cleanup(r, olds)
    await sync_rollout_status(r, all_rss, new)


async def reconcile_new_replica_set(r: Rollout, all_rss: list[ReplicaSet | None],
                                    new: ReplicaSet) -> bool:
    want = strategy.replicas(r.d)
    if spec_replicas(new) == want:
        return False
    if spec_replicas(new) > want:
        scaled, _ = await scale_and_record(r, new, want)
        return scaled
    scaled, _ = await scale_and_record(r, new, new_rs_new_replicas(r.d, all_rss, new))
    return scaled


def max_scale_down(d: apps_pb2.Deployment, all_rss: list[ReplicaSet | None],
                   new: ReplicaSet) -> int:
    """How many old replicas may go now without breaking minimum availability, counting
    the new ReplicaSet's not-yet-available replicas as unavailable."""
    min_available = strategy.replicas(d) - strategy.max_unavailable(d)
    new_unavailable = spec_replicas(new) - new.status.available_replicas
    return replica_count(all_rss) - min_available - new_unavailable


async def reconcile_old_replica_sets(r: Rollout, all_rss: list[ReplicaSet | None],
                                     olds: list[ReplicaSet], new: ReplicaSet) -> bool:
    if replica_count(olds) == 0:
        return False
    allowed = max_scale_down(r.d, all_rss, new)
    if allowed <= 0:
        return False
    olds, cleaned = await cleanup_unhealthy_replicas(r, olds, allowed)
    scaled = await scale_down_old_replica_sets(r, [*olds, new], olds)
    return cleaned + scaled > 0


async def cleanup_unhealthy_replicas(r: Rollout, olds: list[ReplicaSet],
                                     allowed: int) -> tuple[list[ReplicaSet], int]:
    """Scale old ReplicaSets down by their unavailable replicas, oldest first (the
    ReplicaSet controller deletes not-ready pods first)."""
    olds = by_creation(olds)
    total = 0
    for i, rs in enumerate(olds):
        if total >= allowed:
            break
        # No unhealthy replicas. (A status still counting replicas from before the last
        # scale-down can show more available than wanted: Kubernetes errors out and retries
        # there; skipping it is the same decision without the error.)
        if spec_replicas(rs) == 0 or spec_replicas(rs) <= rs.status.available_replicas:
            continue
        count = min(allowed - total, spec_replicas(rs) - rs.status.available_replicas)
        _, olds[i] = await scale_and_record(r, rs, spec_replicas(rs) - count)
        total += count
    return olds, total


async def scale_down_old_replica_sets(r: Rollout, all_rss: list[ReplicaSet | None],
                                      olds: list[ReplicaSet]) -> int:
    """Scale old ReplicaSets down, oldest first, while more than the minimum is available."""
    min_available = strategy.replicas(r.d) - strategy.max_unavailable(r.d)
    available = settled_available_count(all_rss)
    if available <= min_available:
        return 0
    budget = available - min_available
    total = 0
    for rs in by_creation(olds):
        if total >= budget:
            break
        if spec_replicas(rs) == 0:
            continue
        count = min(spec_replicas(rs), budget - total)
        await scale_and_record(r, rs, spec_replicas(rs) - count)
        total += count
    return total
