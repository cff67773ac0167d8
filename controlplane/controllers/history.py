"""ControllerRevisions: the recorded history of a DaemonSet's or StatefulSet's template
(Kubernetes' ``pkg/controller/history``).

A revision is a snapshot (``data``) of the part of its parent that a rollout changes, numbered
(``revision``) in the order the parent went through them, owned by the parent through a
controller reference, and named ``<parent>-<hash>``. When two different snapshots would get the
same name, the parent's ``collisionCount`` is added to the hash and the name changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from controlplane.controllers.hashing import template_hash
from controlplane.controllers.informer import Informer
from kemu.api import codec, kinds
from kemu.api.errors import ApiError, Code, Reason
from kemu.api.labels import Selector
from kemu.api.meta import controller_of, parse_time
from kemu.client.interface import ApiClient, clone
from kemu.v1 import apps_pb2, meta_pb2

# The label StatefulSets' revisions carry with the hash of their data.
CONTROLLER_REVISION_HASH_LABEL = "controller.kubernetes.io/hash"
_MAX_PREFIX = 223


def revision_name(prefix: str, revision_hash: str) -> str:
    """``prefix-hash``, the prefix cut so the name stays within 253 characters."""
    return f"{prefix[:_MAX_PREFIX]}-{revision_hash}"


def encode_data(document: Any) -> bytes:
    """Compact JSON with sorted keys: how Kubernetes marshals the map it stores as data."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def hash_revision(revision: apps_pb2.ControllerRevision, probe: int | None = None) -> str:
    """A short safe hash of the revision's data, varied by ``probe`` (the collision count)."""
    return template_hash(revision.data, probe)


def controller_reference(parent: Any) -> meta_pb2.OwnerReference:
    kind = kinds.of(parent)
    return meta_pb2.OwnerReference(api_version=kind.api_version, kind=kind.name,
                                   name=parent.metadata.name, uid=parent.metadata.uid,
                                   controller=True, block_owner_deletion=True)


def new_controller_revision(parent: Any, template_labels: Mapping[str, str], data: bytes,
                            revision: int, collision_count: int | None
                            ) -> apps_pb2.ControllerRevision:
    """A revision of ``parent`` (StatefulSet style: named and labelled by its data's hash)."""
    out = apps_pb2.ControllerRevision()
    out.metadata.namespace = parent.metadata.namespace
    out.metadata.labels.update(template_labels)
    out.metadata.owner_references.append(controller_reference(parent))
    out.data.raw = data
    out.revision = revision
    revision_hash = hash_revision(out, collision_count)
    out.metadata.name = revision_name(parent.metadata.name, revision_hash)
    out.metadata.labels[CONTROLLER_REVISION_HASH_LABEL] = revision_hash
    return out


def _order(revision: apps_pb2.ControllerRevision) -> tuple[int, float, str]:
    return (revision.revision, parse_time(revision.metadata.creation_timestamp),
            revision.metadata.name)


def sort_revisions(revisions: Iterable[apps_pb2.ControllerRevision]
                   ) -> list[apps_pb2.ControllerRevision]:
    """Oldest first: by revision number, then creation time, then name."""
    return sorted(revisions, key=_order)


def max_revision(revisions: Iterable[apps_pb2.ControllerRevision]) -> int:
    return max((r.revision for r in revisions), default=0)


def next_revision(revisions: Iterable[apps_pb2.ControllerRevision]) -> int:
    return max_revision(revisions) + 1


def equal_revision(a: apps_pb2.ControllerRevision | None,
                   b: apps_pb2.ControllerRevision | None) -> bool:
    """Both absent, or both with the same data (a differing hash label settles it early)."""
    if a is None or b is None:
        return a is b
    hash_a = a.metadata.labels.get(CONTROLLER_REVISION_HASH_LABEL)
    hash_b = b.metadata.labels.get(CONTROLLER_REVISION_HASH_LABEL)
    if hash_a and hash_b and hash_a != hash_b:
        return False
    return a.data.raw == b.data.raw


def find_equal_revisions(revisions: Iterable[apps_pb2.ControllerRevision],
                         needle: apps_pb2.ControllerRevision
                         ) -> list[apps_pb2.ControllerRevision]:
    return [r for r in revisions if equal_revision(r, needle)]


class History:
    """Reads revisions from an informer, writes them through the API."""

    def __init__(self, client: ApiClient, informer: Informer[apps_pb2.ControllerRevision]):
        self.client = client
        self.informer = informer

    def list_controller_revisions(self, parent: Any, selector: Selector
                                  ) -> list[apps_pb2.ControllerRevision]:
        """Revisions in the parent's namespace matching ``selector`` that the parent controls
        or nobody controls."""
        owned = []
        for revision in self.informer.list(parent.metadata.namespace):
            if not selector.matches(revision.metadata.labels):
                continue
            ref = controller_of(revision)
            if ref is None or ref.uid == parent.metadata.uid:
                owned.append(revision)
        return owned

    async def create_controller_revision(self, parent: Any,
                                         revision: apps_pb2.ControllerRevision,
                                         collision_count: int
                                         ) -> tuple[apps_pb2.ControllerRevision, int]:
        """Create ``revision`` named by its hash; on a name taken by different data, count a
        collision and try the next name. Returns the revision and the new collision count."""
        candidate = clone(revision)
        namespace = parent.metadata.namespace
        while True:
            revision_hash = hash_revision(revision, collision_count)
            candidate.metadata.name = revision_name(parent.metadata.name, revision_hash)
            candidate.metadata.namespace = namespace
            try:
                return await self.client.create(candidate), collision_count
            except ApiError as exc:
                if exc.code != Code.ALREADY_EXISTS:
                    raise
            existing = await self.client.get(apps_pb2.ControllerRevision,
                                             candidate.metadata.name, namespace)
            if existing.data.raw == candidate.data.raw:
                return existing, collision_count
            collision_count += 1

    async def adopt_controller_revision(self, parent: Any,
                                        revision: apps_pb2.ControllerRevision
                                        ) -> apps_pb2.ControllerRevision:
        """Make ``parent`` the controller of an orphaned revision (a merge patch carrying the
        revision's resourceVersion, so a concurrent adoption is a conflict, not a double
        owner)."""
        references = [codec.encode(r) for r in revision.metadata.owner_references]
        references.append(codec.encode(controller_reference(parent)))
        patch = {"metadata": {"ownerReferences": references,
                              "resourceVersion": revision.metadata.resource_version}}
        adopted: apps_pb2.ControllerRevision = await self.client.patch(
            apps_pb2.ControllerRevision, revision.metadata.name, revision.metadata.namespace,
            patch)
        return adopted

    async def update_revision_number(self, revision: apps_pb2.ControllerRevision,
                                     number: int) -> apps_pb2.ControllerRevision:
        """Set ``revision.revision``, retrying on conflicts against the latest copy."""
        current = clone(revision)
        while current.revision != number:
            current.revision = number
            try:
                return await self.client.update(current)
            except ApiError as exc:
                if exc.reason != Reason.CONFLICT.value:
                    raise
            current = await self.client.get(apps_pb2.ControllerRevision,
                                            revision.metadata.name, revision.metadata.namespace)
        return current

    async def delete_controller_revision(self, revision: apps_pb2.ControllerRevision) -> None:
        try:
            await self.client.delete(apps_pb2.ControllerRevision, revision.metadata.name,
                                     revision.metadata.namespace,
                                     precondition_uid=revision.metadata.uid)
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND:
                raise
