"""The storage contract on etcd v3, through the protocol stubs the ``aetcd`` package ships.

Create-if-absent, compare-and-swap and guarded delete are single etcd transactions, so two
writers can never both succeed against the same revision. Lists are paged at one revision.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from aetcd import rpc

from controlplane.storage.interface import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    StoreEvent,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

_LIST_PAGE = 1000
_CALL_TIMEOUT = 15.0
_LEASE_REUSE_SECONDS = 60
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix`` (etcd's range_end)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def grpc_target(endpoints: Sequence[str]) -> str:
    """A gRPC target for etcd endpoints (``http://host:port`` or ``host:port``)."""
    hosts = [e.split("://", 1)[-1].rstrip("/") for e in endpoints if e.strip()]
    if not hosts:
        raise ValueError("no etcd endpoints given")
    if len(hosts) == 1:
        return hosts[0]
    try:
        for h in hosts:
            ipaddress.IPv4Address(h.rsplit(":", 1)[0])
    except ValueError:
        log.warning("several etcd endpoints with host names; using %s only", hosts[0])
        return hosts[0]
    return "ipv4:" + ",".join(hosts)


def _kv(raw: Any) -> KeyValue:
    return KeyValue(bytes(raw.key), bytes(raw.value), raw.create_revision, raw.mod_revision)


def _translate(error: grpc.aio.AioRpcError, requested: int = 0) -> Exception:
    details = error.details() or ""
    if "compacted" in details:
        return CompactedError(requested, 0)
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.CANCELLED):
        return StoreUnavailableError(f"etcd unavailable: {details}")
    return StoreUnavailableError(f"etcd error {error.code().name}: {details}")


