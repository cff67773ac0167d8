"""Nodes and pods made through the API for scheduling and node-lifecycle tests: a Node object with
the status a kubelet would post (capacity, allocatable, Ready), without a kubelet process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kemu.api.meta import now_rfc3339
from kemu.client.interface import ApiClient, clone
from kemu.v1 import core_pb2


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
         labels: Mapping[str, str] | None = None,
         taints: Sequence[tuple[str, str, str]] = (), unschedulable: bool = False) -> core_pb2.Node:
    n = core_pb2.Node()
    n.metadata.name = name
    n.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    for key, value, effect in taints:
        n.spec.taints.add(key=key, value=value, effect=effect)
    n.spec.unschedulable = unschedulable
    for field in (n.status.capacity, n.status.allocatable):
        field["cpu"].value = cpu
        field["memory"].value = memory
        field["pods"].value = pods
    return n


def set_ready(n: core_pb2.Node, status: str = "True") -> None:
    now = now_rfc3339()
    for condition in n.status.conditions:
        if condition.type == "Ready":
            if condition.status != status:
                condition.last_transition_time = now
            condition.status = status
            condition.last_heartbeat_time = now
            condition.reason = "KubeletReady" if status == "True" else "KubeletNotReady"
            return
    n.status.conditions.add(type="Ready", status=status, last_heartbeat_time=now,
                            last_transition_time=now,
                            reason="KubeletReady" if status == "True" else "KubeletNotReady",
                            message="kubelet is posting ready status")


async def create_node(client: ApiClient, wanted: core_pb2.Node, ready: bool = True) -> core_pb2.Node:
    """Create the Node, then post its status the way a kubelet does."""
    created = await client.create(wanted)
    changed = clone(created)
    changed.status.CopyFrom(wanted.status)
    if ready:
        set_ready(changed)
    result: core_pb2.Node = await client.update_status(changed)
    return result


def pod(name: str, *, namespace: str = "default", cpu: str = "", memory: str = "",
        labels: Mapping[str, str] | None = None, node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, Any]] = (), host_port: int = 0,
        init_cpu: str = "") -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = namespace
    p.metadata.labels.update(labels or {"app": name})
    container = p.spec.containers.add(name="main", image="registry.k8s.io/pause:3.9")
    if cpu:
        container.resources.requests["cpu"].value = cpu
    if memory:
        container.resources.requests["memory"].value = memory
    if host_port:
        container.ports.add(container_port=80, host_port=host_port, protocol="TCP")
    if init_cpu:
        init = p.spec.init_containers.add(name="init", image="registry.k8s.io/pause:3.9")
        init.resources.requests["cpu"].value = init_cpu
    p.spec.node_selector.update(node_selector or {})
    for toleration in tolerations:
        p.spec.tolerations.add(**toleration)
    return p


def condition(p: core_pb2.Pod, kind: str) -> core_pb2.PodCondition | None:
    for c in p.status.conditions:
        if c.type == kind:
            return c
    return None
