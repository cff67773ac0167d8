"""The Recreate strategy: scale every old ReplicaSet to 0, wait until none of their pods is
left (terminating ones included), and only then create or scale up the new ReplicaSet."""

from __future__ import annotations

from controlplane.controllers.deployment import strategy
from controlplane.controllers.deployment.progress import (
    deployment_complete,
    sync_rollout_status,
)
from controlplane.controllers.deployment.replicasets import (
    active,
    actual_replica_count,
    spec_replicas,
)
from controlplane.controllers.deployment.rollout import Rollout
from controlplane.controllers.deployment.sync import (
    cleanup,
    new_and_old_replica_sets,
    scale_and_record,
)
from kemu.api.pods import FAILED, SUCCEEDED
from kemu.v1 import apps_pb2, core_pb2

ReplicaSet = apps_pb2.ReplicaSet
PodMap = dict[str, list[core_pb2.Pod]]


async def rollout_recreate(r: Rollout, rs_list: list[ReplicaSet], pods: PodMap) -> None:
    # The new ReplicaSet is not created yet, so nothing scales up before the old ones are down.
    new, olds = await new_and_old_replica_sets(r, rs_list, create=False)
    all_rss: list[ReplicaSet | None] = [*olds, new]
    if await scale_down_old_replica_sets(r, active(olds)):
        await sync_rollout_status(r, all_rss, new)
        return
    if old_pods_running(new, olds, pods):
        await sync_rollout_status(r, all_rss, new)
        return
    if new is None:
        new, olds = await new_and_old_replica_sets(r, rs_list, create=True)
        all_rss = [*olds, new]
    assert new is not None
    await scale_and_record(r, new, strategy.replicas(r.d))
    if deployment_complete(r.d, r.d.status):
        await cleanup(r, olds)
    await sync_rollout_status(r, all_rss, new)


async def scale_down_old_replica_sets(r: Rollout, olds: list[ReplicaSet]) -> bool:
    scaled = False
    for rs in olds:
        if spec_replicas(rs) == 0:
            continue
        changed, _ = await scale_and_record(r, rs, 0)
        scaled = scaled or changed
    return scaled


def old_pods_running(new: ReplicaSet | None, olds: list[ReplicaSet], pods: PodMap) -> bool:
    """An old ReplicaSet reports replicas, or a pod of one is not finished (even terminating)."""
    if actual_replica_count(olds) > 0:
        return True
    for rs_uid, owned in pods.items():
        if new is not None and new.metadata.uid == rs_uid:
            continue
        if any(p.status.phase not in (FAILED, SUCCEEDED) for p in owned):
            return True
    return False
