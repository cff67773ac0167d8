"""The controllers' API client, fenced by leadership: no write goes out unless this control
plane holds the leader lease at that moment.

Workers check ``is_leader()`` before each sync, but a sync already running when leadership ends
(the process was frozen by SIGSTOP, or stalled past its renew deadline) would go on writing
what it decided on stale state: the chaos suite saw a thawed former leader create pods the new
leader had already created. Checking at every write narrows that window to a write already
past the check when the process stopped. Reads and watches pass through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from kemu.api.errors import ApiError, Code, Reason
from kemu.client.interface import ApiClient, ListResult, WatchEvent

T = TypeVar("T", bound=Message)


class LeaderGuardedClient:
    """``ApiClient`` whose writes fail with ServiceUnavailable while ``is_leader()`` is false."""

    def __init__(self, client: ApiClient, is_leader: Callable[[], bool], identity: str):
        self.client = client
        self.is_leader = is_leader
        self.identity = identity
        self.refused = 0

    def _check(self, verb: str) -> None:
        if not self.is_leader():
            self.refused += 1
            raise ApiError(Code.UNAVAILABLE, Reason.UNAVAILABLE.value,
                           f"{self.identity} does not hold the leader lease: {verb} refused")

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        self._check("create")
        return await self.client.create(obj, dry_run=dry_run)

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T:
        return await self.client.get(kind, name, namespace)

    async def list(self, kind: type[T], namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "") -> ListResult[T]:
        return await self.client.list(kind, namespace, label_selector=label_selector,
                                      field_selector=field_selector)

    def watch(self, kind: type[Message], namespace: str = "", *, label_selector: str = "",
              field_selector: str = "", resource_version: str = "",
              allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        return self.client.watch(kind, namespace, label_selector=label_selector,
                                 field_selector=field_selector, resource_version=resource_version,
                                 allow_bookmarks=allow_bookmarks)

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        self._check("update")
        return await self.client.update(obj, dry_run=dry_run)

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T:
        self._check("update status")
        return await self.client.update_status(obj, dry_run=dry_run)

    async def patch(self, kind: type[T], name: str, namespace: str, patch: Any, *,
                    patch_type: str = "merge", subresource: str = "",
                    dry_run: bool = False) -> T:
        self._check("patch")
        return await self.client.patch(kind, name, namespace, patch, patch_type=patch_type,
                                       subresource=subresource, dry_run=dry_run)

    async def delete(self, kind: type[T], name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False) -> T:
        self._check("delete")
        return await self.client.delete(kind, name, namespace,
                                        propagation_policy=propagation_policy,
                                        grace_period_seconds=grace_period_seconds,
                                        precondition_uid=precondition_uid,
                                        precondition_resource_version=precondition_resource_version,
                                        dry_run=dry_run)

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any:
        self._check("bind")
        return await self.client.bind(namespace, name, node_name, pod_uid)

    async def close(self) -> None:
        await self.client.close()
