"""Resource amounts as the scheduler compares them: CPU in millicores, memory and storage in bytes,
extended resources as counts.

A pod's request follows Kubernetes' rule: the sum of its containers, or the largest init
container if that is larger, where sidecars (init containers with ``restartPolicy: Always``) keep
running and so add to everything started after them. A container with a limit but no request
requests its limit (the API server's defaulting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kemu.api.quantity import QuantityError, milli_value, whole_value
from kemu.v1 import core_pb2, meta_pb2

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
# What the scoring plugins assume a container without a request uses (schedutil defaults).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


def is_scalar(name: str) -> bool:
    """Extended resources (``example.com/gpu``), hugepages and attachable volumes."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith(("kubernetes.io/", "requests."))


def amount(name: str, quantity: meta_pb2.Quantity) -> int:
    """A quantity in the scheduler's unit for ``name`` (0 for a value that does not parse)."""
    try:
        return milli_value(quantity.value) if name == CPU else whole_value(quantity.value)
    except QuantityError:
        return 0


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    scalar: dict[str, int] = field(default_factory=dict)
    allowed_pods: int = 0

    @staticmethod
    def from_amounts(amounts: Mapping[str, int]) -> Resources:
        resources = Resources()
        for name, value in amounts.items():
            resources.set(name, value)
        return resources

    def set(self, name: str, value: int) -> None:
        if name == CPU:
            self.milli_cpu = value
        elif name == MEMORY:
            self.memory = value
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = value
        elif name == PODS:
            self.allowed_pods = value
        elif is_scalar(name):
            self.scalar[name] = value

    def add(self, other: Resources, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for name, value in other.scalar.items():
            total = self.scalar.get(name, 0) + sign * value
            if total:
                self.scalar[name] = total
            else:
                self.scalar.pop(name, None)

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage
                    or any(self.scalar.values()))


def _container_amounts(container: core_pb2.Container,
                       defaults: Mapping[str, int] | None) -> dict[str, int]:
    resources = container.resources
    amounts = {name: amount(name, q) for name, q in resources.requests.items()}
    for name, q in resources.limits.items():
        if name not in amounts:
            amounts[name] = amount(name, q)
    if defaults:
        for name, value in defaults.items():
            amounts.setdefault(name, value)
    return amounts


def _add(into: dict[str, int], amounts: Mapping[str, int]) -> None:
    for name, value in amounts.items():
        into[name] = into.get(name, 0) + value


def _max(into: dict[str, int], amounts: Mapping[str, int]) -> None:
    for name, value in amounts.items():
        if value > into.get(name, 0):
            into[name] = value


def _is_sidecar(container: core_pb2.Container) -> bool:
    return container.HasField("restart_policy") and container.restart_policy == "Always"


def pod_request_amounts(pod: core_pb2.Pod, defaults: Mapping[str, int] | None = None) -> dict[str, int]:
    """The effective request of ``pod`` per resource name (CPU in millicores).

    ``defaults`` fills a missing CPU or memory request per container, as the scoring plugins do.
    """
    total: dict[str, int] = {}
    for container in pod.spec.containers:
        _add(total, _container_amounts(container, defaults))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in pod.spec.init_containers:
        amounts = _container_amounts(container, defaults)
        if _is_sidecar(container):
            _add(total, amounts)
            _add(sidecars, amounts)
            running = dict(sidecars)
        else:
            running = dict(amounts)
            _add(running, sidecars)
        _max(init_peak, running)
    _max(total, init_peak)
    return total


def pod_requests(pod: core_pb2.Pod) -> Resources:
    return Resources.from_amounts(pod_request_amounts(pod))


def non_zero_requests(pod: core_pb2.Pod) -> tuple[int, int]:
    """CPU (millicores) and memory the scoring plugins count for ``pod``."""
    amounts = pod_request_amounts(pod, {CPU: DEFAULT_MILLI_CPU_REQUEST,
                                        MEMORY: DEFAULT_MEMORY_REQUEST})
    return amounts.get(CPU, 0), amounts.get(MEMORY, 0)


def node_allocatable(node: core_pb2.Node) -> Resources:
    """``status.allocatable``, or ``status.capacity`` where a kubelet reported no allocatable."""
    source = node.status.allocatable if node.status.allocatable else node.status.capacity
    return Resources.from_amounts({name: amount(name, q) for name, q in source.items()})


def host_ports(pod: core_pb2.Pod) -> list[tuple[str, str, int]]:
    """The (hostIP, protocol, hostPort) triples the pod's containers claim on their node."""
    found: list[tuple[str, str, int]] = []
    containers: Iterable[core_pb2.Container] = pod.spec.containers
    for container in containers:
        for port in container.ports:
            if port.host_port <= 0:
                continue
            found.append((port.host_ip or "0.0.0.0", port.protocol or "TCP", port.host_port))
    return found
