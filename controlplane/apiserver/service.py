"""The ``kemu.v1.Resources`` gRPC service: the Kubernetes verbs over every kind."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from controlplane.apiserver.api import Api
from controlplane.apiserver.registry import DeleteOptions, Registry
from controlplane.apiserver.watchcache import BOOKMARK, CacheEvent, Filter, WatchClosedError
from controlplane.metrics import API_LATENCY, API_REQUESTS
from controlplane.storage import CompactedError, StoreUnavailableError
from kemu.api import errors, fields, kinds, labels
from kemu.api.errors import ApiError
from kemu.client.status import to_trailer
from kemu.v1 import api_pb2, api_pb2_grpc, core_pb2

log = logging.getLogger(__name__)

R = TypeVar("R")


def api_error_of(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, CompactedError):
        return errors.too_old_error(str(exc))
    if isinstance(exc, StoreUnavailableError):
        return ApiError(errors.Code.UNAVAILABLE, errors.Reason.UNAVAILABLE.value,
                        f"the storage is unavailable: {exc}")
    if isinstance(exc, kinds.UnknownKindError):
        return ApiError(errors.Code.NOT_FOUND, errors.Reason.NOT_FOUND.value, str(exc))
    if isinstance(exc, labels.SelectorError | fields.FieldSelectorError):
        return errors.bad_request(str(exc))
    log.exception("internal error", exc_info=exc)
    return ApiError(errors.Code.INTERNAL, errors.Reason.INTERNAL.value,
                    f"an internal error occurred: {exc}")


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
    error = api_error_of(exc)
    await context.abort(_grpc_status(error.code), error.message,
                        trailing_metadata=to_trailer(error))


def _grpc_status(code: errors.Code) -> grpc.StatusCode:
    for status in grpc.StatusCode:
        if status.value[0] == int(code):
            return status
    return grpc.StatusCode.UNKNOWN


def _kind_of(request: Any) -> str:
    kind = getattr(request, "kind", "")
    if not kind and request.DESCRIPTOR.fields_by_name.get("object") is not None:
        kind = request.object.WhichOneof("object") or ""
    return str(kind)


def unary(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Turn exceptions into statuses and count every call (verb, kind, code, latency)."""
    verb = method.__name__

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
        started = time.perf_counter()
        code = "OK"
        try:
            return await method(self, request, context)
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                code = "ABORTED_BY_HANDLER"
                raise
            code = api_error_of(exc).code.name
            await abort(context, exc)
            raise AssertionError("unreachable") from exc
        finally:
            kind = _kind_of(request)
            API_REQUESTS.labels(verb, kind, code).inc()
            API_LATENCY.labels(verb, kind).observe(time.perf_counter() - started)
    return wrapper


def parse_filter(kind: kinds.Kind, namespace: str, label_selector: str,
                 field_selector: str) -> Filter:
    return Filter(namespace=namespace if kind.namespaced else "",
                  labels=labels.parse(label_selector),
                  fields=fields.parse(field_selector, kind))


def bookmark(kind: kinds.Kind, revision: int) -> api_pb2.WatchEvent:
    marker = kind.new()
    marker.metadata.resource_version = str(revision)
    return api_pb2.WatchEvent(type=BOOKMARK, object=kinds.wrap(marker))


# A message of a batched watch carries at most this many events, and takes no more once its
# objects reach this size (a batch is what arrived while the last message was being sent).
MAX_EVENTS_PER_MESSAGE = 100
MAX_MESSAGE_OBJECT_BYTES = 1 << 20


