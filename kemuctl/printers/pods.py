"""The pod and node tables."""

from __future__ import annotations

from typing import Any

from kemuctl.printers.podstatus import readiness_gates, summarize
from kemuctl.printers.table import AGE, NAME, Column, KindTable
from kemuctl.timefmt import since

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def _pod_row(pod: Any, now: float) -> list[str]:
    summary = summarize(pod, now)
    ip = pod.status.pod_ips[0].ip if pod.status.pod_ips else pod.status.pod_ip
    return [pod.metadata.name, summary.ready, summary.status, summary.restarts,
            since(pod.metadata.creation_timestamp, now), ip or "<none>",
            pod.spec.node_name or "<none>", pod.status.nominated_node_name or "<none>",
            readiness_gates(pod)]


PODS = KindTable((NAME, Column("Ready"), Column("Status"), Column("Restarts"), AGE,
                  Column("IP", wide=True), Column("Node", wide=True),
                  Column("Nominated Node", wide=True), Column("Readiness Gates", wide=True)),
                 _pod_row)


def node_roles(node: Any) -> list[str]:
    roles: set[str] = set()
    for key, value in node.metadata.labels.items():
        if key.startswith(NODE_ROLE_PREFIX):
            role = key[len(NODE_ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def node_status(node: Any) -> str:
    states: list[str] = []
    for condition in node.status.conditions:
        if condition.type == "Ready":
            states.append("Ready" if condition.status == "True" else "NotReady")
            break
    if not states:
        states.append("Unknown")
    if node.spec.unschedulable:
        states.append("SchedulingDisabled")
    return ",".join(states)


def _address(node: Any, kind: str) -> str:
    for address in node.status.addresses:
        if address.type == kind:
            return str(address.address)
    return "<none>"


def _node_row(node: Any, now: float) -> list[str]:
    info = node.status.node_info
    return [node.metadata.name, node_status(node), ",".join(node_roles(node)) or "<none>",
            since(node.metadata.creation_timestamp, now), info.kubelet_version,
            _address(node, "InternalIP"), _address(node, "ExternalIP"),
            info.os_image or "<unknown>", info.kernel_version or "<unknown>",
            info.container_runtime_version or "<unknown>"]


NODES = KindTable((NAME, Column("Status"), Column("Roles"), AGE, Column("Version"),
                   Column("Internal-IP", wide=True), Column("External-IP", wide=True),
                   Column("OS-Image", wide=True), Column("Kernel-Version", wide=True),
                   Column("Container-Runtime", wide=True)), _node_row)
