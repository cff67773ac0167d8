"""The invariants a cluster must keep, while faults run and once it has converged.

Each check takes a ``Snapshot`` (everything read from the API at one moment) and returns the
violations it finds as sentences; an empty list means the invariant holds.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from kemu.api import kinds
from kemu.api.pods import is_active
from kemu.v1 import apps_pb2, core_pb2


@dataclass
class Snapshot:
    nodes: list[core_pb2.Node] = field(default_factory=list)
    pods: list[core_pb2.Pod] = field(default_factory=list)
    daemonsets: list[apps_pb2.DaemonSet] = field(default_factory=list)
    replicasets: list[apps_pb2.ReplicaSet] = field(default_factory=list)


def _controller_uid(obj: Any) -> str:
    for ref in obj.metadata.owner_references:
        if ref.controller:
            return str(ref.uid)
    return ""


def _surge(ds: apps_pb2.DaemonSet, nodes: int) -> int:
    rolling = ds.spec.update_strategy.rolling_update
    if ds.spec.update_strategy.type != "RollingUpdate" or not rolling.HasField("max_surge"):
        return 0
    surge = rolling.max_surge
    if surge.WhichOneof("value") == "string_value":
        percent = int(surge.string_value.rstrip("%") or 0)
        return -(-percent * nodes // 100)
    return int(surge.int_value)


def one_daemon_pod_per_node(snap: Snapshot) -> list[str]:
    """Never two active pods of one DaemonSet on one node, beyond its surge."""
    found = []
    per_node: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for pod in snap.pods:
        if pod.spec.node_name and is_active(pod):
            per_node[(_controller_uid(pod), pod.spec.node_name)].append(pod.metadata.name)
    for ds in snap.daemonsets:
        allowed = 1 + (1 if _surge(ds, len(snap.nodes)) else 0)
        for (owner, node), names in per_node.items():
            if owner == ds.metadata.uid and len(names) > allowed:
                found.append(f"DaemonSet {ds.metadata.name} has {len(names)} active pods on "
                             f"{node}: {', '.join(sorted(names))}")
    return found


def replicasets_not_exceeded(snap: Snapshot) -> list[str]:
    """A ReplicaSet never has more active pods than it asks for (no duplicates on failover)."""
    active = collections.Counter(_controller_uid(p) for p in snap.pods if is_active(p))
    return [f"ReplicaSet {rs.metadata.name} has {active[rs.metadata.uid]} active pods, "
            f"spec.replicas is {rs.spec.replicas}"
            for rs in snap.replicasets if active[rs.metadata.uid] > rs.spec.replicas]


def replicasets_converged(snap: Snapshot) -> list[str]:
    active = collections.Counter(_controller_uid(p) for p in snap.pods if is_active(p))
    return [f"ReplicaSet {rs.metadata.name} has {active[rs.metadata.uid]} active pods, "
            f"not {rs.spec.replicas}"
            for rs in snap.replicasets if active[rs.metadata.uid] != rs.spec.replicas]


def daemonsets_converged(snap: Snapshot) -> list[str]:
    """Every DaemonSet reports its desired pods scheduled and available."""
    found = []
    for ds in snap.daemonsets:
        s = ds.status
        if s.observed_generation < ds.metadata.generation or \
                s.current_number_scheduled != s.desired_number_scheduled or \
                s.number_available != s.desired_number_scheduled or s.number_misscheduled:
            found.append(f"DaemonSet {ds.metadata.name}: desired {s.desired_number_scheduled}, "
                         f"scheduled {s.current_number_scheduled}, available "
                         f"{s.number_available}, misscheduled {s.number_misscheduled}")
    return found


def no_pods_on_missing_nodes(snap: Snapshot) -> list[str]:
    names = {n.metadata.name for n in snap.nodes}
    return [f"pod {p.metadata.namespace}/{p.metadata.name} is bound to missing node "
            f"{p.spec.node_name}" for p in snap.pods if p.spec.node_name and
            p.spec.node_name not in names]


def nodes_ready(snap: Snapshot) -> list[str]:
    found = []
    for node in snap.nodes:
        ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "")
        if ready != "True":
            found.append(f"node {node.metadata.name} is not Ready ({ready or 'no condition'})")
        if any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints):
            found.append(f"node {node.metadata.name} still has taints "
                         f"{[t.key for t in node.spec.taints]}")
    return found


CONTINUOUS = (one_daemon_pod_per_node, replicasets_not_exceeded)
CONVERGED = (one_daemon_pod_per_node, replicasets_converged, daemonsets_converged,
             no_pods_on_missing_nodes, nodes_ready)


def undecodable_values(items: list[tuple[bytes, bytes]]) -> list[str]:
    """Every value under /registry/ must decode as the kind its key names."""
    by_plural = {k.plural: k for k in kinds.all_kinds()}
    found = []
    for key, value in items:
        parts = key.decode(errors="replace").split("/")
        kind = by_plural.get(parts[2]) if len(parts) > 3 else None
        if kind is None:
            found.append(f"{key.decode(errors='replace')}: not a known kind")
            continue
        try:
            kind.message.FromString(value)
        except Exception as exc:
            found.append(f"{key.decode(errors='replace')}: does not decode as {kind.name}: {exc}")
    return found