async def stream_events(registry: Registry, flt: Filter, resource_version: str,
                        bookmarks: bool,
                        leave_out: Callable[[CacheEvent], Awaitable[bool]] | None = None,
                        batches: bool = False) -> AsyncIterator[api_pb2.WatchEvent]:
    """The watch's events as messages; those ``leave_out`` picks are not sent. With
    ``batches`` the events that arrived together share a message (the first in it, the rest
    in ``more``): most of what a watch costs the server is per message, not per byte."""
    envelope_field = registry.kind.envelope_field
    try:
        async for batch in registry.watch_batches(flt, resource_version, bookmarks):
            message: api_pb2.WatchEvent | None = None
            size = 0
            for event in batch:
                if event.type == BOOKMARK:
                    if message is not None:
                        yield message
                        message = None
                    yield bookmark(registry.kind, event.revision)
                    continue
                if leave_out is not None and await leave_out(event):
                    continue
                if not batches:
                    yield api_pb2.WatchEvent(type=event.type, object=kinds.wrap(event.obj))
                    continue
                if message is not None and (len(message.more) + 1 >= MAX_EVENTS_PER_MESSAGE
                                            or size >= MAX_MESSAGE_OBJECT_BYTES):
                    yield message
                    message = None
                if message is None:
                    message = target = api_pb2.WatchEvent()
                    size = 0
                else:
                    target = message.more.add()
                target.type = event.type
                getattr(target.object, envelope_field).CopyFrom(event.obj)
                size += event.obj.ByteSize()
            if message is not None:
                yield message
    except WatchClosedError as exc:
        log.info("watch on %s closed: %s", registry.kind.plural, exc)


class ResourcesService(api_pb2_grpc.ResourcesServicer):
    def __init__(self, api: Api):
        self.api = api

    def _registry(self, kind_name: str) -> Registry:
        return self.api.registry(kinds.by_name(kind_name))

    @unary
    async def Create(self, request: api_pb2.CreateRequest, context: Any) -> api_pb2.Object:
        obj = kinds.unwrap(request.object)
        created = await self.api.registry(kinds.of(obj)).create(obj, dry_run=request.dry_run)
        return kinds.wrap(created)

    @unary
    async def Get(self, request: api_pb2.GetRequest, context: Any) -> api_pb2.Object:
        registry = self._registry(request.kind)
        return kinds.wrap(await registry.get(request.namespace or "default", request.name))

    @unary
    async def List(self, request: api_pb2.ListRequest, context: Any) -> api_pb2.ObjectList:
        registry = self._registry(request.kind)
        flt = parse_filter(registry.kind, request.namespace, request.label_selector,
                           request.field_selector)
        items, revision = await registry.list(flt)
        return api_pb2.ObjectList(items=[kinds.wrap(o) for o in items],
                                  resource_version=str(revision))

    async def Watch(self, request: api_pb2.WatchRequest,
                    context: Any) -> AsyncIterator[api_pb2.WatchEvent]:
        try:
            registry = self._registry(request.kind)
            flt = parse_filter(registry.kind, request.namespace, request.label_selector,
                               request.field_selector)
            async for event in stream_events(registry, flt, request.resource_version,
                                             request.allow_bookmarks,
                                             batches=request.allow_batches):
                yield event
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                raise
            await abort(context, exc)

    @unary
    async def Update(self, request: api_pb2.UpdateRequest, context: Any) -> api_pb2.Object:
        obj = kinds.unwrap(request.object)
        updated = await self.api.registry(kinds.of(obj)).update(obj, dry_run=request.dry_run)
        return kinds.wrap(updated)

    @unary
    async def UpdateStatus(self, request: api_pb2.UpdateRequest, context: Any) -> api_pb2.Object:
        obj = kinds.unwrap(request.object)
        updated = await self.api.registry(kinds.of(obj)).update(obj, dry_run=request.dry_run,
                                                               status=True)
        return kinds.wrap(updated)

    @unary
    async def Patch(self, request: api_pb2.PatchRequest, context: Any) -> api_pb2.Object:
        registry = self._registry(request.kind)
        patched = await registry.patch(request.namespace or "default", request.name,
                                       request.patch_type, request.patch, request.subresource,
                                       request.dry_run)
        return kinds.wrap(patched)

    @unary
    async def Delete(self, request: api_pb2.DeleteRequest, context: Any) -> api_pb2.Object:
        registry = self._registry(request.kind)
        options = DeleteOptions(
            propagation_policy=request.propagation_policy,
            grace_period_seconds=request.grace_period_seconds
            if request.HasField("grace_period_seconds") else None,
            precondition_uid=request.precondition_uid,
            precondition_resource_version=request.precondition_resource_version,
            dry_run=request.dry_run)
        deleted = await registry.delete(request.namespace or "default", request.name, options)
        return kinds.wrap(deleted)

    @unary
    async def Bind(self, request: api_pb2.BindRequest, context: Any) -> core_pb2.Pod:
        result: core_pb2.Pod = await self.api.bind(request.namespace or "default", request.name,
                                                   request.node_name, request.pod_uid)
        return result
