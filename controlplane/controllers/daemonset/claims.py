"""Adopting and releasing objects by controller reference (Kubernetes' ControllerRefManager).

A controller claims the objects it controls that still match its selector; it adopts matching
orphans (so a DaemonSet deleted with ``--cascade=orphan`` and created again takes its pods
back) and releases the ones it controls that no longer match. Adoption first re-reads the owner
from the API, so an owner that is being deleted never adopts. Both are merge patches guarded
by the object's resourceVersion, so no concurrent change to its owner references is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from google.protobuf.message import Message

from controlplane.controllers.history import controller_reference
from kemu.api import codec
from kemu.api.errors import ApiError, Code, Reason
from kemu.api.labels import Selector
from kemu.api.meta import controller_of
from kemu.client.interface import ApiClient

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Message)


def _refs_patch(obj: Any, refs: list[Any]) -> dict[str, Any]:
    return {"metadata": {"ownerReferences": [codec.encode(r) for r in refs],
                         "resourceVersion": obj.metadata.resource_version}}


class ControllerRefManager:
    def __init__(self, client: ApiClient, owner: Any, selector: Selector,
                 recheck_owner: Callable[[], Awaitable[Any]]):
        self.client = client
        self.owner = owner
        self.selector = selector
        self._recheck_owner = recheck_owner
        self._can_adopt: bool | None = None

    async def _owner_still_adopting(self) -> bool:
        """One live read of the owner per claim pass: it must exist, be the same object and
        not be being deleted."""
        if self._can_adopt is None:
            try:
                fresh = await self._recheck_owner()
            except ApiError as exc:
                if exc.code != Code.NOT_FOUND:
                    raise
                fresh = None
            self._can_adopt = bool(fresh is not None and
                                   fresh.metadata.uid == self.owner.metadata.uid and
                                   not fresh.metadata.deletion_timestamp)
        return self._can_adopt

    async def claim(self, objects: Iterable[T]) -> list[T]:
        claimed: list[T] = []
        owner = self.owner
        for obj in objects:
            meta = obj.metadata  # type: ignore[attr-defined]
            ref = controller_of(obj)  # type: ignore[arg-type]
            matches = self.selector.matches(meta.labels)
            if ref is not None:
                if ref.uid != owner.metadata.uid:
                    continue
                if matches:
                    claimed.append(obj)
                elif not owner.metadata.deletion_timestamp:
                    await self._release(obj)
                continue
            if owner.metadata.deletion_timestamp or not matches or meta.deletion_timestamp:
                continue
            if meta.namespace != owner.metadata.namespace:
                continue
            if not await self._owner_still_adopting():
                continue
            adopted = await self._adopt(obj)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _adopt(self, obj: T) -> T | None:
        """Add the controller reference; None if the object is gone or another controller got
        it first. An adoption the cache has not shown yet is recognised, not repeated."""
        current: Any = obj
        while True:
            meta = current.metadata
            ref = controller_of(current)
            if ref is not None:
                return current if ref.uid == self.owner.metadata.uid else None
            refs = [*meta.owner_references, controller_reference(self.owner)]
            try:
                adopted: T = await self.client.patch(type(obj), meta.name, meta.namespace,
                                                     _refs_patch(current, refs))
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    return None
                if exc.reason != Reason.CONFLICT.value:
                    raise
                current = await self._fresh(obj)
                if current is None:
                    return None
                continue
            log.debug("%s adopted %s", self.owner.metadata.name, meta.name)
            return adopted

    async def _release(self, obj: Any) -> None:
        current: Any = obj
        while True:
            meta = current.metadata
            refs = [r for r in meta.owner_references if r.uid != self.owner.metadata.uid]
            if len(refs) == len(meta.owner_references):
                return
            try:
                await self.client.patch(type(obj), meta.name, meta.namespace,
                                        _refs_patch(current, refs))
            except ApiError as exc:
                if exc.code in (Code.NOT_FOUND, Code.INVALID_ARGUMENT):
                    return
                if exc.reason != Reason.CONFLICT.value:
                    raise
                current = await self._fresh(obj)
                if current is None:
                    return
                continue
            log.debug("%s released %s", self.owner.metadata.name, meta.name)
            return

    async def _fresh(self, obj: Any) -> Any | None:
        """The object as stored now, or None if it is gone or is another object by now."""
        meta = obj.metadata
        try:
            fresh = await self.client.get(type(obj), meta.name, meta.namespace)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return None
            raise
        return fresh if fresh.metadata.uid == meta.uid else None
