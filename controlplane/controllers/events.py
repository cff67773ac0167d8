"""Events written like Kubernetes': a repeat of the same reason and message about the same
object bumps ``count`` and ``lastTimestamp`` on one Event instead of writing a new one.

Recording never blocks a controller: events go through a bounded queue to a background writer,
and when the queue is full they are dropped, as client-go's broadcaster does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
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


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str = ""):
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[tuple[meta_pb2.ObjectReference, str, str, str]] = \
            asyncio.Queue(_QUEUE_SIZE)
        self._seen: dict[tuple[str, str, str, str], _Seen] = {}
        self._task: asyncio.Task[None] | None = None

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
        try:
            self._queue.put_nowait((reference, event_type, reason, message))
        except asyncio.QueueFull:
            log.warning("dropping event %s %s: %s", reason, reference.name, message)
        self.start()

    async def _write_forever(self) -> None:
        while True:
            reference, event_type, reason, message = await self._queue.get()
            try:
                await self._write(reference, event_type, reason, message)
            except ApiError as exc:
                log.debug("event %s for %s not written: %s", reason, reference.name, exc)
            except Exception:
                log.exception("event writer failed")
            finally:
                self._queue.task_done()

    async def _write(self, ref: meta_pb2.ObjectReference, event_type: str, reason: str,
                     message: str) -> None:
        namespace = ref.namespace or "default"
        key = (ref.uid, event_type, reason, message)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            try:
                await self.client.patch(core_pb2.Event, seen.name, seen.namespace,
                                        {"count": seen.count + 1, "lastTimestamp": now})
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
