"""The invariant ledger and the snapshot checks, on hand-made objects (no processes)."""

from __future__ import annotations

import pytest

from chaos.invariants import (
    PodLedger,
    Snapshot,
    no_pods_on_missing_nodes,
    nodes_ready,
    one_daemon_pod_per_node,
    undecodable_values,
)
from controlplane.apiserver.keys import PROGRESS_KEY
from kemu.v1 import apps_pb2, core_pb2

pytestmark = pytest.mark.unit


def replicaset(replicas: int, version: int) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.uid = "web", "rs-uid"
    rs.metadata.resource_version = str(version)
    rs.spec.replicas = replicas
    return rs


def daemonset() -> apps_pb2.DaemonSet:
    ds = apps_pb2.DaemonSet()
    ds.metadata.name, ds.metadata.uid = "demo", "ds-uid"
    return ds


def pod(name: str, kind: str, owner: str, node: str = "", deleting: bool = False) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.uid, p.metadata.namespace = name, f"uid-{name}", "chaos"
    p.metadata.owner_references.add(kind=kind, uid=owner, name="owner", controller=True)
    p.spec.node_name = node
    if deleting:
        p.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"
    return p


def test_a_second_daemon_pod_on_a_node_is_caught_even_if_deleted_at_once() -> None:
    ledger = PodLedger()
    ledger.daemonset(daemonset(), 10)
    ledger.pod("ADDED", pod("demo-a", "DaemonSet", "ds-uid", "node-1"), 11)
    ledger.pod("ADDED", pod("demo-b", "DaemonSet", "ds-uid", "node-2"), 12)
    ledger.pod("ADDED", pod("demo-c", "DaemonSet", "ds-uid", "node-1"), 13)
    ledger.pod("DELETED", pod("demo-c", "DaemonSet", "ds-uid", "node-1"), 14)
    ledger.advance("DaemonSet", 14)
    assert ledger.violations == ["DaemonSet demo had 2 active pods on node node-1 at revision 13: "
                                 "demo-a, demo-c"]


def test_a_daemon_pod_pinned_by_affinity_counts_for_its_node() -> None:
    ledger = PodLedger()
    ledger.daemonset(daemonset(), 10)
    ledger.pod("ADDED", pod("demo-a", "DaemonSet", "ds-uid", "node-1"), 11)
    pinned = pod("demo-b", "DaemonSet", "ds-uid")
    term = pinned.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=["node-1"])
    ledger.pod("ADDED", pinned, 12)
    ledger.settle(final=True)
    assert len(ledger.violations) == 1 and "node node-1" in ledger.violations[0]


def test_a_replacement_for_a_terminating_pod_is_no_excess() -> None:
    ledger = PodLedger()
    ledger.replicaset(replicaset(2, 10), 10)
    ledger.pod("ADDED", pod("a", "ReplicaSet", "rs-uid"), 11)
    ledger.pod("ADDED", pod("b", "ReplicaSet", "rs-uid"), 12)
    ledger.pod("MODIFIED", pod("b", "ReplicaSet", "rs-uid", deleting=True), 13)
    ledger.pod("ADDED", pod("c", "ReplicaSet", "rs-uid"), 14)
    ledger.settle(final=True)
    assert ledger.violations == []


def test_replicaset_excess_is_judged_against_the_spec_at_that_revision() -> None:
    ledger = PodLedger()
    ledger.replicaset(replicaset(1, 10), 10)
    ledger.pod("ADDED", pod("a", "ReplicaSet", "rs-uid"), 11)
    # Scaled to 3 at revision 20; the pod watch runs ahead of the ReplicaSet watch.
    ledger.pod("ADDED", pod("b", "ReplicaSet", "rs-uid"), 21)
    ledger.pod("ADDED", pod("c", "ReplicaSet", "rs-uid"), 22)
    assert ledger.pending and not ledger.violations
    ledger.replicaset(replicaset(3, 20), 20)
    ledger.advance("ReplicaSet", 22)
    assert ledger.violations == [] and not ledger.pending
    # Scaled down to 1 at 30: the surplus is deleted afterwards, which is no violation ...
    ledger.replicaset(replicaset(1, 30), 30)
    ledger.pod("MODIFIED", pod("b", "ReplicaSet", "rs-uid", deleting=True), 31)
    # ... but a pod created after the scale-down, with two still active, is one.
    ledger.pod("ADDED", pod("d", "ReplicaSet", "rs-uid"), 32)
    ledger.advance("ReplicaSet", 32)
    assert ledger.violations == ["ReplicaSet web had 3 active pods at revision 32, spec.replicas "
                                 "was 1: a, c, d"]


def test_snapshot_checks() -> None:
    node = core_pb2.Node()
    node.metadata.name = "node-1"
    node.status.conditions.add(type="Ready", status="Unknown")
    node.spec.taints.add(key="node.kubernetes.io/unreachable", effect="NoExecute")
    ds = daemonset()
    snap = Snapshot(nodes=[node], daemonsets=[ds], pods=[
        pod("demo-a", "DaemonSet", "ds-uid", "node-1"), pod("demo-b", "DaemonSet", "ds-uid", "node-1"),
        pod("web-a", "ReplicaSet", "rs-uid", "node-9")])
    assert one_daemon_pod_per_node(snap) == ["DaemonSet demo has 2 active pods on node-1: demo-a, "
                                             "demo-b"]
    assert no_pods_on_missing_nodes(snap) == ["pod chaos/web-a is bound to missing node node-9"]
    assert nodes_ready(snap) == ["node node-1 is not Ready (Unknown)",
                                 "node node-1 still has taints ['node.kubernetes.io/unreachable']"]


def test_etcd_values_must_decode_under_their_key() -> None:
    cm = core_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace, cm.metadata.uid = "a", "chaos", "u1"
    good = cm.SerializeToString(deterministic=True)
    assert undecodable_values([(b"/registry/configmaps/chaos/a", good)]) == []
    found = undecodable_values([
        (b"/registry/configmaps/chaos/b", good),
        (b"/registry/configmaps/chaos/a", b"\xff\xff\xff"),
        (b"/registry/nonsense/x", good),
        (b"/registry/configmaps/chaos/a", good + good)])
    assert found[0] == "/registry/configmaps/chaos/b: holds ConfigMap chaos/a"
    assert found[1].startswith("/registry/configmaps/chaos/a: does not decode as ConfigMap")
    assert found[2] == "/registry/nonsense/x: not a known kind"
    assert found[3] == "/registry/configmaps/chaos/a: does not encode back to the stored bytes"


def test_etcd_values_of_uncached_kinds_live_under_their_own_root() -> None:
    event = core_pb2.Event(reason="Started")
    event.metadata.name, event.metadata.namespace, event.metadata.uid = "e", "chaos", "u2"
    good = event.SerializeToString(deterministic=True)
    assert undecodable_values([(b"/registry-uncached/events/chaos/e", good),
                               (PROGRESS_KEY, b"")]) == []
    assert undecodable_values([(b"/registry/events/chaos/e", good)]) == [
        "/registry/events/chaos/e: holds Event chaos/e"]
