"""What one node needs from a DaemonSet: a pod created, pods deleted, or nothing
(Kubernetes' ``podsShouldBeOnNode``).

- A node that should run the daemon and has no pod gets one.
- A node that may keep its pods loses the failed ones (with per-node backoff, so a pod the
  kubelet keeps rejecting is not replaced in a hot loop) and the succeeded ones; of the rest only
  the oldest stays, or, while surging, the oldest old pod and the oldest new pod until the new
  one is available (or the old one is no longer ready).
- A node that may not keep its pods loses all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controlplane.controllers.daemonset.backoff import Backoff
from controlplane.controllers.daemonset.eligibility import Eligibility
from controlplane.controllers.daemonset.status import oldest_first
from controlplane.controllers.daemonset.template import CONTROLLER_REVISION_HASH
from kemu.api.pods import (
    FAILED,
    SUCCEEDED,
    ReadySince,
    is_available,
    is_ready,
    stamped_ready_since,
)
from kemu.v1 import core_pb2

NORMAL = "Normal"
WARNING = "Warning"
FAILED_DAEMON_POD = "FailedDaemonPod"
SUCCEEDED_DAEMON_POD = "SucceededDaemonPod"


@dataclass
class NodeDecision:
    create: bool = False
    delete: list[core_pb2.Pod] = field(default_factory=list)
    # (event type, reason, message) to record on the DaemonSet.
    events: list[tuple[str, str, str]] = field(default_factory=list)
    # Look again after this many seconds (a failed pod waiting out its backoff).
    retry_after: float | None = None


def pods_should_be_on_node(node_name: str, eligibility: Eligibility,
                           pods: Sequence[core_pb2.Pod], revision_hash: str, surge: bool,
                           min_ready_seconds: float, backoff: Backoff, backoff_key: str,
                           now: float, monotonic_now: float,
                           ready_since: ReadySince = stamped_ready_since) -> NodeDecision:
    """``pods``: the DaemonSet's pods targeting this node; ``min_ready_seconds`` is scaled."""
    decision = NodeDecision()
    if eligibility.should_run and not pods:
        decision.create = True
        return decision
    if eligibility.should_continue:
        running = _prune_finished(node_name, pods, backoff, backoff_key, monotonic_now,
                                  decision)
        if not surge:
            decision.delete.extend(oldest_first(running)[1:])
            return decision
        if len(running) <= 1:
            if not running and eligibility.should_run:
                decision.create = True
            return decision
        _prune_surge(running, revision_hash, min_ready_seconds, now, decision, ready_since)
        return decision
    decision.delete.extend(p for p in pods if not p.metadata.deletion_timestamp)
    return decision


def _prune_finished(node_name: str, pods: Sequence[core_pb2.Pod], backoff: Backoff,
                    backoff_key: str, monotonic_now: float,
                    decision: NodeDecision) -> list[core_pb2.Pod]:
    running: list[core_pb2.Pod] = []
    for pod in pods:
        if pod.metadata.deletion_timestamp:
            continue
        where = f"{pod.metadata.namespace}/{pod.metadata.name} on node {node_name}"
        if pod.status.phase == FAILED:
            if backoff.in_backoff_since_update(backoff_key, monotonic_now):
                delay = backoff.get(backoff_key)
                decision.retry_after = delay if decision.retry_after is None \
                    else min(delay, decision.retry_after)
                continue
            backoff.next(backoff_key, monotonic_now)
            decision.events.append((WARNING, FAILED_DAEMON_POD,
                                    f"Found failed daemon pod {where}, will try to kill it"))
            decision.delete.append(pod)
        elif pod.status.phase == SUCCEEDED:
            decision.events.append((NORMAL, SUCCEEDED_DAEMON_POD,
                                    f"Found succeeded daemon pod {where}, will try to delete it"))
            decision.delete.append(pod)
        else:
            running.append(pod)
    return running


def _prune_surge(running: list[core_pb2.Pod], revision_hash: str, min_ready_seconds: float,
                 now: float, decision: NodeDecision,
                 ready_since: ReadySince = stamped_ready_since) -> None:
    """Keep at most the oldest new and the oldest old pod; drop the old one once the new one
    is available, or at once if the old one is not ready."""
    oldest_new: core_pb2.Pod | None = None
    oldest_old: core_pb2.Pod | None = None
    for pod in oldest_first(running):
        if pod.metadata.labels.get(CONTROLLER_REVISION_HASH) == revision_hash:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        decision.delete.append(pod)
    if oldest_new is None or oldest_old is None:
        return
    if not is_ready(oldest_old) or is_available(oldest_new, min_ready_seconds, now,
                                                ready_since):
        decision.delete.append(oldest_old)
