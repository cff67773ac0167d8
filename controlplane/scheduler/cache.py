"""The scheduler's view of every node: what is requested on it, which host ports are taken and
which pods it runs, kept current from pod and node events instead of being recomputed per pod.

Pods the scheduler has just placed are *assumed*: counted on their node at once, before the
binding reaches the API and the informer reports it back, so a burst of pods cannot overcommit a
node. The informer's report confirms an assumed pod; a failed binding forgets it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.scheduler.resources import (
    Resources,
    host_ports,
    node_allocatable,
    non_zero_requests,
    pod_requests,
)
from kemu.api.meta import key_of
from kemu.api.pods import is_terminal
from kemu.v1 import core_pb2


@dataclass
class PodInfo:
    """One pod counted on a node, with what it requests worked out once."""

    key: str
    pod: core_pb2.Pod
    node_name: str
    requested: Resources
    non_zero_cpu: int
    non_zero_memory: int
    ports: list[tuple[str, str, int]]
    assumed: bool = False

    @staticmethod
    def of(pod: core_pb2.Pod, node_name: str, assumed: bool = False) -> PodInfo:
        cpu, memory = non_zero_requests(pod)
        return PodInfo(key_of(pod), pod, node_name, pod_requests(pod), cpu, memory,
                       host_ports(pod), assumed)

    @property
    def namespace(self) -> str:
        return self.pod.metadata.namespace

    @property
    def terminating(self) -> bool:
        return bool(self.pod.metadata.deletion_timestamp)


@dataclass
class NodeInfo:
    name: str
    node: core_pb2.Node | None = None
    # The node's labels as a plain dict: read for every pod, far cheaper than the proto map.
    labels: dict[str, str] = field(default_factory=dict)
    allocatable: Resources = field(default_factory=Resources)
    requested: Resources = field(default_factory=Resources)
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    pods: dict[str, PodInfo] = field(default_factory=dict)
    used_ports: collections.Counter[tuple[str, str, int]] = field(
        default_factory=collections.Counter)

    def add(self, info: PodInfo) -> None:
        self.pods[info.key] = info
        self.requested.add(info.requested)
        self.non_zero_cpu += info.non_zero_cpu
        self.non_zero_memory += info.non_zero_memory
        self.used_ports.update(info.ports)

    def remove(self, info: PodInfo) -> None:
        if self.pods.pop(info.key, None) is None:
            return
        self.requested.add(info.requested, -1)
        self.non_zero_cpu -= info.non_zero_cpu
        self.non_zero_memory -= info.non_zero_memory
        self.used_ports.subtract(info.ports)
        for port in info.ports:
            if self.used_ports[port] <= 0:
                del self.used_ports[port]

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """Kubernetes' HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every address."""
        if ip == "0.0.0.0":
            return any(p == port and proto == protocol for _, proto, p in self.used_ports)
        return (ip, protocol, port) in self.used_ports or \
            ("0.0.0.0", protocol, port) in self.used_ports


PodListener = Callable[[PodInfo], None]


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pods: dict[str, PodInfo] = {}
        self.by_namespace: dict[str, set[str]] = collections.defaultdict(set)
        self._node_list: list[NodeInfo] | None = None
        self.on_pod_added: list[PodListener] = []
        self.on_pod_removed: list[PodListener] = []

    # -- nodes ----------------------------------------------------------------------------
    def set_node(self, node: core_pb2.Node) -> None:
        info = self.nodes.get(node.metadata.name)
        if info is None:
            info = self.nodes[node.metadata.name] = NodeInfo(node.metadata.name)
            self._node_list = None
        elif info.node is None:
            self._node_list = None
        info.node = node
        info.labels = dict(node.metadata.labels)
        info.allocatable = node_allocatable(node)

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        info.node = None
        if not info.pods:
            del self.nodes[name]
        self._node_list = None

    def node_list(self) -> list[NodeInfo]:
        """Nodes that exist, in a stable order (the order they were first seen)."""
        if self._node_list is None:
            self._node_list = [n for n in self.nodes.values() if n.node is not None]
        return self._node_list

    # -- pods -----------------------------------------------------------------------------
    @staticmethod
    def counts(pod: core_pb2.Pod) -> bool:
        """Assigned pods that still hold their resources (terminating ones do, finished not)."""
        return bool(pod.spec.node_name) and not is_terminal(pod)

    def upsert_pod(self, pod: core_pb2.Pod) -> None:
        """An assigned pod as the API reports it; confirms an assumed pod."""
        key = key_of(pod)
        if not self.counts(pod):
            self.remove_pod(key)
            return
        self._remove(key)
        self._add(PodInfo.of(pod, pod.spec.node_name))

    def remove_pod(self, key: str) -> None:
        self._remove(key)

    def assume(self, pod: core_pb2.Pod, node_name: str) -> PodInfo:
        key = key_of(pod)
        self._remove(key)
        info = PodInfo.of(pod, node_name, assumed=True)
        self._add(info)
        return info

    def forget(self, key: str) -> bool:
        info = self.pods.get(key)
        if info is None or not info.assumed:
            return False
        self._remove(key)
        return True

    def is_assumed(self, key: str, uid: str = "") -> bool:
        """Whether the pod under ``key`` (with this UID, if given) is assumed, not yet bound."""
        info = self.pods.get(key)
        return info is not None and info.assumed and \
            (not uid or info.pod.metadata.uid == uid)

    def _add(self, info: PodInfo) -> None:
        node = self.nodes.get(info.node_name)
        if node is None:
            node = self.nodes[info.node_name] = NodeInfo(info.node_name)
        node.add(info)
        self.pods[info.key] = info
        self.by_namespace[info.namespace].add(info.key)
        for listener in self.on_pod_added:
            listener(info)

    def _remove(self, key: str) -> None:
        info = self.pods.pop(key, None)
        if info is None:
            return
        group = self.by_namespace.get(info.namespace)
        if group is not None:
            group.discard(key)
            if not group:
                del self.by_namespace[info.namespace]
        node = self.nodes.get(info.node_name)
        if node is not None:
            node.remove(info)
            if node.node is None and not node.pods:
                del self.nodes[info.node_name]
        for listener in self.on_pod_removed:
            listener(info)

    def pods_in(self, namespace: str) -> list[PodInfo]:
        return [self.pods[k] for k in self.by_namespace.get(namespace, ())]
