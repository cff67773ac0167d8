"""The API client interface every controller, kubelet and CLI command is written against.

Two implementations exist: ``kemu.client.grpc.GrpcClient`` (any process) and the control
plane's in-process client (controllers running beside the API server). Objects are the protobuf
messages of ``kemu.v1``; the kind is named by its message class.

Objects handed out by a client's watch or list may be shared with caches: treat them as
read-only and ``clone`` before changing one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import Message

T = TypeVar("T", bound=Message)


@dataclass(frozen=True)
class WatchEvent:
    """ADDED, MODIFIED, DELETED or BOOKMARK (object None, resource_version set)."""

    type: str
    object: Any
    resource_version: str


@dataclass
class ListResult(Generic[T]):
    items: list[T] = field(default_factory=list)
    resource_version: str = ""


class ApiClient(Protocol):
    async def create(self, obj: T, *, dry_run: bool = False) -> T: ...

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T: ...

    async def list(self, kind: type[T], namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "") -> ListResult[T]: ...

    def watch(self, kind: type[Message], namespace: str = "", *, label_selector: str = "",
              field_selector: str = "", resource_version: str = "",
              allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]: ...

    async def update(self, obj: T, *, dry_run: bool = False) -> T: ...

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T: ...

    async def patch(self, kind: type[T], name: str, namespace: str, patch: Any, *,
                    patch_type: str = "merge", subresource: str = "",
                    dry_run: bool = False) -> T: ...

    async def delete(self, kind: type[T], name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False) -> T: ...

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any: ...

    async def close(self) -> None: ...


def clone(obj: T) -> T:
    """A deep copy of a message, safe to change."""
    copy = type(obj)()
    copy.CopyFrom(obj)
    return copy
