"""What the scheduling plugins share: a filter's verdict (``Status``) and the facts about the pod
being scheduled, worked out once per attempt (``PodContext``, kube-scheduler's CycleState)."""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.scheduler.nodeaffinity import PreferredTerm, RequiredAffinity, preferred_terms
from controlplane.scheduler.resources import (
    Resources,
    host_ports,
    non_zero_requests,
    pod_requests,
)
from controlplane.scheduler.spreading import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
    Constraint,
    FilterState,
    pod_constraints,
    system_default_constraints,
)
from kemu.api.labels import Selector
from kemu.api.meta import key_of
from kemu.v1 import core_pb2

# A node that fails with this code might fit once lower-priority pods are preempted ...
UNSCHEDULABLE = "Unschedulable"
# ... and with this one it cannot, whatever is removed from it.
UNRESOLVABLE = "UnschedulableAndUnresolvable"


@dataclass(frozen=True)
class Status:
    code: str
    reasons: tuple[str, ...]
    plugin: str = ""

    def message(self) -> str:
        return ", ".join(self.reasons)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(UNRESOLVABLE, reasons, plugin)


@dataclass
class PodContext:
    pod: core_pb2.Pod
    key: str
    requests: Resources
    non_zero_cpu: int
    non_zero_memory: int
    ports: list[tuple[str, str, int]]
    tolerations: list[core_pb2.Toleration]
    required: RequiredAffinity
    preferred: tuple[PreferredTerm, ...]
    priority: int
    # PodTopologySpread: the pod's own DoNotSchedule constraints, and the ScheduleAnyway ones
    # (its own, or the system defaults over its default selector); whether they are its own.
    hard_spread: tuple[Constraint, ...] = ()
    soft_spread: tuple[Constraint, ...] = ()
    own_spread: bool = False
    spread_filter: FilterState | None = None

    @staticmethod
    def of(pod: core_pb2.Pod, default_selector: Selector | None = None) -> PodContext:
        """``default_selector``: the pod's system-default spreading selector, if it has one."""
        cpu, memory = non_zero_requests(pod)
        own = bool(pod.spec.topology_spread_constraints)
        if own:
            hard, soft = pod_constraints(pod, DO_NOT_SCHEDULE), pod_constraints(pod, SCHEDULE_ANYWAY)
        else:
            hard = ()
            soft = system_default_constraints(default_selector) \
                if default_selector is not None and not default_selector.empty() else ()
        return PodContext(
            pod=pod, key=key_of(pod), requests=pod_requests(pod), non_zero_cpu=cpu,
            non_zero_memory=memory, ports=host_ports(pod), tolerations=list(pod.spec.tolerations),
            required=RequiredAffinity.of(pod), preferred=preferred_terms(pod),
            priority=pod.spec.priority if pod.spec.HasField("priority") else 0,
            hard_spread=hard, soft_spread=soft, own_spread=own)