class EtcdStore:
    """A Store on an etcd cluster."""

    def __init__(self, endpoints: Sequence[str], timeout: float = _CALL_TIMEOUT):
        self._target = grpc_target(endpoints)
        self._timeout = timeout
        self._channel = grpc.aio.insecure_channel(self._target, options=_CHANNEL_OPTIONS)
        self._kv = rpc.KVStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        self._lease = rpc.LeaseStub(self._channel)
        self._leases: dict[int, tuple[int, float]] = {}
        self._lease_lock = asyncio.Lock()

    @property
    def target(self) -> str:
        return self._target

    async def wait_ready(self, timeout: float) -> None:
        """Return once etcd answers a read; raise StoreUnavailableError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.current_revision()
                return
            except StoreUnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def get(self, key: bytes) -> KeyValue | None:
        try:
            response = await self._kv.Range(rpc.RangeRequest(key=key), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc
        return _kv(response.kvs[0]) if response.kvs else None

    async def _lease_for(self, ttl: int) -> int:
        async with self._lease_lock:
            now = time.monotonic()
            known = self._leases.get(ttl)
            if known and now - known[1] < _LEASE_REUSE_SECONDS:
                return known[0]
            try:
                granted = await self._lease.LeaseGrant(
                    rpc.LeaseGrantRequest(TTL=ttl + _LEASE_REUSE_SECONDS), timeout=self._timeout)
            except grpc.aio.AioRpcError as exc:
                raise _translate(exc) from exc
            self._leases[ttl] = (granted.ID, now)
            return int(granted.ID)

    async def _txn(self, request: Any) -> Any:
        try:
            return await self._kv.Txn(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc

    async def create(self, key: bytes, value: bytes, ttl_seconds: int | None = None) -> KeyValue:
        lease = await self._lease_for(ttl_seconds) if ttl_seconds else 0
        request = rpc.TxnRequest(
            compare=[rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.CREATE,
                                 create_revision=0)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))],
            failure=[],
        )
        response = await self._txn(request)
        if not response.succeeded:
            raise KeyExistsError(key)
        revision = response.header.revision
        return KeyValue(key, value, revision, revision)

    async def update(self, key: bytes, value: bytes, expected_revision: int,
                     ttl_seconds: int | None = None) -> KeyValue:
        lease = await self._lease_for(ttl_seconds) if ttl_seconds else 0
        request = rpc.TxnRequest(
            compare=[rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                                 mod_revision=expected_revision)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease,
                                                              prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key))],
        )
        response = await self._txn(request)
        if not response.succeeded:
            found = response.responses[0].response_range.kvs
            if not found:
                raise KeyNotFoundError(key)
            raise ConflictError(key, expected_revision, _kv(found[0]))
        prev = response.responses[0].response_put.prev_kv
        revision = response.header.revision
        return KeyValue(key, value, prev.create_revision, revision)

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        compare = [] if expected_revision is None else [
            rpc.Compare(key=key, result=rpc.Compare.EQUAL, target=rpc.Compare.MOD,
                        mod_revision=expected_revision)]
        request = rpc.TxnRequest(
            compare=compare,
            success=[rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key,
                                                                               prev_kv=True))],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=key))],
        )
        response = await self._txn(request)
        if not response.succeeded:
            found = response.responses[0].response_range.kvs
            if not found:
                raise KeyNotFoundError(key)
            raise ConflictError(key, expected_revision or 0, _kv(found[0]))
        deleted = response.responses[0].response_delete_range
        if not deleted.prev_kvs:
            raise KeyNotFoundError(key)
        prev = deleted.prev_kvs[0]
        return KeyValue(key, bytes(prev.value), prev.create_revision, response.header.revision)

    async def touch(self, key: bytes) -> int:
        response = await self._txn(rpc.TxnRequest(
            compare=[], success=[rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=b""))],
            failure=[]))
        return int(response.header.revision)

    async def list(self, prefix: bytes, revision: int = 0) -> tuple[list[KeyValue], int]:
        end = prefix_end(prefix)
        start = prefix
        items: list[KeyValue] = []
        at = revision
        while True:
            request = rpc.RangeRequest(key=start, range_end=end, revision=at, limit=_LIST_PAGE)
            try:
                response = await self._kv.Range(request, timeout=self._timeout)
            except grpc.aio.AioRpcError as exc:
                error = _translate(exc, revision)
                raise error from exc
            if at == 0:
                at = response.header.revision
            items.extend(_kv(kv) for kv in response.kvs)
            if not response.more or not response.kvs:
                return items, at
            start = bytes(response.kvs[-1].key) + b"\0"

    async def current_revision(self) -> int:
        try:
            response = await self._kv.Range(
                rpc.RangeRequest(key=b"/kemu/revision-probe", keys_only=True),
                timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from exc
        return int(response.header.revision)

    async def compact(self, revision: int) -> None:
        try:
            await self._kv.Compact(rpc.CompactionRequest(revision=revision),
                                   timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if "compacted" in (exc.details() or ""):
                return
            raise _translate(exc) from exc

    async def watch(self, prefix: bytes, after_revision: int, *,
                    previous: bool = True) -> AsyncIterator[StoreEvent]:
        create = rpc.WatchCreateRequest(key=prefix, range_end=prefix_end(prefix),
                                        start_revision=after_revision + 1, prev_kv=previous)
        call = self._watch.Watch()
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    raise StoreUnavailableError("etcd closed the watch stream")
                if response.compact_revision:
                    raise CompactedError(after_revision, response.compact_revision)
                if response.canceled:
                    raise StoreUnavailableError(f"etcd cancelled the watch: {response.cancel_reason}")
                for event in response.events:
                    kv = _kv(event.kv)
                    prev = _kv(event.prev_kv) if event.HasField("prev_kv") else None
                    if event.type == rpc.Event.DELETE:
                        yield StoreEvent(EventType.DELETE, kv, prev, kv.mod_revision)
                    else:
                        yield StoreEvent(EventType.PUT, kv, prev, kv.mod_revision)
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc, after_revision) from exc
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._channel.close()
