"""The garbage collector's workers: verify against the API, then delete, orphan or finish.

- *attempt to delete* an object: read it live (gone, or another uid: tell the graph); read
  each owner it names (by name, checking the uid). Owners that are gone are *dangling*, owners
  being deleted in the foreground are *waiting*, the rest are *solid*. With a solid owner left
  the object stays and only loses its dangling and waiting references; otherwise it is deleted
  (in the foreground if a waiting owner needs its own dependents gone first; else with the
  policy its own finalizers ask for, Background by default). Pods are deleted gracefully.
- an owner *deleting its dependents* (``foregroundDeletion``) waits until no dependent with
  ``blockOwnerDeletion`` is left, then its finalizer is removed and the API server deletes it.
- an owner *orphaning* (``orphan``) has its reference removed from every dependent, then its
  finalizer removed.

Owners deleted while the collector was not running are found at start-up: their dependents
name owners nobody has seen, and the live read says they are gone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.garbagecollector.graph import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    AbsentOwnerCache,
    GraphBuilder,
    GraphNode,
    Identity,
    owner_identity,
)
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import codec, kinds
from kemu.api.errors import ApiError, Code, Reason
from kemu.v1 import meta_pb2

log = logging.getLogger(__name__)

# Kinds the collector does not watch (as Kubernetes ignores events).
IGNORED_KINDS = frozenset({"Event"})
_DELETE = "delete/"
_ORPHAN = "orphan/"


class NamespacedOwnerOfClusterScopedObjectError(Exception):
    """A cluster-scoped object names a namespaced owner: it can never be resolved."""


def _not_found(exc: ApiError) -> bool:
    return exc.code == Code.NOT_FOUND


def _conflict(exc: ApiError) -> bool:
    return exc.reason == Reason.CONFLICT.value


class GarbageCollector(Controller):
    name = "garbagecollector"
    workers = 4

    def __init__(self, context: ControllerContext):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.absent_owners = AbsentOwnerCache()
        self.graph = GraphBuilder(self._queue_delete, self._queue_orphan, self.absent_owners)
        self._virtual_retries: dict[str, int] = {}
        for kind in kinds.all_kinds():
            if kind.name in IGNORED_KINDS:
                continue
            informer = context.informers.informer(kind.message)
            informer.add_handler(self.graph.on_add, self.graph.on_update, self.graph.on_delete)

    def _queue_delete(self, node: GraphNode) -> None:
        self.enqueue(_DELETE + node.uid)

    def _queue_orphan(self, node: GraphNode) -> None:
        self.enqueue(_ORPHAN + node.uid)

    async def sync(self, key: str) -> None:
        orphaning = key.startswith(_ORPHAN)
        uid = key.removeprefix(_ORPHAN if orphaning else _DELETE)
        node = self.graph.get(uid)
        if node is None:
            self._virtual_retries.pop(uid, None)
            return
        if orphaning:
            await self.attempt_to_orphan(node)
            return
        try:
            verdict = await self.attempt_to_delete_item(node)
        except NamespacedOwnerOfClusterScopedObjectError as exc:
            log.info("garbage collector: %s", exc)
            return
        if verdict == "gone" or node.observed:
            self._virtual_retries.pop(uid, None)
            return
        # A virtual node whose object exists but no informer has reported yet: look again
        # later (with the queue's backoff), so a node added and removed during a watch gap
        # cannot stay forever.
        tries = self._virtual_retries.get(uid, 0)
        self._virtual_retries[uid] = tries + 1
        self.queue.add_after(key, min(self.queue.base_delay * 2 ** tries, self.queue.max_delay))

    # -- reading --------------------------------------------------------------------------------
    async def _get(self, identity: Identity) -> Any | None:
        """The live object at ``identity``'s coordinates, or None when there is none."""
        try:
            kind = kinds.by_name(identity.kind)
        except kinds.UnknownKindError as exc:
            # Retried with backoff, as Kubernetes retries a reference it cannot map.
            raise ApiError(Code.FAILED_PRECONDITION, Reason.BAD_REQUEST.value,
                           f"unable to map {identity.api_version}, Kind={identity.kind} to a "
                           f"resource: {exc}") from None
        try:
            return await self.client.get(kind.message, identity.name,
                                         identity.namespace if kind.namespaced else "")
        except ApiError as exc:
            if _not_found(exc):
                return None
            raise

    async def _is_dangling(self, ref: meta_pb2.OwnerReference, item: GraphNode
                           ) -> tuple[bool, Any | None]:
        owner = owner_identity(ref, item.identity.namespace)
        if owner in self.absent_owners:
            return True, None
        try:
            kind = kinds.by_name(ref.kind)
        except kinds.UnknownKindError:
            kind = None
        if kind is not None and kind.namespaced and not item.identity.namespace:
            raise NamespacedOwnerOfClusterScopedObjectError(
                f"{item.identity} is cluster-scoped, but refers to a namespaced owner of kind "
                f"{ref.kind!r}")
        live = await self._get(owner)
        if live is None or live.metadata.uid != ref.uid:
            self.absent_owners.add(owner)
            return True, None
        return False, live

    async def _classify(self, item: GraphNode, refs: list[meta_pb2.OwnerReference]
                        ) -> tuple[list[meta_pb2.OwnerReference], list[meta_pb2.OwnerReference],
                                   list[meta_pb2.OwnerReference]]:
        """(solid, dangling, waiting for dependents' deletion) owner references."""
        solid, dangling, waiting = [], [], []
        for ref in refs:
            is_dangling, owner = await self._is_dangling(ref, item)
            if is_dangling or owner is None:
                dangling.append(ref)
            elif owner.metadata.deletion_timestamp and \
                    FOREGROUND_FINALIZER in owner.metadata.finalizers:
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    # -- attempt to delete ----------------------------------------------------------------------
    async def attempt_to_delete_item(self, item: GraphNode) -> str:
        """Returns "gone" when the item turned out not to exist, else "done"."""
        if item.being_deleted and not item.deleting_dependents:
            return "done"  # on its way out; its dependents are looked at once it is gone
        latest = await self._get(item.identity)
        if latest is None or latest.metadata.uid != item.uid:
            log.debug("garbage collector: %s not found", item.identity)
            self.graph.virtual_delete(item.identity)
            return "gone"
        if item.deleting_dependents:
            await self._process_deleting_dependents(item)
            return "done"
        refs = list(latest.metadata.owner_references)
        if not refs:
            return "done"
        solid, dangling, waiting = await self._classify(item, refs)
        if solid:
            if dangling or waiting:
                log.info("garbage collector: removing dangling owner references %s from %s",
                         [r.name for r in dangling + waiting], item.identity)
                await self._remove_owner_references(item, {r.uid for r in dangling + waiting})
            return "done"
        if waiting and item.dependents:
            if any(d.deleting_dependents for d in item.dependents.values()):
                # A possible cycle of foreground deletions: stop this item blocking its owners.
                await self._unblock_owner_references(item)
            log.info("garbage collector: deleting %s in the foreground: an owner waits for its "
                     "dependents and it has dependents of its own", item.identity)
            return await self._delete(item, latest, "Foreground")
        if ORPHAN_FINALIZER in latest.metadata.finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in latest.metadata.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage collector: deleting %s (owners gone: %s), propagation %s",
                 item.identity, ", ".join(r.name for r in dangling + waiting), policy)
        return await self._delete(item, latest, policy)

    async def _delete(self, item: GraphNode, latest: Any, policy: str) -> str:
        kind = kinds.by_name(item.identity.kind)
        namespace = item.identity.namespace if kind.namespaced else ""
        try:
            try:
                await self.client.delete(kind.message, item.identity.name, namespace,
                                         propagation_policy=policy,
                                         precondition_uid=item.uid,
                                         precondition_resource_version=
                                         latest.metadata.resource_version)
            except ApiError as exc:
                if not _conflict(exc):
                    raise
                # Changed since it was read: delete anyway if its owners did not change.
                fresh = await self._get(item.identity)
                if fresh is None or fresh.metadata.uid != item.uid:
                    raise
                if list(fresh.metadata.owner_references) != \
                        list(latest.metadata.owner_references):
                    raise
                await self.client.delete(kind.message, item.identity.name, namespace,
                                         propagation_policy=policy, precondition_uid=item.uid)
        except ApiError as exc:
            if _not_found(exc):
                self.graph.virtual_delete(item.identity)
                return "gone"
            raise
        return "done"

    async def _process_deleting_dependents(self, item: GraphNode) -> None:
        blocking = item.blocking_dependents()
        if not blocking:
            log.info("garbage collector: %s has no blocking dependents left; removing %s",
                     item.identity, FOREGROUND_FINALIZER)
            await self._remove_finalizer(item, FOREGROUND_FINALIZER)
            return
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self._queue_delete(dependent)

    # -- orphaning --------------------------------------------------------------------------------
    async def attempt_to_orphan(self, owner: GraphNode) -> None:
        dependents = list(owner.dependents.values())
        results = await asyncio.gather(
            *(self._remove_owner_references(d, {owner.uid}) for d in dependents),
            return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        log.info("garbage collector: orphaned %d dependents of %s", len(dependents),
                 owner.identity)
        await self._remove_finalizer(owner, ORPHAN_FINALIZER)

    # -- writes -----------------------------------------------------------------------------------
    async def _patch_metadata(self, item: GraphNode, change: Any) -> None:
        """Apply ``change(latest) -> metadata patch or None`` with the object's resourceVersion
        as precondition, again from the latest copy on a conflict. Gone objects are skipped."""
        kind = kinds.by_name(item.identity.kind)
        namespace = item.identity.namespace if kind.namespaced else ""
        while True:
            latest = await self._get(item.identity)
            if latest is None or latest.metadata.uid != item.uid:
                return
            metadata = change(latest)
            if metadata is None:
                return
            metadata["resourceVersion"] = latest.metadata.resource_version
            try:
                await self.client.patch(kind.message, item.identity.name, namespace,
                                        {"metadata": metadata})
                return
            except ApiError as exc:
                if _not_found(exc):
                    return
                if not _conflict(exc):
                    raise

    async def _remove_owner_references(self, item: GraphNode, uids: set[str]) -> None:
        def without(latest: Any) -> dict[str, Any] | None:
            refs = list(latest.metadata.owner_references)
            kept = [r for r in refs if r.uid not in uids]
            if len(kept) == len(refs):
                return None
            return {"ownerReferences": [codec.encode(r) for r in kept]}
        await self._patch_metadata(item, without)

    async def _unblock_owner_references(self, item: GraphNode) -> None:
        def unblocked(latest: Any) -> dict[str, Any] | None:
            refs = list(latest.metadata.owner_references)
            if not any(r.block_owner_deletion for r in refs):
                return None
            out = []
            for ref in refs:
                encoded = codec.encode(ref)
                encoded["blockOwnerDeletion"] = False
                out.append(encoded)
            return {"ownerReferences": out}
        await self._patch_metadata(item, unblocked)

    async def _remove_finalizer(self, item: GraphNode, finalizer: str) -> None:
        def without(latest: Any) -> dict[str, Any] | None:
            finalizers = list(latest.metadata.finalizers)
            if finalizer not in finalizers:
                return None
            return {"finalizers": [f for f in finalizers if f != finalizer]}
        await self._patch_metadata(item, without)


@register("garbagecollector")
def _garbage_collector(context: ControllerContext) -> Controller:
    return GarbageCollector(context)
