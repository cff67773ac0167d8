"""The dependency graph: every object the informers have seen, linked to its owners, plus
"virtual" nodes for owners that are referenced but have not been seen (they may not exist).

The builder turns informer events into graph changes and into work for the collector:
- a virtual owner is queued for a check against the API (is it really there?);
- an object that is deleted queues its dependents (are they garbage now?);
- an owner that starts waiting for its dependents (``foregroundDeletion``) queues them and
  itself; one that starts waiting to orphan them (``orphan``) is queued for orphaning;
- a dependent that goes away or stops blocking queues its owner if that owner is waiting.

It decides nothing by itself and never calls the API: everything it queues is verified by the
collector with a live read before anything is deleted.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kemu.api import kinds
from kemu.v1 import meta_pb2

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


@dataclass(frozen=True)
class Identity:
    """Where an object is: its coordinates as an owner reference names them, and its uid."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.uid})"


def identity_of(obj: Any) -> Identity:
    kind = kinds.of(obj)
    meta = obj.metadata
    return Identity(kind.api_version, kind.name, meta.namespace, meta.name, meta.uid)


def owner_identity(ref: meta_pb2.OwnerReference, dependent_namespace: str) -> Identity:
    """An owner reference's coordinates, seen from a dependent in ``dependent_namespace``: a
    namespaced owner is in the dependent's namespace, a cluster-scoped one in none."""
    try:
        namespaced = kinds.by_name(ref.kind).namespaced
    except kinds.UnknownKindError:
        namespaced = True
    return Identity(ref.api_version, ref.kind, dependent_namespace if namespaced else "",
                    ref.name, ref.uid)


def being_deleted(obj: Any) -> bool:
    return bool(obj.metadata.deletion_timestamp)


def has_finalizer(obj: Any, finalizer: str) -> bool:
    return finalizer in obj.metadata.finalizers


@dataclass(eq=False)
class GraphNode:
    identity: Identity
    owners: list[meta_pb2.OwnerReference] = field(default_factory=list)
    dependents: dict[str, GraphNode] = field(default_factory=dict)
    # False for a virtual node: an owner referenced by someone but never seen by an informer.
    observed: bool = True
    being_deleted: bool = False
    deleting_dependents: bool = False

    @property
    def uid(self) -> str:
        return self.identity.uid

    def owner_ref(self, uid: str) -> meta_pb2.OwnerReference | None:
        for ref in self.owners:
            if ref.uid == uid:
                return ref
        return None

    def blocking_dependents(self) -> list[GraphNode]:
        """Dependents whose reference to this node has blockOwnerDeletion set."""
        blocking = []
        for dependent in self.dependents.values():
            ref = dependent.owner_ref(self.uid)
            if ref is not None and ref.block_owner_deletion:
                blocking.append(dependent)
        return blocking


class AbsentOwnerCache:
    """Owners recently verified to be gone (least recently used dropped first), so a hundred
    dependents of one deleted owner cost one read of it, not a hundred."""

    def __init__(self, capacity: int = 500):
        self.capacity = capacity
        self._entries: collections.OrderedDict[Identity, None] = collections.OrderedDict()

    def add(self, identity: Identity) -> None:
        self._entries[identity] = None
        self._entries.move_to_end(identity)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __contains__(self, identity: object) -> bool:
        if identity in self._entries:
            self._entries.move_to_end(identity)  # type: ignore[arg-type]
            return True
        return False


Enqueue = Callable[[GraphNode], None]


def _starts_waiting(old: Any, new: Any, finalizer: str) -> bool:
    if not (being_deleted(new) and has_finalizer(new, finalizer)):
        return False
    return old is None or not (being_deleted(old) and has_finalizer(old, finalizer))


def _reference_diffs(old: Sequence[meta_pb2.OwnerReference],
                     new: Sequence[meta_pb2.OwnerReference]
                     ) -> tuple[list[meta_pb2.OwnerReference], list[meta_pb2.OwnerReference],
                                list[tuple[meta_pb2.OwnerReference, meta_pb2.OwnerReference]]]:
    old_by_uid = {r.uid: r for r in old}
    new_by_uid = {r.uid: r for r in new}
    added = [r for uid, r in new_by_uid.items() if uid not in old_by_uid]
    removed = [r for uid, r in old_by_uid.items() if uid not in new_by_uid]
    changed = [(old_by_uid[uid], r) for uid, r in new_by_uid.items()
               if uid in old_by_uid and old_by_uid[uid] != r]
    return added, removed, changed


