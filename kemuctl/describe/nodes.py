"""``describe node``: conditions, capacity, system info, the pods on the node with their
requests and limits, the allocated totals as percentages of allocatable, and events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kemuctl.describe import common
from kemuctl.describe.writer import LEVEL_0, LEVEL_1, PrefixWriter
from kemuctl.printers.pods import node_roles
from kemuctl.quantities import ZERO, Amount, amount, percent
from kemuctl.timefmt import rfc1123z, since

_STANDARD = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}


def pod_requests_and_limits(pod: Any) -> tuple[dict[str, Amount], dict[str, Amount]]:
    """Sum over containers, at least the largest init container (PodRequestsAndLimits)."""
    requests: dict[str, Amount] = {}
    limits: dict[str, Amount] = {}
    for container in pod.spec.containers:
        for name, quantity in container.resources.requests.items():
            requests[name] = requests.get(name, ZERO) + amount(quantity.value)
        for name, quantity in container.resources.limits.items():
            limits[name] = limits.get(name, ZERO) + amount(quantity.value)
    for container in pod.spec.init_containers:
        for target, values in ((requests, container.resources.requests),
                               (limits, container.resources.limits)):
            for name, quantity in values.items():
                value = amount(quantity.value)
                if value.value > target.get(name, ZERO).value:
                    target[name] = value
    return requests, limits


def _resource_list(w: PrefixWriter, values: Mapping[str, Any]) -> None:
    for name in sorted(values):
        w.write(LEVEL_0, f"  {name}:\t{values[name].value}\n")


def _allocatable(node: Any) -> dict[str, Amount]:
    source = node.status.allocatable or node.status.capacity
    return {name: amount(q.value) for name, q in source.items()}


def _node_resources(w: PrefixWriter, node: Any, pods: Sequence[Any], now: float) -> None:
    w.write(LEVEL_0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(LEVEL_1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\t"
                     "Memory Limits\tAge\n")
    w.write(LEVEL_1, "---------\t----\t\t------------\t----------\t---------------\t"
                     "-------------\t---\n")
    allocatable = _allocatable(node)
    cpu, memory = allocatable.get("cpu", ZERO), allocatable.get("memory", ZERO)
    totals_requests: dict[str, Amount] = {}
    totals_limits: dict[str, Amount] = {}
    for pod in pods:
        requests, limits = pod_requests_and_limits(pod)
        for name, value in requests.items():
            totals_requests[name] = totals_requests.get(name, ZERO) + value
        for name, value in limits.items():
            totals_limits[name] = totals_limits.get(name, ZERO) + value
        cells = []
        for values, whole in ((requests, cpu), (limits, cpu), (requests, memory),
                              (limits, memory)):
            key = "cpu" if whole is cpu else "memory"
            part = values.get(key, ZERO)
            cells.append(f"{part} ({percent(part, whole)}%)")
        w.write(LEVEL_1, f"{pod.metadata.namespace}\t{pod.metadata.name}\t\t{cells[0]}\t"
                         f"{cells[1]}\t{cells[2]}\t{cells[3]}\t"
                         f"{since(pod.metadata.creation_timestamp, now)}\n")
    w.write(LEVEL_0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., "
                     "overcommitted.)\n")
    w.write(LEVEL_1, "Resource\tRequests\tLimits\n")
    w.write(LEVEL_1, "--------\t--------\t------\n")
    for name in ("cpu", "memory", "ephemeral-storage"):
        whole = allocatable.get(name, ZERO)
        request = totals_requests.get(name, ZERO)
        limit = totals_limits.get(name, ZERO)
        w.write(LEVEL_1, f"{name}\t{request} ({percent(request, whole)}%)\t"
                         f"{limit} ({percent(limit, whole)}%)\n")
    names = sorted(allocatable)
    for name in (n for n in names if n.startswith("hugepages-")):
        whole = allocatable[name]
        request = totals_requests.get(name, ZERO)
        limit = totals_limits.get(name, ZERO)
        w.write(LEVEL_1, f"{name}\t{request} ({percent(request, whole)}%)\t"
                         f"{limit} ({percent(limit, whole)}%)\n")
    for name in (n for n in names if n not in _STANDARD and not n.startswith("hugepages-")):
        w.write(LEVEL_1, f"{name}\t{totals_requests.get(name, ZERO)}\t"
                         f"{totals_limits.get(name, ZERO)}\n")


def _lease(w: PrefixWriter, lease: Any | None, error: str) -> None:
    if lease is None:
        w.write(LEVEL_0, f"Lease:\tFailed to get lease: {error}\n")
        return
    spec = lease.spec
    holder = spec.holder_identity if spec.HasField("holder_identity") else "<unset>"
    w.write(LEVEL_0, "Lease:\n")
    w.write(LEVEL_1, f"HolderIdentity:\t{holder}\n")
    w.write(LEVEL_1, f"AcquireTime:\t{rfc1123z(spec.acquire_time) if spec.acquire_time else '<unset>'}\n")
    w.write(LEVEL_1, f"RenewTime:\t{rfc1123z(spec.renew_time) if spec.renew_time else '<unset>'}\n")


def describe_node(node: Any, pods: Sequence[Any], lease: Any | None, lease_error: str,
                  events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    meta, spec, status = node.metadata, node.spec, node.status
    w.write(LEVEL_0, f"Name:\t{meta.name}\n")
    w.write(LEVEL_0, f"Roles:\t{','.join(node_roles(node)) or '<none>'}\n")
    common.labels_multiline(w, "Labels", meta.labels)
    common.annotations_multiline(w, "Annotations", meta.annotations)
    w.write(LEVEL_0, f"CreationTimestamp:\t{rfc1123z(meta.creation_timestamp)}\n")
    common.taints_multiline(w, "Taints", spec.taints)
    w.write(LEVEL_0, f"Unschedulable:\t{'true' if spec.unschedulable else 'false'}\n")
    _lease(w, lease, lease_error)
    if status.conditions:
        w.write(LEVEL_0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\t"
                         "Reason\tMessage\n")
        w.write(LEVEL_1, "----\t------\t-----------------\t------------------\t------\t"
                         "-------\n")
        for c in status.conditions:
            w.write(LEVEL_1, f"{c.type} \t{c.status} \t{rfc1123z(c.last_heartbeat_time)} \t"
                             f"{rfc1123z(c.last_transition_time)} \t{c.reason} \t{c.message}\n")
    w.write(LEVEL_0, "Addresses:\n")
    for address in status.addresses:
        w.write(LEVEL_1, f"{address.type}:\t{address.address}\n")
    if status.capacity:
        w.write(LEVEL_0, "Capacity:\n")
        _resource_list(w, status.capacity)
    if status.allocatable:
        w.write(LEVEL_0, "Allocatable:\n")
        _resource_list(w, status.allocatable)
    info = status.node_info
    w.write(LEVEL_0, "System Info:\n")
    for title, value in (("Machine ID", info.machine_id), ("System UUID", info.system_uuid),
                         ("Boot ID", info.boot_id), ("Kernel Version", info.kernel_version),
                         ("OS Image", info.os_image), ("Operating System", info.operating_system),
                         ("Architecture", info.architecture),
                         ("Container Runtime Version", info.container_runtime_version),
                         ("Kubelet Version", info.kubelet_version),
                         ("Kube-Proxy Version", info.kube_proxy_version)):
        w.write(LEVEL_0, f"  {title}:\t{value}\n")
    if spec.pod_cidr:
        w.write(LEVEL_0, f"PodCIDR:\t{spec.pod_cidr}\n")
    if spec.pod_cidrs:
        w.write(LEVEL_0, f"PodCIDRs:\t{','.join(spec.pod_cidrs)}\n")
    if spec.provider_id:
        w.write(LEVEL_0, f"ProviderID:\t{spec.provider_id}\n")
    _node_resources(w, node, pods, now)
    common.events(w, events, now)
    return w.render()
