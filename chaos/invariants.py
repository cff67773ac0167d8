"""The invariants a cluster must keep, while faults run and once it has converged.

Two kinds of check:

- ``PodLedger`` is fed every watch event of the experiment's pods, ReplicaSets and DaemonSets,
  so it sees every intermediate state, not one sampled now and then (a duplicate daemon pod
  that its controller deletes 20 ms later is still caught). Whenever an owner's count of active
  pods grows, it records a sample at that etcd revision; a sample is judged against the owner's
  spec in force at the same revision (revisions are etcd's, global across kinds), once the
  owner's own watch has reached it. Counts only ever grow by creation or adoption, so a
  scale-down (spec drops before the controller deletes) is never mistaken for an excess.
- The snapshot checks take a ``Snapshot`` (lists read from the API at one moment) and say
  whether the cluster has converged: counts equal to spec, nodes Ready and untainted, no pod on
  a node that no longer exists.

Each returns violations as sentences; an empty list means the invariant holds.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field
from typing import Any

from controlplane.apiserver import keys
from kemu.api import kinds
from kemu.api.pods import is_active
from kemu.v1 import apps_pb2, core_pb2


def controller_ref(obj: Any) -> tuple[str, str]:
    """(kind, uid) of the object's controller owner, or ("", "")."""
    for ref in obj.metadata.owner_references:
        if ref.controller:
            return str(ref.kind), str(ref.uid)
    return "", ""


def target_node(pod: core_pb2.Pod) -> str:
    """The node a pod is bound to, or pinned to by a single-node ``metadata.name`` affinity."""
    if pod.spec.node_name:
        return str(pod.spec.node_name)
    affinity = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    for term in affinity.node_selector_terms:
        for requirement in term.match_fields:
            if requirement.key == "metadata.name" and requirement.operator == "In" and \
                    len(requirement.values) == 1:
                return str(requirement.values[0])
    return ""


def daemon_pods_allowed(ds: apps_pb2.DaemonSet, nodes: int = 1) -> int:
    """Active pods of ``ds`` one node may hold: one, two while a surge replaces the old one."""
    strategy = ds.spec.update_strategy
    if strategy.type not in ("", "RollingUpdate") or not strategy.rolling_update.HasField("max_surge"):
        return 1
    surge = strategy.rolling_update.max_surge
    if surge.WhichOneof("value") == "string_value":
        percent = int(surge.string_value.rstrip("%") or 0)
        return 2 if -(-percent * nodes // 100) else 1
    return 2 if surge.int_value else 1


@dataclass
class Sample:
    """An owner's active pods right after their number grew, at an etcd revision."""

    revision: int
    kind: str
    owner: str
    node: str
    pods: tuple[str, ...]


@dataclass
class _History:
    """An owner's name and the value of its limit from each revision on."""

    name: str
    revisions: list[int] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)

    def record(self, revision: int, limit: int) -> None:
        if self.limits and self.limits[-1] == limit:
            return
        if self.revisions and revision < self.revisions[-1]:
            return  # a re-list replaying an older state
        self.revisions.append(revision)
        self.limits.append(limit)

    def at(self, revision: int) -> int | None:
        if not self.limits:
            return None
        i = bisect.bisect_right(self.revisions, revision) - 1
        return self.limits[max(i, 0)]