class GraphBuilder:
    def __init__(self, attempt_to_delete: Enqueue, attempt_to_orphan: Enqueue,
                 absent_owners: AbsentOwnerCache):
        self.attempt_to_delete = attempt_to_delete
        self.attempt_to_orphan = attempt_to_orphan
        self.absent_owners = absent_owners
        self.nodes: dict[str, GraphNode] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, uid: str) -> GraphNode | None:
        return self.nodes.get(uid)

    # -- informer events --------------------------------------------------------------------
    def on_add(self, obj: Any) -> None:
        self._upsert(None, obj)

    def on_update(self, old: Any, new: Any) -> None:
        self._upsert(old, new)

    def on_delete(self, obj: Any) -> None:
        node = self.nodes.get(obj.metadata.uid)
        if node is not None:
            self._remove_and_notify(node)

    def _upsert(self, old: Any, obj: Any) -> None:
        uid = obj.metadata.uid
        node = self.nodes.get(uid)
        refs = list(obj.metadata.owner_references)
        if node is None:
            node = GraphNode(identity_of(obj), refs,
                             being_deleted=being_deleted(obj),
                             deleting_dependents=being_deleted(obj) and
                             has_finalizer(obj, FOREGROUND_FINALIZER))
            self.nodes[uid] = node
            self._add_dependent_to_owners(node, refs)
            self._process_transitions(old, obj, node)
            return
        if not node.observed:
            node.identity = identity_of(obj)
            node.observed = True
        if node.owners != refs:
            added, removed, changed = _reference_diffs(node.owners, refs)
            self._queue_unblocked_owners(removed, changed)
            node.owners = refs
            self._add_dependent_to_owners(node, added)
            self._remove_dependent_from_owners(node, removed)
        if being_deleted(obj):
            node.being_deleted = True
        self._process_transitions(old, obj, node)

    def _process_transitions(self, old: Any, new: Any, node: GraphNode) -> None:
        if _starts_waiting(old, new, ORPHAN_FINALIZER):
            self.attempt_to_orphan(node)
            return
        if _starts_waiting(old, new, FOREGROUND_FINALIZER):
            node.deleting_dependents = True
            for dependent in list(node.dependents.values()):
                self.attempt_to_delete(dependent)
            self.attempt_to_delete(node)

    def _add_dependent_to_owners(self, node: GraphNode,
                                 refs: Iterable[meta_pb2.OwnerReference]) -> None:
        for ref in refs:
            owner = self.nodes.get(ref.uid)
            if owner is None:
                owner = GraphNode(owner_identity(ref, node.identity.namespace), observed=False)
                self.nodes[ref.uid] = owner
                owner.dependents[node.uid] = node
                # Nobody has seen this owner: have it verified against the API.
                self.attempt_to_delete(owner)
            else:
                owner.dependents[node.uid] = node

    def _remove_dependent_from_owners(self, node: GraphNode,
                                      refs: Iterable[meta_pb2.OwnerReference]) -> None:
        for ref in refs:
            owner = self.nodes.get(ref.uid)
            if owner is not None:
                owner.dependents.pop(node.uid, None)

    def _queue_unblocked_owners(self, removed: Iterable[meta_pb2.OwnerReference],
                                changed: Iterable[tuple[meta_pb2.OwnerReference,
                                                        meta_pb2.OwnerReference]]) -> None:
        """A dependent that stops blocking may be what a waiting owner waits for."""
        unblocked = [r.uid for r in removed if r.block_owner_deletion]
        unblocked += [new.uid for old, new in changed
                      if old.block_owner_deletion and not new.block_owner_deletion]
        for uid in unblocked:
            owner = self.nodes.get(uid)
            if owner is not None and owner.deleting_dependents:
                self.attempt_to_delete(owner)

    def _remove_and_notify(self, node: GraphNode) -> None:
        self.nodes.pop(node.uid, None)
        self._remove_dependent_from_owners(node, node.owners)
        if node.dependents:
            self.absent_owners.add(node.identity)
        for dependent in list(node.dependents.values()):
            self.attempt_to_delete(dependent)
        for ref in node.owners:
            owner = self.nodes.get(ref.uid)
            if owner is not None and owner.deleting_dependents:
                # Maybe that was the last dependent it waited for.
                self.attempt_to_delete(owner)

    # -- verdicts from the collector ----------------------------------------------------------
    def virtual_delete(self, gone: Identity) -> None:
        """The collector read ``gone`` from the API and found nothing (or another uid)."""
        node = self.nodes.get(gone.uid)
        if node is None:
            return
        matching, other = self._partition_dependents(node, gone)
        if node.observed and node.identity != gone:
            # The informer saw the real object elsewhere: only dependents that point at the
            # coordinates that turned out empty are affected.
            self._dependents_point_at_nothing(gone, matching)
            return
        if not node.observed and other:
            # Dependents disagree about where this owner is: settle those that agree with the
            # verified coordinates, keep the node for the others.
            self._dependents_point_at_nothing(gone, matching)
            if node.identity == gone:
                ref = other[0].owner_ref(node.uid)
                if ref is not None:
                    node.identity = owner_identity(ref, other[0].identity.namespace)
                    self.attempt_to_delete(node)
            return
        self._remove_and_notify(node)

    def _dependents_point_at_nothing(self, gone: Identity, dependents: list[GraphNode]) -> None:
        if dependents:
            self.absent_owners.add(gone)
        for dependent in dependents:
            self.attempt_to_delete(dependent)

    @staticmethod
    def _partition_dependents(node: GraphNode, identity: Identity
                              ) -> tuple[list[GraphNode], list[GraphNode]]:
        matching, other = [], []
        for dependent in node.dependents.values():
            ref = dependent.owner_ref(node.uid)
            if ref is not None and owner_identity(ref, dependent.identity.namespace) == identity:
                matching.append(dependent)
            else:
                other.append(dependent)
        return matching, other
