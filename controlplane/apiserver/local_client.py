"""The API client for code running inside the control plane (controllers, scheduler).

It calls the registries directly: no serialization, no network, the same validation and the
same optimistic concurrency as a gRPC client gets. Objects from ``watch`` and ``list`` are the
watch cache's own and must not be changed; writes copy their input.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from controlplane.apiserver.api import Api
from controlplane.apiserver.registry import DeleteOptions
from controlplane.apiserver.service import parse_filter
from controlplane.apiserver.watchcache import BOOKMARK
from kemu.api import kinds
from kemu.client.interface import ListResult, WatchEvent

T = TypeVar("T", bound=Message)


def _namespace(kind: kinds.Kind, namespace: str) -> str:
    return (namespace or "default") if kind.namespaced else ""


class LocalClient:
    def __init__(self, api: Api):
        self.api = api

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        result: T = await self.api.registry(kinds.of(obj)).create(obj, dry_run=dry_run)
        return result

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T:
        k = kinds.of_class(kind)
        result: T = await self.api.registry(k).get(_namespace(k, namespace), name)
        return result

    async def list(self, kind: type[T], namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "") -> ListResult[T]:
        k = kinds.of_class(kind)
        flt = parse_filter(k, namespace, label_selector, field_selector)
        items, revision = await self.api.registry(k).list(flt)
        return ListResult(list(items), str(revision))

    async def watch(self, kind: type[Message], namespace: str = "", *, label_selector: str = "",
                    field_selector: str = "", resource_version: str = "",
                    allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        k = kinds.of_class(kind)
        flt = parse_filter(k, namespace, label_selector, field_selector)
        async for event in self.api.registry(k).watch(flt, resource_version, allow_bookmarks):
            if event.type == BOOKMARK:
                yield WatchEvent(BOOKMARK, None, str(event.revision))
            else:
                yield WatchEvent(event.type, event.obj, event.obj.metadata.resource_version)

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        result: T = await self.api.registry(kinds.of(obj)).update(obj, dry_run=dry_run)
        return result

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T:
        result: T = await self.api.registry(kinds.of(obj)).update(obj, dry_run=dry_run,
                                                                  status=True)
        return result

    async def patch(self, kind: type[T], name: str, namespace: str, patch: Any, *,
                    patch_type: str = "merge", subresource: str = "",
                    dry_run: bool = False) -> T:
        k = kinds.of_class(kind)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        result: T = await self.api.registry(k).patch(_namespace(k, namespace), name, patch_type,
                                                     body, subresource, dry_run)
        return result

    async def delete(self, kind: type[T], name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False) -> T:
        k = kinds.of_class(kind)
        options = DeleteOptions(propagation_policy, grace_period_seconds, precondition_uid,
                                precondition_resource_version, dry_run)
        result: T = await self.api.registry(k).delete(_namespace(k, namespace), name, options)
        return result

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any:
        return await self.api.bind(namespace or "default", name, node_name, pod_uid)

    async def close(self) -> None:
        return None
