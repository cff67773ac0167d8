"""Events written like Kubernetes' (client-go's event correlator):

- a repeat of the same reason and message about the same object bumps ``count`` and
  ``lastTimestamp`` on one Event instead of writing a new one;
- once ten events of one reason about one object differ only in their message (each within
  ten minutes of the one before), the rest go to one "(combined from similar events)" Event;
- a component records at most 25 events about one object in a burst, then one per five
  minutes (the spam filter): a 1000-replica scale-up writes 25 events about its ReplicaSet
  (9 SuccessfulCreate, then the combined one counted up), not 1000.

The scheduler keeps only the first rule, as kube-scheduler's events.k8s.io recorder does.

Recording never blocks a controller: events go through a bounded queue to a background writer,
and when the queue is full they are dropped, as client-go's broadcaster does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kemu.api import kinds
from kemu.api.errors import ApiError
from kemu.api.meta import now_rfc3339
from kemu.client.interface import ApiClient
from kemu.v1 import core_pb2, meta_pb2

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
_QUEUE_SIZE = 1000
_CACHE_SIZE = 4096
# client-go's EventCorrelator defaults, in seconds of the recorder's clock.
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_REFILL_PER_SECOND = 1.0 / 300.0
COMBINED = "(combined from similar events): "

# What an Event is found again by: (object uid, type, reason, message); for the combined
# Event of an aggregation the message is this marker, so every later one lands on it.
_AGGREGATED = "\0aggregated"
_Key = tuple[str, str, str, str]


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


@dataclass
class _Similar:
    """Messages seen of one (object, type, reason), the last of them at ``last``."""

    last: float
    messages: set[str] = field(default_factory=set)


@dataclass
class _Tokens:
    """The spam filter's bucket for one object: SPAM_BURST events, then one per refill."""

    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(SPAM_BURST, self.tokens + (now - self.updated) * SPAM_REFILL_PER_SECOND)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _bounded_put(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


class EventRecorder:
    """``clock``: seconds, for aggregation and the spam filter (a controller that runs on a
    clock of its own passes it). ``correlate`` False keeps only the counting of repeats: the
    scheduler, which in Kubernetes records through the events.k8s.io recorder, has neither
    aggregation nor a spam filter."""

    def __init__(self, client: ApiClient, component: str, host: str = "",
                 clock: Callable[[], float] = time.monotonic, correlate: bool = True):
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self.correlate = correlate
        self._queue: asyncio.Queue[tuple[meta_pb2.ObjectReference, str, str, str, _Key]] = \
            asyncio.Queue(_QUEUE_SIZE)
        self._seen: dict[_Key, _Seen] = {}
        self._similar: OrderedDict[tuple[str, str, str], _Similar] = OrderedDict()
        self._tokens: OrderedDict[tuple[str, str, str, str], _Tokens] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.filtered = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._write_forever(), name=f"events-{self.component}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (tests, shutdown)."""
        await self._queue.join()

    def event(self, obj: Any, event_type: str, reason: str, message: str) -> None:
        reference = object_reference(obj)
        key: _Key = (reference.uid, event_type, reason, message)
        if self.correlate:
            now = self.clock()
            message, key = self._aggregate(reference, event_type, reason, message, now)
            if not self._allowed(reference, now):
                self.filtered += 1
                log.debug("event %s about %s not recorded: more than %d about it lately",
                          reason, reference.name, SPAM_BURST)
                return
        try:
            self._queue.put_nowait((reference, event_type, reason, message, key))
        except asyncio.QueueFull:
            log.warning("dropping event %s %s: %s", reason, reference.name, message)
        self.start()

    def _aggregate(self, ref: meta_pb2.ObjectReference, event_type: str, reason: str,
                   message: str, now: float) -> tuple[str, _Key]:
        """The message to record and the key its Event is found again by: the event itself
        until AGGREGATE_MAX_EVENTS messages of its kind were seen, then the combined Event."""
        similar_key = (ref.uid or f"{ref.kind}/{ref.namespace}/{ref.name}", event_type, reason)
        similar = self._similar.get(similar_key)
        if similar is None or now - similar.last > AGGREGATE_INTERVAL:
            similar = _Similar(now)  # a quiet ten minutes starts over
        similar.last = now
        _bounded_put(self._similar, similar_key, similar)
        similar.messages.add(message)
        if len(similar.messages) < AGGREGATE_MAX_EVENTS:
            return message, (ref.uid, event_type, reason, message)  # as without correlation
        similar.messages.pop()  # stays at the limit: the next one is combined too
        return COMBINED + message, (ref.uid, event_type, reason, _AGGREGATED)

    def _allowed(self, ref: meta_pb2.ObjectReference, now: float) -> bool:
        spam_key = (ref.kind, ref.namespace, ref.name, ref.uid)
        tokens = self._tokens.get(spam_key)
        if tokens is None:
            tokens = _Tokens(SPAM_BURST, now)
        _bounded_put(self._tokens, spam_key, tokens)
        return tokens.take(now)

    async def _write_forever(self) -> None:
        while True:
            reference, event_type, reason, message, key = await self._queue.get()
            try:
                await self._write(reference, event_type, reason, message, key)
            except ApiError as exc:
                log.debug("event %s for %s not written: %s", reason, reference.name, exc)
            except Exception:
                log.exception("event writer failed")
            finally:
                self._queue.task_done()

    async def _write(self, ref: meta_pb2.ObjectReference, event_type: str, reason: str,
                     message: str, key: _Key) -> None:
        namespace = ref.namespace or "default"
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            try:
                await self.client.patch(core_pb2.Event, seen.name, seen.namespace,
                                        {"count": seen.count + 1, "lastTimestamp": now,
                                         "message": message})
                seen.count += 1
                return
            except ApiError:
                del self._seen[key]
        event = core_pb2.Event(involved_object=ref, reason=reason, message=message,
                               type=event_type, count=1, first_timestamp=now,
                               last_timestamp=now, reporting_component=self.component,
                               reporting_instance=self.host)
        event.metadata.name = f"{ref.name}.{time.time_ns():x}"
        event.metadata.namespace = namespace
        event.source.component = self.component
        if self.host:
            event.source.host = self.host
        created = await self.client.create(event)
        if len(self._seen) >= _CACHE_SIZE:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = _Seen(created.metadata.name, namespace, 1)


def object_reference(obj: Any) -> meta_pb2.ObjectReference:
    kind = kinds.of(obj)
    return meta_pb2.ObjectReference(
        kind=kind.name, api_version=kind.api_version, namespace=obj.metadata.namespace,
        name=obj.metadata.name, uid=obj.metadata.uid,
        resource_version=obj.metadata.resource_version)
