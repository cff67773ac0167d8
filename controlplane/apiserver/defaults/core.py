"""Defaults of Services, Endpoints, Namespaces and Nodes, after pkg/apis/core/v1/defaults.go.

Services: type ClusterIP, session affinity None, TCP ports whose targetPort is the port,
internalTrafficPolicy Cluster (for ClusterIP, NodePort and LoadBalancer), and
externalTrafficPolicy Cluster for externally reachable ones. Namespaces carry the
``kubernetes.io/metadata.name`` label and phase Active. Nodes: allocatable is capacity when
unset, and podCIDR and podCIDRs say the same thing.
"""

from __future__ import annotations

from kemu.v1 import core_pb2

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def default_service(service: core_pb2.Service) -> None:
    spec = service.spec
    if not spec.session_affinity:
        spec.session_affinity = "None"
    if not spec.type:
        spec.type = "ClusterIP"
    for port in spec.ports:
        if not port.protocol:
            port.protocol = "TCP"
        target = port.target_port
        which = target.WhichOneof("value")
        if which is None or (which == "int_value" and target.int_value == 0) or \
                (which == "string_value" and not target.string_value):
            target.int_value = port.port
    reachable = spec.type in ("LoadBalancer", "NodePort") or \
        (spec.type == "ClusterIP" and bool(spec.external_ips))
    if reachable and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"
    if not spec.HasField("internal_traffic_policy") and \
            spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec.internal_traffic_policy = "Cluster"
    if spec.cluster_ip and not spec.cluster_ips:
        spec.cluster_ips.append(spec.cluster_ip)
    elif spec.cluster_ips and not spec.cluster_ip:
        spec.cluster_ip = spec.cluster_ips[0]


def default_endpoints(endpoints: core_pb2.Endpoints) -> None:
    for subset in endpoints.subsets:
        for port in subset.ports:
            if not port.protocol:
                port.protocol = "TCP"


def default_namespace(namespace: core_pb2.Namespace) -> None:
    if namespace.metadata.name:
        namespace.metadata.labels[NAMESPACE_NAME_LABEL] = namespace.metadata.name
    if not namespace.status.phase:
        namespace.status.phase = "Active"


def default_node(node: core_pb2.Node) -> None:
    spec = node.spec
    if spec.pod_cidr and not spec.pod_cidrs:
        spec.pod_cidrs.append(spec.pod_cidr)
    elif spec.pod_cidrs and not spec.pod_cidr:
        spec.pod_cidr = spec.pod_cidrs[0]
    status = node.status
    if status.capacity and not status.allocatable:
        for name, quantity in status.capacity.items():
            status.allocatable[name].CopyFrom(quantity)
