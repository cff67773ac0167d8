"""The garbage collector's dependency graph, fed plain objects: what it records and queues."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.controllers.garbagecollector.graph import (
    AbsentOwnerCache,
    GraphBuilder,
    GraphNode,
    Identity,
    identity_of,
    owner_identity,
)
from kemu.api.meta import now_rfc3339
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2, meta_pb2

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self) -> None:
        self.deletes: list[str] = []
        self.orphans: list[str] = []
        self.absent = AbsentOwnerCache(capacity=3)
        self.graph = GraphBuilder(lambda n: self.deletes.append(n.identity.name),
                                  lambda n: self.orphans.append(n.identity.name), self.absent)

    def take(self) -> tuple[list[str], list[str]]:
        out = (sorted(self.deletes), sorted(self.orphans))
        self.deletes.clear()
        self.orphans.clear()
        return out


def rs(name: str, uid: str, *, deleting: str = "") -> apps_pb2.ReplicaSet:
    out = apps_pb2.ReplicaSet()
    out.metadata.name, out.metadata.namespace, out.metadata.uid = name, "default", uid
    if deleting:
        out.metadata.deletion_timestamp = now_rfc3339()
        out.metadata.finalizers.append(deleting)
    return out


def ref(owner: Any, block: bool = True, kind: str = "ReplicaSet") -> meta_pb2.OwnerReference:
    return meta_pb2.OwnerReference(api_version="apps/v1", kind=kind, name=owner.metadata.name,
                                   uid=owner.metadata.uid, controller=True,
                                   block_owner_deletion=block)


def pod(name: str, *refs: meta_pb2.OwnerReference) -> core_pb2.Pod:
    out = core_pb2.Pod()
    out.metadata.name, out.metadata.namespace, out.metadata.uid = name, "default", f"uid-{name}"
    out.metadata.owner_references.extend(refs)
    return out


def test_unknown_owner_becomes_a_virtual_node_to_verify() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(pod("p1", ref(owner)))
    r.graph.on_add(pod("p2", ref(owner)))
    virtual = r.graph.get("u1")
    assert virtual is not None and not virtual.observed
    assert virtual.identity == Identity("apps/v1", "ReplicaSet", "default", "web", "u1")
    assert sorted(virtual.dependents) == ["uid-p1", "uid-p2"]
    assert r.take() == (["web"], [])
    r.graph.on_add(owner)
    assert virtual.observed and r.graph.get("u1") is virtual
    assert r.take() == ([], []), "an owner seen by its informer needs no check"


def test_deleted_owner_queues_its_dependents_and_is_remembered_absent() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(owner)
    r.graph.on_add(pod("p1", ref(owner)))
    r.graph.on_add(pod("loner"))
    assert r.take() == ([], [])
    r.graph.on_delete(owner)
    assert r.graph.get("u1") is None
    assert r.take() == (["p1"], [])
    assert identity_of(owner) in r.absent


def test_foreground_owner_queues_dependents_and_itself_once() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(owner)
    r.graph.on_add(pod("p1", ref(owner)))
    r.graph.on_add(pod("p2", ref(owner, block=False)))
    deleting = rs("web", "u1", deleting="foregroundDeletion")
    r.graph.on_update(owner, deleting)
    node = r.graph.get("u1")
    assert node is not None and node.deleting_dependents
    assert r.take() == (["p1", "p2", "web"], [])
    r.graph.on_update(deleting, clone(deleting))
    assert r.take() == ([], []), "only the transition queues"
    assert [d.identity.name for d in node.blocking_dependents()] == ["p1"]
    # The last blocking dependent going away wakes the owner up.
    r.graph.on_delete(pod("p1", ref(owner)))
    assert r.take() == (["web"], [])


def test_orphaning_owner_is_queued_for_orphaning() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(owner)
    r.graph.on_update(owner, rs("web", "u1", deleting="orphan"))
    assert r.take() == ([], ["web"])


def test_owners_already_deleting_at_start_up_are_handled() -> None:
    r = Recorder()
    r.graph.on_add(rs("a", "ua", deleting="orphan"))
    r.graph.on_add(rs("b", "ub", deleting="foregroundDeletion"))
    assert r.take() == (["b"], ["a"])
    node = r.graph.get("ub")
    assert node is not None and node.deleting_dependents and node.being_deleted


def test_dependent_that_stops_blocking_wakes_a_waiting_owner() -> None:
    r = Recorder()
    owner = rs("web", "u1", deleting="foregroundDeletion")
    r.graph.on_add(owner)
    p1 = pod("p1", ref(owner))
    r.graph.on_add(p1)
    r.take()
    unblocked = pod("p1", ref(owner, block=False))
    r.graph.on_update(p1, unblocked)
    assert r.take() == (["web"], [])
    released = pod("p1")
    r.graph.on_update(unblocked, released)
    node = r.graph.get("u1")
    assert node is not None and not node.dependents
    assert r.take() == ([], []), "a non-blocking reference removed wakes nobody"


def test_changed_owner_references_move_the_dependent() -> None:
    r = Recorder()
    first, second = rs("first", "u1"), rs("second", "u2")
    r.graph.on_add(first)
    r.graph.on_add(second)
    p = pod("p", ref(first))
    r.graph.on_add(p)
    r.graph.on_update(p, pod("p", ref(second)))
    node1, node2 = r.graph.get("u1"), r.graph.get("u2")
    assert node1 is not None and node2 is not None
    assert not node1.dependents and list(node2.dependents) == ["uid-p"]


def test_virtual_delete_removes_a_virtual_owner_and_queues_dependents() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(pod("p1", ref(owner)))
    r.take()
    r.graph.virtual_delete(identity_of(owner))
    assert r.graph.get("u1") is None
    assert r.take() == (["p1"], [])


def test_virtual_delete_of_other_coordinates_keeps_the_real_node() -> None:
    r = Recorder()
    owner = rs("web", "u1")
    r.graph.on_add(owner)
    wrong = meta_pb2.OwnerReference(api_version="apps/v1", kind="ReplicaSet", name="webb",
                                    uid="u1")
    r.graph.on_add(pod("right", ref(owner)))
    r.graph.on_add(pod("wrong", wrong))
    r.take()
    r.graph.virtual_delete(Identity("apps/v1", "ReplicaSet", "default", "webb", "u1"))
    node = r.graph.get("u1")
    assert node is not None and node.observed
    assert r.take() == (["wrong"], [])


def test_owner_identity_of_cluster_scoped_owners() -> None:
    node_ref = meta_pb2.OwnerReference(api_version="v1", kind="Node", name="n1", uid="u")
    assert owner_identity(node_ref, "kube-node-lease").namespace == ""
    rs_ref = meta_pb2.OwnerReference(api_version="apps/v1", kind="ReplicaSet", name="r", uid="u")
    assert owner_identity(rs_ref, "team").namespace == "team"


def test_absent_owner_cache_is_bounded() -> None:
    cache = AbsentOwnerCache(capacity=2)
    ids = [Identity("v1", "Pod", "default", f"p{i}", f"u{i}") for i in range(3)]
    cache.add(ids[0])
    cache.add(ids[1])
    assert ids[0] in cache  # touched: now the most recent
    cache.add(ids[2])
    assert ids[1] not in cache and ids[0] in cache and ids[2] in cache


def test_blocking_dependents_reads_the_reference_to_this_owner() -> None:
    owner = GraphNode(Identity("apps/v1", "ReplicaSet", "default", "o", "uo"))
    other = meta_pb2.OwnerReference(uid="ux", block_owner_deletion=True)
    dep = GraphNode(Identity("v1", "Pod", "default", "d", "ud"),
                    owners=[other, meta_pb2.OwnerReference(uid="uo", block_owner_deletion=False)])
    owner.dependents[dep.uid] = dep
    assert owner.blocking_dependents() == []
