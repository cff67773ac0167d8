"""Plain Node and Pod messages for the scheduler's unit tests (no API, no processes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.scheduler.cache import NodeInfo, PodInfo
from controlplane.scheduler.resources import node_allocatable
from kemu.v1 import core_pb2


def make_node(name: str = "node-1", *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              labels: Mapping[str, str] | None = None,
              taints: Sequence[tuple[str, str, str]] = (), unschedulable: bool = False,
              extra: Mapping[str, str] | None = None) -> core_pb2.Node:
    node = core_pb2.Node()
    node.metadata.name = name
    node.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    for key, value, effect in taints:
        node.spec.taints.add(key=key, value=value, effect=effect)
    node.spec.unschedulable = unschedulable
    amounts = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    for resource, value in amounts.items():
        node.status.allocatable[resource].value = value
        node.status.capacity[resource].value = value
    return node


def make_pod(name: str = "web", *, namespace: str = "default", cpu: str = "", memory: str = "",
             labels: Mapping[str, str] | None = None,
             node_selector: Mapping[str, str] | None = None,
             tolerations: Sequence[Mapping[str, Any]] = (), host_ports: Sequence[int] = (),
             host_ip: str = "", node_name: str = "", uid: str = "",
             extra: Mapping[str, str] | None = None) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = name
    pod.metadata.namespace = namespace
    pod.metadata.uid = uid or f"uid-{name}"
    pod.metadata.labels.update(labels or {})
    container = pod.spec.containers.add(name="main", image="pause")
    if cpu:
        container.resources.requests["cpu"].value = cpu
    if memory:
        container.resources.requests["memory"].value = memory
    for resource, value in (extra or {}).items():
        container.resources.requests[resource].value = value
    for port in host_ports:
        container.ports.add(container_port=port, host_port=port, host_ip=host_ip)
    pod.spec.node_selector.update(node_selector or {})
    for toleration in tolerations:
        pod.spec.tolerations.add(**toleration)
    pod.spec.node_name = node_name
    return pod


def node_info(node: core_pb2.Node, pods: Sequence[core_pb2.Pod] = ()) -> NodeInfo:
    info = NodeInfo(node.metadata.name, node, dict(node.metadata.labels), node_allocatable(node))
    for pod in pods:
        info.add(PodInfo.of(pod, node.metadata.name))
    return info