class PodLedger:
    """Active pods per owner, from watch events, with every growth checked against spec."""

    def __init__(self) -> None:
        self.pods: dict[str, core_pb2.Pod] = {}
        self.members: dict[tuple[str, str, str], set[str]] = collections.defaultdict(set)
        self.owners: dict[tuple[str, str], _History] = {}
        self.progress: dict[str, int] = {"ReplicaSet": 0, "DaemonSet": 0}
        self.pending: list[Sample] = []
        self.violations: list[str] = []
        self.samples = 0

    # -- owners ---------------------------------------------------------------------------
    def replicaset(self, rs: apps_pb2.ReplicaSet, revision: int) -> None:
        history = self.owners.setdefault(("ReplicaSet", rs.metadata.uid),
                                         _History(rs.metadata.name))
        history.record(revision, rs.spec.replicas)
        self.advance("ReplicaSet", revision)

    def daemonset(self, ds: apps_pb2.DaemonSet, revision: int) -> None:
        history = self.owners.setdefault(("DaemonSet", ds.metadata.uid),
                                         _History(ds.metadata.name))
        history.record(revision, daemon_pods_allowed(ds, max(1, ds.status.desired_number_scheduled)))
        self.advance("DaemonSet", revision)

    def advance(self, kind: str, revision: int) -> None:
        """The owner watch of ``kind`` has delivered everything up to ``revision``."""
        self.progress[kind] = max(self.progress.get(kind, 0), revision)
        self.settle()

    # -- pods -----------------------------------------------------------------------------
    @staticmethod
    def _membership(pod: core_pb2.Pod) -> tuple[str, str, str] | None:
        kind, uid = controller_ref(pod)
        if not uid or not is_active(pod):
            return None
        if kind == "ReplicaSet":
            return kind, uid, ""
        if kind == "DaemonSet":
            return kind, uid, target_node(pod)
        return None

    def pod(self, event: str, pod: core_pb2.Pod, revision: int) -> None:
        uid = pod.metadata.uid
        before = self.pods.get(uid)
        old = self._membership(before) if before is not None else None
        if event == "DELETED":
            self.pods.pop(uid, None)
            new = None
        else:
            self.pods[uid] = pod
            new = self._membership(pod)
        if old == new:
            return
        if old is not None:
            self.members[old].discard(uid)
        if new is not None:
            self.members[new].add(uid)
            self._sample(new, revision)

    def relisted(self, pods: list[core_pb2.Pod], revision: int) -> None:
        """The pod watch started over from a fresh list (its history had a gap)."""
        listed = {p.metadata.uid for p in pods}
        for uid in [u for u in self.pods if u not in listed]:
            self.pod("DELETED", self.pods[uid], revision)
        for pod in pods:
            self.pod("MODIFIED", pod, revision)

    def _sample(self, key: tuple[str, str, str], revision: int) -> None:
        kind, owner, node = key
        names = tuple(sorted(self.pods[u].metadata.name for u in self.members[key]))
        self.samples += 1
        self.pending.append(Sample(revision, kind, owner, node, names))
        self.settle()

    def settle(self, final: bool = False) -> None:
        """Judge the samples whose owner's spec at their revision is known."""
        waiting = []
        for sample in self.pending:
            history = self.owners.get((sample.kind, sample.owner))
            if not final and (history is None or sample.revision > self.progress[sample.kind]):
                waiting.append(sample)
                continue
            limit = history.at(sample.revision) if history is not None else None
            if limit is None or len(sample.pods) <= limit:
                continue
            assert history is not None
            names = ", ".join(sample.pods[:6]) + (", ..." if len(sample.pods) > 6 else "")
            if sample.kind == "ReplicaSet":
                found = (f"ReplicaSet {history.name} had {len(sample.pods)} active pods at "
                         f"revision {sample.revision}, spec.replicas was {limit}: "
                         f"{names}")
            else:
                found = (f"DaemonSet {history.name} had {len(sample.pods)} active pods on node "
                         f"{sample.node or '(unassigned)'} at revision {sample.revision}: "
                         f"{names}")
            self.violations.append(found)
        self.pending = waiting


# -- snapshots ----------------------------------------------------------------------------
@dataclass
class Snapshot:
    nodes: list[core_pb2.Node] = field(default_factory=list)
    pods: list[core_pb2.Pod] = field(default_factory=list)
    daemonsets: list[apps_pb2.DaemonSet] = field(default_factory=list)
    replicasets: list[apps_pb2.ReplicaSet] = field(default_factory=list)


def _active_by_owner(snap: Snapshot) -> collections.Counter[str]:
    return collections.Counter(controller_ref(p)[1] for p in snap.pods if is_active(p))


def one_daemon_pod_per_node(snap: Snapshot) -> list[str]:
    """Never two active pods of one DaemonSet on one node, beyond its surge."""
    found = []
    per_node: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for pod in snap.pods:
        if is_active(pod) and target_node(pod):
            per_node[(controller_ref(pod)[1], target_node(pod))].append(pod.metadata.name)
    for ds in snap.daemonsets:
        allowed = daemon_pods_allowed(ds, len(snap.nodes))
        for (owner, node), names in sorted(per_node.items()):
            if owner == ds.metadata.uid and len(names) > allowed:
                found.append(f"DaemonSet {ds.metadata.name} has {len(names)} active pods on "
                             f"{node}: {', '.join(sorted(names))}")
    return found


