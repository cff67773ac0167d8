"""``describe pod``."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from kemuctl.describe import common
from kemuctl.describe.writer import LEVEL_0, LEVEL_1, PrefixWriter
from kemuctl.quantities import amount
from kemuctl.timefmt import rfc1123z, since

_QOS_RESOURCES = ("cpu", "memory")


def qos_class(pod: Any) -> str:
    """The pod's QoS class: from its status, else computed as Kubernetes does."""
    if pod.status.qos_class:
        return str(pod.status.qos_class)
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in [*pod.spec.containers, *pod.spec.init_containers]:
        for name, quantity in container.resources.requests.items():
            value = amount(quantity.value).value
            if name in _QOS_RESOURCES and value > 0:
                requests[name] = requests.get(name, Fraction(0)) + value
        found: set[str] = set()
        for name, quantity in container.resources.limits.items():
            value = amount(quantity.value).value
            if name in _QOS_RESOURCES and value > 0:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + value
        if not found.issuperset(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and \
            len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def describe_pod(pod: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    meta, spec, status = pod.metadata, pod.spec, pod.status
    w.write(LEVEL_0, f"Name:\t{meta.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{meta.namespace}\n")
    if spec.HasField("priority"):
        w.write(LEVEL_0, f"Priority:\t{spec.priority}\n")
    if spec.priority_class_name:
        w.write(LEVEL_0, f"Priority Class Name:\t{spec.priority_class_name}\n")
    if spec.service_account_name:
        w.write(LEVEL_0, f"Service Account:\t{spec.service_account_name}\n")
    node = f"{spec.node_name}/{status.host_ip}" if spec.node_name else "<none>"
    w.write(LEVEL_0, f"Node:\t{node}\n")
    if status.start_time:
        w.write(LEVEL_0, f"Start Time:\t{rfc1123z(status.start_time)}\n")
    common.labels_multiline(w, "Labels", meta.labels)
    common.annotations_multiline(w, "Annotations", meta.annotations)
    if meta.deletion_timestamp and status.phase not in ("Failed", "Succeeded"):
        w.write(LEVEL_0, f"Status:\tTerminating (lasts {since(meta.deletion_timestamp, now)})\n")
        w.write(LEVEL_0, f"Termination Grace Period:\t{meta.deletion_grace_period_seconds}s\n")
    else:
        w.write(LEVEL_0, f"Status:\t{status.phase}\n")
    if status.reason:
        w.write(LEVEL_0, f"Reason:\t{status.reason}\n")
    if status.message:
        w.write(LEVEL_0, f"Message:\t{status.message}\n")
    w.write(LEVEL_0, f"IP:\t{status.pod_ip}\n")
    if status.pod_ips:
        w.write(LEVEL_0, "IPs:\n")
        for ip in status.pod_ips:
            w.write(LEVEL_1, f"IP:\t{ip.ip}\n")
    else:
        w.write(LEVEL_0, "IPs:\t<none>\n")
    owner = common.controlled_by(pod)
    if owner:
        w.write(LEVEL_0, f"Controlled By:\t{owner}\n")
    if status.nominated_node_name:
        w.write(LEVEL_0, f"NominatedNodeName:\t{status.nominated_node_name}\n")
    if spec.init_containers:
        common.containers(w, "Init Containers", spec.init_containers,
                          status.init_container_statuses, pod=pod)
    common.containers(w, "Containers", spec.containers, status.container_statuses, pod=pod)
    if status.conditions:
        w.write(LEVEL_0, "Conditions:\n  Type\tStatus\n")
        for condition in status.conditions:
            w.write(LEVEL_1, f"{condition.type} \t{condition.status} \n")
    common.volumes(w, spec.volumes)
    w.write(LEVEL_0, f"QoS Class:\t{qos_class(pod)}\n")
    common.labels_multiline(w, "Node-Selectors", spec.node_selector)
    common.tolerations_multiline(w, "Tolerations", spec.tolerations)
    common.events(w, events, now)
    return w.render()
