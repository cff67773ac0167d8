"""Adoption and release by controller reference (Kubernetes' ``ControllerRefManager``).

A controller owns the objects whose controller ownerReference names it. Each sync it *claims*
the candidates it sees:

- owned by another controller: ignored;
- owned by us and matching the selector: kept;
- owned by us but no longer matching: released (our ownerReference removed), unless we are
  being deleted — then the garbage collector deals with them;
- an orphan that matches, is not being deleted, in our namespace, while we are not being
  deleted: adopted, after a fresh read of ourselves from the API server (not the cache)
  confirms we still exist with the same UID and no deletionTimestamp (``RecheckDeletionTimestamp``).

Adoption and release are JSON merge patches of ``metadata.ownerReferences`` carrying the
object's resourceVersion, so a concurrent change to the references is a conflict, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from google.protobuf.message import Message

from controlplane.controllers.podcontrol import controller_ref
from kemu.api import codec, kinds
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of
from kemu.client.interface import ApiClient

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Message)


class AdoptionRefusedError(Exception):
    """The owner may not adopt now (it is gone or being deleted)."""


def recheck_deletion_timestamp(client: ApiClient, owner: Any) -> Callable[[], Awaitable[None]]:
    """A check, run at most once, that ``owner`` still exists uncached and is not being deleted."""
    outcome: list[AdoptionRefusedError | None] = []

    async def check() -> None:
        if not outcome:
            outcome.append(await _recheck(client, owner))
        if outcome[0] is not None:
            raise outcome[0]

    return check


async def _recheck(client: ApiClient, owner: Any) -> AdoptionRefusedError | None:
    meta = owner.metadata
    kind = kinds.of(owner)
    try:
        fresh = await client.get(type(owner), meta.name, meta.namespace)
    except ApiError as exc:
        return AdoptionRefusedError(f"can't recheck DeletionTimestamp: {exc}")
    if fresh.metadata.uid != meta.uid:
        return AdoptionRefusedError(
            f"original {kind.name} {meta.namespace}/{meta.name} is gone: got uid "
            f"{fresh.metadata.uid}, wanted {meta.uid}")
    if fresh.metadata.deletion_timestamp:
        return AdoptionRefusedError(
            f"{meta.namespace}/{meta.name} has just been deleted at "
            f"{fresh.metadata.deletion_timestamp}")
    return None


def _controller_uid(obj: Any) -> str | None:
    ref = controller_of(obj)
    return ref.uid if ref is not None else None


class RefManager:
    """Claims objects of one kind for one owner."""

    def __init__(self, client: ApiClient, owner: Any, match: Callable[[Any], bool],
                 can_adopt: Callable[[], Awaitable[None]],
                 controller_uid: Callable[[Any], str | None] | None = None):
        self.client = client
        self.owner = owner
        self.match = match
        self.can_adopt = can_adopt
        # The UID an object's controller reference names (None without one); a caller that
        # caches it per object passes its own.
        self.controller_uid = controller_uid or _controller_uid

    async def claim(self, candidates: Iterable[T]) -> list[T]:
        """The candidates we own after adopting and releasing; the first failure is raised
        after every candidate has been tried."""
        claimed: list[T] = []
        failure: Exception | None = None
        owner_uid = self.owner.metadata.uid
        for obj in candidates:
            # The common case, decided without a coroutine: ours and still selected, kept.
            if self.controller_uid(obj) == owner_uid and self.match(obj):
                claimed.append(obj)
                continue
            try:
                if await self._claim_one(obj):
                    claimed.append(obj)
            except (ApiError, AdoptionRefusedError) as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return claimed

    async def _claim_one(self, obj: Any) -> bool:
        owner_meta = self.owner.metadata
        ref = controller_of(obj)
        if ref is not None:
            if ref.uid != owner_meta.uid:
                return False
            if self.match(obj):
                return True
            if owner_meta.deletion_timestamp:
                return False
            await self._release(obj)
            return False
        if owner_meta.deletion_timestamp or not self.match(obj):
            return False
        if obj.metadata.deletion_timestamp:
            return False
        if owner_meta.namespace and owner_meta.namespace != obj.metadata.namespace:
            return False
        return await self._adopt(obj)

    async def _adopt(self, obj: Any) -> bool:
        kind = kinds.of(obj)
        meta = obj.metadata
        try:
            await self.can_adopt()
        except AdoptionRefusedError as exc:
            raise AdoptionRefusedError(
                f"can't adopt {kind.name} {meta.namespace}/{meta.name} ({meta.uid}): {exc}") from None
        references = [codec.encode(r) for r in meta.owner_references]
        references.append(codec.encode(controller_ref(self.owner)))
        try:
            await self._patch_references(obj, references)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return False
            raise
        log.info("%s %s/%s adopted %s %s", kinds.of(self.owner).name, meta.namespace,
                 self.owner.metadata.name, kind.name, meta.name)
        return True

    async def _release(self, obj: Any) -> None:
        meta = obj.metadata
        owner_uid = self.owner.metadata.uid
        references = [codec.encode(r) for r in meta.owner_references if r.uid != owner_uid]
        try:
            await self._patch_references(obj, references)
        except ApiError as exc:
            if exc.code in (Code.NOT_FOUND, Code.INVALID_ARGUMENT):
                return
            raise
        log.info("%s %s/%s released %s %s", kinds.of(self.owner).name, meta.namespace,
                 self.owner.metadata.name, kinds.of(obj).name, meta.name)

    async def _patch_references(self, obj: Any, references: list[dict[str, Any]]) -> None:
        meta = obj.metadata
        patch = {"metadata": {"ownerReferences": references,
                              "resourceVersion": meta.resource_version}}
        await self.client.patch(type(obj), meta.name, meta.namespace, patch)