def replicasets_converged(snap: Snapshot) -> list[str]:
    """Every ReplicaSet has exactly spec.replicas active pods, all of them ready."""
    active = _active_by_owner(snap)
    found = [f"ReplicaSet {rs.metadata.name} has {active[rs.metadata.uid]} active pods, "
             f"not {rs.spec.replicas}"
             for rs in snap.replicasets if active[rs.metadata.uid] != rs.spec.replicas]
    found += [f"ReplicaSet {rs.metadata.name}: {rs.status.ready_replicas} of {rs.spec.replicas} "
              f"ready" for rs in snap.replicasets
              if active[rs.metadata.uid] == rs.spec.replicas and
              (rs.status.ready_replicas != rs.spec.replicas or
               rs.status.observed_generation < rs.metadata.generation)]
    return found


def daemonsets_converged(snap: Snapshot) -> list[str]:
    """Every DaemonSet reports one pod scheduled and available on every node."""
    found = []
    for ds in snap.daemonsets:
        s = ds.status
        if s.observed_generation < ds.metadata.generation or \
                s.desired_number_scheduled != len(snap.nodes) or \
                s.current_number_scheduled != s.desired_number_scheduled or \
                s.number_available != s.desired_number_scheduled or s.number_misscheduled:
            found.append(f"DaemonSet {ds.metadata.name}: desired {s.desired_number_scheduled} "
                         f"(for {len(snap.nodes)} nodes), scheduled "
                         f"{s.current_number_scheduled}, available {s.number_available}, "
                         f"misscheduled {s.number_misscheduled}")
    return found


def no_pods_on_missing_nodes(snap: Snapshot) -> list[str]:
    """No pod stays bound to a node that no longer exists (pod GC removed them)."""
    names = {n.metadata.name for n in snap.nodes}
    return [f"pod {p.metadata.namespace}/{p.metadata.name} is bound to missing node "
            f"{p.spec.node_name}" for p in snap.pods if p.spec.node_name and
            p.spec.node_name not in names]


def _ready(node: core_pb2.Node) -> str:
    return next((c.status for c in node.status.conditions if c.type == "Ready"), "")


def nodes_ready(snap: Snapshot) -> list[str]:
    """Every node Ready, without the node lifecycle controller's taints."""
    found = []
    for node in snap.nodes:
        ready = _ready(node)
        if ready != "True":
            found.append(f"node {node.metadata.name} is not Ready ({ready or 'no condition'})")
        if any(t.key.startswith("node.kubernetes.io/") for t in node.spec.taints):
            found.append(f"node {node.metadata.name} still has taints "
                         f"{[t.key for t in node.spec.taints]}")
    return found


CONVERGED = (one_daemon_pod_per_node, replicasets_converged, daemonsets_converged,
             no_pods_on_missing_nodes, nodes_ready)


def undecodable_values(items: list[tuple[bytes, bytes]]) -> list[str]:
    """Every value stored (under /registry/ and /registry-uncached/) decodes as the kind its key
    names, with the key's name and namespace, and encodes back to the very same bytes (nothing
    unknown or torn in it). The watch cache's progress mark holds nothing and is skipped."""
    by_plural = {k.plural: k for k in kinds.all_kinds()}
    found = []
    for key, value in items:
        if key == keys.PROGRESS_KEY:
            continue
        text = key.decode(errors="replace")
        kind = by_plural.get(keys.resource_of(key))
        if kind is None:
            found.append(f"{text}: not a known kind")
            continue
        try:
            obj: Any = kind.message.FromString(value)
        except Exception as exc:
            found.append(f"{text}: does not decode as {kind.name}: {exc}")
            continue
        meta = obj.metadata
        if keys.object_key(kind, meta.namespace, meta.name) != key:
            found.append(f"{text}: holds {kind.name} {meta.namespace}/{meta.name}")
        elif not meta.uid:
            found.append(f"{text}: {kind.name} without a uid")
        elif obj.SerializeToString(deterministic=True) != value:
            found.append(f"{text}: does not encode back to the stored bytes")
    return found
