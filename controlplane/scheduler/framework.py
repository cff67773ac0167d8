"""What the scheduling plugins share: a filter's verdict (``Status``) and the facts about the pod
being scheduled, worked out once per attempt (``PodContext``, kube-scheduler's CycleState)."""

from __future__ import annotations

from dataclasses import dataclass, field

from controlplane.scheduler.nodeaffinity import PreferredTerm, RequiredAffinity, preferred_terms
from controlplane.scheduler.resources import (
    Resources,
    host_ports,
    non_zero_requests,
    pod_requests,
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
    spread_selector: Selector | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @staticmethod
    def of(pod: core_pb2.Pod, spread_selector: Selector | None = None) -> PodContext:
        cpu, memory = non_zero_requests(pod)
        return PodContext(
            pod=pod, key=key_of(pod), requests=pod_requests(pod), non_zero_cpu=cpu,
            non_zero_memory=memory, ports=host_ports(pod), tolerations=list(pod.spec.tolerations),
            required=RequiredAffinity.of(pod), preferred=preferred_terms(pod),
            priority=pod.spec.priority if pod.spec.HasField("priority") else 0,
            spread_selector=spread_selector)
