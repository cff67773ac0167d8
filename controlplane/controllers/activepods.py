"""Which pods a ReplicaSet deletes first when it has too many: Kubernetes' ``ActivePodsWithRanks``.

The pods that cost least to lose go first, so that a scale-down never removes a serving pod
while a useless one is kept:

1. not yet on a node before on a node;
2. Pending before Unknown before Running;
3. not ready before ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` before higher;
5. pods on a node shared with more pods of the same family (``rank``) before the others;
6. ready for less time before ready for longer;
7. more container restarts before fewer;
8. newer before older.

As in Kubernetes (LogarithmicScaleDown), the times in 6 and 8 are compared on a base-2
logarithmic scale of their age, so pods of similar age tie and are then ordered by UID: a
scale-down does not always pick the very newest, which spreads deletions over the pods' ages.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Sequence

from kemu.api.meta import parse_time
from kemu.api.pods import condition, is_active, is_ready
from kemu.v1 import core_pb2

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT32 = (-(2 ** 31), 2 ** 31 - 1)


def deletion_cost(pod: core_pb2.Pod) -> int:
    """The pod-deletion-cost annotation; absent or not an int32 counts as 0."""
    raw = pod.metadata.annotations.get(DELETION_COST_ANNOTATION, "")
    try:
        value = int(raw.strip())
    except ValueError:
        return 0
    return value if _INT32[0] <= value <= _INT32[1] else 0


def ready_since(pod: core_pb2.Pod) -> float:
    """When the pod last became ready (seconds since the epoch); 0.0 if not ready or unknown."""
    if not is_ready(pod):
        return 0.0
    ready = condition(pod, "Ready")
    return parse_time(ready.last_transition_time) if ready is not None else 0.0


def max_restarts(pod: core_pb2.Pod) -> tuple[int, int]:
    """The highest restart count of a regular container and of a sidecar (restartable init)."""
    sidecars = {c.name for c in pod.spec.init_containers if c.restart_policy == "Always"}
    regular = max((s.restart_count for s in pod.status.container_statuses), default=0)
    sidecar = max((s.restart_count for s in pod.status.init_container_statuses
                   if s.name in sidecars), default=0)
    return regular, sidecar


def _after_or_zero(t1: float, t2: float) -> bool:
    """t1 after t2, with a missing time counting as after any real one."""
    if not t1 or not t2:
        return not t1
    return t1 > t2


def _log_rank(moment: float, now: float) -> int:
    age_ns = (now - moment) * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _younger_first(t1: float, t2: float, uid1: str, uid2: str, now: float) -> bool:
    if not now or not t1 or not t2:
        return _after_or_zero(t1, t2)
    difference = _log_rank(t1, now) - _log_rank(t2, now)
    if difference == 0:
        return uid1 < uid2
    return difference < 0


def goes_before(a: core_pb2.Pod, b: core_pb2.Pod, rank_a: int, rank_b: int, now: float) -> bool:
    """True when ``a`` should be deleted before ``b``."""
    node_a, node_b = a.spec.node_name, b.spec.node_name
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDINAL.get(a.status.phase, 0)
    phase_b = _PHASE_ORDINAL.get(b.status.phase, 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    ready_a, ready_b = is_ready(a), is_ready(b)
    if ready_a != ready_b:
        return not ready_a
    cost_a, cost_b = deletion_cost(a), deletion_cost(b)
    if cost_a != cost_b:
        return cost_a < cost_b
    if rank_a != rank_b:
        return rank_a > rank_b
    if ready_a and ready_b:
        since_a, since_b = ready_since(a), ready_since(b)
        if since_a != since_b:
            return _younger_first(since_a, since_b, a.metadata.uid, b.metadata.uid, now)
    restarts_a, restarts_b = max_restarts(a), max_restarts(b)
    if restarts_a[0] != restarts_b[0]:
        return restarts_a[0] > restarts_b[0]
    if restarts_a[1] != restarts_b[1]:
        return restarts_a[1] > restarts_b[1]
    created_a = parse_time(a.metadata.creation_timestamp)
    created_b = parse_time(b.metadata.creation_timestamp)
    if created_a != created_b:
        return _younger_first(created_a, created_b, a.metadata.uid, b.metadata.uid, now)
    return False


def colocation_ranks(pods: Sequence[core_pb2.Pod], related: Iterable[core_pb2.Pod]) -> list[int]:
    """For each pod, how many active related pods share its node (unscheduled ones share "")."""
    per_node = Counter(p.spec.node_name for p in related if is_active(p))
    return [per_node[p.spec.node_name] for p in pods]


def deletion_order(pods: Sequence[core_pb2.Pod], related: Iterable[core_pb2.Pod],
                   now: float) -> list[core_pb2.Pod]:
    """``pods`` sorted so that the first ones are the ones to delete."""
    ranks = colocation_ranks(pods, related)
    indexed = list(range(len(pods)))

    def compare(i: int, j: int) -> int:
        if goes_before(pods[i], pods[j], ranks[i], ranks[j], now):
            return -1
        if goes_before(pods[j], pods[i], ranks[j], ranks[i], now):
            return 1
        return 0

    indexed.sort(key=functools.cmp_to_key(compare))
    return [pods[i] for i in indexed]


def pods_to_delete(pods: Sequence[core_pb2.Pod], related: Iterable[core_pb2.Pod], count: int,
                   now: float) -> list[core_pb2.Pod]:
    """The ``count`` pods to delete from ``pods`` (all of them need no ranking)."""
    if count >= len(pods):
        return list(pods)
    return deletion_order(pods, related, now)[:count]
