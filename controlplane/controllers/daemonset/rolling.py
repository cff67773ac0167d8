"""The RollingUpdate strategy: which old pods to delete and which nodes get a new pod now,
within maxUnavailable (delete first) or maxSurge (create first).

Without surge, old pods are deleted while fewer than maxUnavailable nodes lack an available
pod (an old pod that is not available anyway is always replaced); the manage loop then creates
the new pods. With surge, a new pod is created beside an available old one on up to maxSurge
nodes at a time, and the old one is deleted once the new one is available; a node whose old pod
is not available gets its new pod at once. Pods being deleted count for nothing, so an update
keeps moving when nodes are down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controlplane.controllers.daemonset.template import is_pod_updated
from kemu.api.pods import ReadySince, is_available, stamped_ready_since
from kemu.v1 import core_pb2


@dataclass
class RollingPlan:
    delete: list[core_pb2.Pod] = field(default_factory=list)
    create_on: list[str] = field(default_factory=list)


def updated_pods_on_node(pods: Sequence[core_pb2.Pod], revision_hash: str,
                         generation: int | None
                         ) -> tuple[core_pb2.Pod | None, core_pb2.Pod | None, bool]:
    """(new pod, old pod, ok): ok is False when a node has two new or two old live pods."""
    new: core_pb2.Pod | None = None
    old: core_pb2.Pod | None = None
    for pod in pods:
        if pod.metadata.deletion_timestamp:
            continue
        if is_pod_updated(pod, revision_hash, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def plan_rolling_update(node_to_pods: Mapping[str, Sequence[core_pb2.Pod]],
                        should_run: Callable[[str], bool], desired: int, max_surge: int,
                        max_unavailable: int, revision_hash: str, generation: int | None,
                        min_ready_seconds: float, now: float,
                        ready_since: ReadySince = stamped_ready_since) -> RollingPlan:
    """``node_to_pods`` has an entry (maybe empty) for every node that should run the daemon;
    ``should_run(node)`` answers for any node name; ``min_ready_seconds`` is scaled."""
    if desired > 0 and max_unavailable == 0 and max_surge == 0:
        max_unavailable = 1  # an impossible configuration falls back to Kubernetes' default

    def available(pod: core_pb2.Pod) -> bool:
        return is_available(pod, min_ready_seconds, now, ready_since)

    if max_surge == 0:
        return _without_surge(node_to_pods, max_unavailable, revision_hash, generation,
                              available)
    return _with_surge(node_to_pods, should_run, desired, max_surge, revision_hash, generation,
                       available)


def _without_surge(node_to_pods: Mapping[str, Sequence[core_pb2.Pod]], max_unavailable: int,
                   revision_hash: str, generation: int | None,
                   available: Callable[[core_pb2.Pod], bool]) -> RollingPlan:
    unavailable = 0
    replacements: list[core_pb2.Pod] = []
    candidates: list[core_pb2.Pod] = []
    for node_name in sorted(node_to_pods):
        new, old, ok = updated_pods_on_node(node_to_pods[node_name], revision_hash, generation)
        if not ok or (new is None) == (old is None):
            # Excess pods, no pod, or both an old and a new one: the manage loop acts here.
            unavailable += 1
        elif new is not None:
            if not available(new):
                unavailable += 1
        elif old is not None:
            if not available(old):
                replacements.append(old)
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
    room = max(0, min(max_unavailable - unavailable, len(candidates)))
    return RollingPlan(delete=replacements + candidates[:room])


def _with_surge(node_to_pods: Mapping[str, Sequence[core_pb2.Pod]],
                should_run: Callable[[str], bool], desired: int, max_surge: int,
                revision_hash: str, generation: int | None,
                available: Callable[[core_pb2.Pod], bool]) -> RollingPlan:
    plan = RollingPlan()
    not_wanted: list[core_pb2.Pod] = []  # available old pods on nodes the daemon is leaving
    candidates: list[str] = []
    allowed: list[str] = []
    surging = 0
    available_count = 0
    for node_name in sorted(node_to_pods):
        new, old, ok = updated_pods_on_node(node_to_pods[node_name], revision_hash, generation)
        if not ok:
            surging += 1
            continue
        if old is not None:
            available_count += available(old)
        elif new is not None:
            available_count += available(new)
        if old is None:
            continue
        if new is None:
            if not available(old):
                if should_run(node_name):
                    allowed.append(node_name)
                else:
                    plan.delete.append(old)
                continue
            if not should_run(node_name):
                not_wanted.append(old)
                continue
            if surging < max_surge:
                candidates.append(node_name)
            continue
        if not available(new):
            surging += 1
            continue
        plan.delete.append(old)
    # With surge the owner expects full availability: leave a node only once enough pods
    # elsewhere are available.
    deletable = min(available_count - desired, len(not_wanted))
    if deletable > 0:
        plan.delete.extend(not_wanted[:deletable])
    room = max(0, min(max_surge - surging, len(candidates)))
    plan.create_on = allowed + candidates[:room]
    return plan
