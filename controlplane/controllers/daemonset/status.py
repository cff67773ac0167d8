"""The numbers in a DaemonSet's status, counted as Kubernetes counts them.

Per node that should run the daemon (``desiredNumberScheduled``): it is *current* when a daemon
pod is there (bound or pinned to it), and the oldest such pod decides *ready*, *available*
(ready for ``minReadySeconds``) and *updated* (carries the current revision hash). A node that
should not run the daemon but has one counts as *misscheduled*. ``numberUnavailable`` is
desired minus available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from controlplane.controllers.daemonset.template import is_pod_updated
from kemu.api.meta import parse_time
from kemu.api.pods import ReadySince, is_available, is_ready, stamped_ready_since
from kemu.v1 import apps_pb2, core_pb2


@dataclass(frozen=True)
class DaemonSetCounts:
    desired_number_scheduled: int = 0
    current_number_scheduled: int = 0
    number_misscheduled: int = 0
    number_ready: int = 0
    updated_number_scheduled: int = 0
    number_available: int = 0
    number_unavailable: int = 0

    def differs_from(self, status: apps_pb2.DaemonSetStatus) -> bool:
        return (self.desired_number_scheduled, self.current_number_scheduled,
                self.number_misscheduled, self.number_ready, self.updated_number_scheduled,
                self.number_available, self.number_unavailable) != (
            status.desired_number_scheduled, status.current_number_scheduled,
            status.number_misscheduled, status.number_ready, status.updated_number_scheduled,
            status.number_available, status.number_unavailable)

    def write_to(self, status: apps_pb2.DaemonSetStatus) -> None:
        status.desired_number_scheduled = self.desired_number_scheduled
        status.current_number_scheduled = self.current_number_scheduled
        status.number_misscheduled = self.number_misscheduled
        status.number_ready = self.number_ready
        status.updated_number_scheduled = self.updated_number_scheduled
        status.number_available = self.number_available
        status.number_unavailable = self.number_unavailable


def pod_order(pod: core_pb2.Pod) -> tuple[bool, float, str]:
    """Bound pods first, then oldest first, then by name (``podByCreationTimestampAndPhase``)."""
    return (not pod.spec.node_name, parse_time(pod.metadata.creation_timestamp),
            pod.metadata.name)


def oldest_first(pods: Iterable[core_pb2.Pod]) -> list[core_pb2.Pod]:
    return sorted(pods, key=pod_order)


def count_status(nodes: Iterable[core_pb2.Node], should_run: Callable[[core_pb2.Node], bool],
                 node_to_pods: Mapping[str, Sequence[core_pb2.Pod]], revision_hash: str,
                 generation: int | None, min_ready_seconds: float,
                 now: float, ready_since: ReadySince = stamped_ready_since) -> DaemonSetCounts:
    """``min_ready_seconds`` is already scaled by the timing profile."""
    desired = current = misscheduled = ready = updated = available = 0
    for node in nodes:
        pods = node_to_pods.get(node.metadata.name) or ()
        if should_run(node):
            desired += 1
            if not pods:
                continue
            current += 1
            pod = oldest_first(pods)[0]
            if is_ready(pod):
                ready += 1
                if is_available(pod, min_ready_seconds, now, ready_since):
                    available += 1
            if is_pod_updated(pod, revision_hash, generation):
                updated += 1
        elif pods:
            misscheduled += 1
    return DaemonSetCounts(desired, current, misscheduled, ready, updated, available,
                           desired - available)
