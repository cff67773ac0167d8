"""The API client over gRPC, for any process: kemuctl, kubelets, tests, user programs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from kemu.api import kinds
from kemu.client.interface import ListResult, WatchEvent
from kemu.client.status import from_rpc_error
from kemu.v1 import api_pb2, api_pb2_grpc

T = TypeVar("T", bound=Message)

DEFAULT_SERVER = "127.0.0.1:6443"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


def _namespace(kind: kinds.Kind, namespace: str) -> str:
    if not kind.namespaced:
        return ""
    return namespace or "default"


class GrpcClient:
    """``ApiClient`` over a gRPC channel to a control plane."""

    def __init__(self, target: str = DEFAULT_SERVER, timeout: float = 30.0,
                 channel: grpc.aio.Channel | None = None):
        self.target = target
        self.timeout = timeout
        self.channel = channel or grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = api_pb2_grpc.ResourcesStub(self.channel)  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> GrpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        response = await self._call("Create", api_pb2.CreateRequest(object=kinds.wrap(obj),
                                                                    dry_run=dry_run))
        result: T = kinds.unwrap(response)
        return result

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T:
        k = kinds.of_class(kind)
        response = await self._call("Get", api_pb2.GetRequest(
            kind=k.name, namespace=_namespace(k, namespace), name=name))
        result: T = kinds.unwrap(response)
        return result

    async def list(self, kind: type[T], namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "") -> ListResult[T]:
        k = kinds.of_class(kind)
        response = await self._call("List", api_pb2.ListRequest(
            kind=k.name, namespace=namespace if k.namespaced else "",
            label_selector=label_selector, field_selector=field_selector))
        return ListResult([kinds.unwrap(o) for o in response.items], response.resource_version)

    async def watch(self, kind: type[Message], namespace: str = "", *, label_selector: str = "",
                    field_selector: str = "", resource_version: str = "",
                    allow_bookmarks: bool = False) -> AsyncIterator[WatchEvent]:
        k = kinds.of_class(kind)
        request = api_pb2.WatchRequest(
            kind=k.name, namespace=namespace if k.namespaced else "",
            label_selector=label_selector, field_selector=field_selector,
            resource_version=resource_version, allow_bookmarks=allow_bookmarks,
            allow_batches=True)
        call = self._stub.Watch(request)
        try:
            async for message in call:
                yield _event(message)
                for event in message.more:
                    yield _event(event)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        response = await self._call("Update", api_pb2.UpdateRequest(object=kinds.wrap(obj),
                                                                    dry_run=dry_run))
        result: T = kinds.unwrap(response)
        return result

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T:
        response = await self._call("UpdateStatus", api_pb2.UpdateRequest(
            object=kinds.wrap(obj), dry_run=dry_run))
        result: T = kinds.unwrap(response)
        return result

    async def patch(self, kind: type[T], name: str, namespace: str, patch: Any, *,
                    patch_type: str = "merge", subresource: str = "",
                    dry_run: bool = False) -> T:
        k = kinds.of_class(kind)
        body = patch if isinstance(patch, bytes) else json.dumps(patch).encode()
        response = await self._call("Patch", api_pb2.PatchRequest(
            kind=k.name, namespace=_namespace(k, namespace), name=name, patch_type=patch_type,
            patch=body, subresource=subresource, dry_run=dry_run))
        result: T = kinds.unwrap(response)
        return result

    async def delete(self, kind: type[T], name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False) -> T:
        k = kinds.of_class(kind)
        request = api_pb2.DeleteRequest(
            kind=k.name, namespace=_namespace(k, namespace), name=name,
            propagation_policy=propagation_policy, precondition_uid=precondition_uid,
            precondition_resource_version=precondition_resource_version, dry_run=dry_run)
        if grace_period_seconds is not None:
            request.grace_period_seconds = grace_period_seconds
        response = await self._call("Delete", request)
        result: T = kinds.unwrap(response)
        return result

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any:
        return await self._call("Bind", api_pb2.BindRequest(
            namespace=namespace, name=name, node_name=node_name, pod_uid=pod_uid))


def _event(event: api_pb2.WatchEvent) -> WatchEvent:
    if event.type == "BOOKMARK":
        obj = kinds.unwrap(event.object)
        return WatchEvent("BOOKMARK", None, obj.metadata.resource_version)
    obj = kinds.unwrap(event.object)
    return WatchEvent(event.type, obj, obj.metadata.resource_version)
