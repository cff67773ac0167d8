"""Events the kubelet reports (Starting, Pulled, BackOff, Unhealthy ...), aggregated.

Like client-go's event correlator, a repeat of the same event (same object, type, reason and
message) is not a new Event but a higher ``count`` and a later ``lastTimestamp`` on the first
one. Repeats are also folded in time: one Event is written at most once per ``interval``, so a
failing probe or a crash loop costs one API call per interval, not one per occurrence.
Recording never blocks the caller; a single sender task writes, in one call for all events
due at that moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass

from kemu.api.errors import ApiError
from kemu.api.meta import now_rfc3339
from kemu.client.nodeagent import FAILOVER_CODES, MAX_EVENTS_PER_CALL, NodeAgentClient
from kemu.v1 import core_pb2, meta_pb2
from kubelet.clock import Clock, wait_until

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
MAX_TRACKED = 4096


@dataclass
class _Series:
    event: core_pb2.Event
    count: int
    last: float
    sent_count: int = 0
    next_send: float = 0.0


class EventRecorder:
    def __init__(self, client: NodeAgentClient, clock: Clock, interval: float):
        self.client = client
        self.clock = clock
        self.interval = interval
        self._series: OrderedDict[tuple[str, ...], _Series] = OrderedDict()
        # The series with occurrences not sent yet: what the sender looks at, rather than every
        # series it remembers (thousands on a busy node, nearly all of them sent).
        self._unsent: dict[tuple[str, ...], None] = {}
        # The series of each object, so forgetting a pod does not scan every series.
        self._keys_by_uid: dict[str, set[tuple[str, ...]]] = {}
        self._wakeup = asyncio.Event()
        self._last_stamp = 0
        self.sent = 0

    def record(self, involved: meta_pb2.ObjectReference, kind: str, reason: str,
               message: str) -> None:
        key = (involved.uid, involved.field_path, kind, reason, message)
        series = self._series.get(key)
        wall = self.clock.time()
        if series is None:
            event = core_pb2.Event(api_version="v1", kind="Event", type=kind, reason=reason,
                                   message=message)
            event.involved_object.CopyFrom(involved)
            event.metadata.namespace = involved.namespace or "default"
            # <object>.<nanoseconds in hex>, as Kubernetes names events; never reused.
            stamp = self._last_stamp = max(int(wall * 1e9), self._last_stamp + 1)
            event.metadata.name = f"{involved.name}.{stamp:x}"
            event.first_timestamp = now_rfc3339(wall)
            event.reporting_component = "kubelet"
            series = self._series[key] = _Series(event, 0, wall)
            self._keys_by_uid.setdefault(involved.uid, set()).add(key)
            while len(self._series) > MAX_TRACKED:
                oldest, _ = self._series.popitem(last=False)
                self._untrack(oldest)
        else:
            self._series.move_to_end(key)
        series.count += 1
        series.last = wall
        self._unsent[key] = None
        self._wakeup.set()

    def forget(self, uid: str) -> None:
        """Stop tracking the events of an object that is gone."""
        for key in self._keys_by_uid.pop(uid, ()):
            del self._series[key]
            self._unsent.pop(key, None)

    def _untrack(self, key: tuple[str, ...]) -> None:
        keys = self._keys_by_uid.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_uid[key[0]]

    async def run(self) -> None:
        while True:
            now = self.clock.monotonic()
            due: list[_Series] = []
            later: float | None = None
            for key in list(self._unsent):
                series = self._series.get(key)
                if series is None or series.count == series.sent_count:
                    del self._unsent[key]  # sent, or no longer tracked
                    continue
                if series.next_send <= now:
                    due.append(series)
                elif later is None or series.next_send < later:
                    later = series.next_send
            for start in range(0, len(due), MAX_EVENTS_PER_CALL):
                await self._send(due[start:start + MAX_EVENTS_PER_CALL], now)
            if not due:
                self._wakeup.clear()
                await wait_until(self.clock, self._wakeup, later)

    async def _send(self, batch: list[_Series], now: float) -> None:
        """One call for every event due: what a pod's start records (Pulled, Created, Started)
        and what other pods recorded meanwhile travel together."""
        counts = []
        for series in batch:
            event = series.event
            event.count = series.count
            event.reporting_instance = self.client.node_name
            event.last_timestamp = now_rfc3339(series.last)
            counts.append(series.count)
        try:
            results = await self.client.record_events([series.event for series in batch])
        except ApiError as exc:
            log.debug("node=%s %d events not recorded: %s", self.client.node_name, len(batch), exc)
            for series, count in zip(batch, counts, strict=True):
                series.next_send = now + self.interval
                if exc.code not in FAILOVER_CODES:
                    series.sent_count = count  # refused as a whole: drop them
            return
        for series, count, refused in zip(batch, counts, results, strict=True):
            series.next_send = now + self.interval
            if refused is not None:
                log.debug("node=%s event %s %s not recorded: %s", self.client.node_name,
                          series.event.reason, series.event.involved_object.name, refused)
                if refused.code in FAILOVER_CODES:
                    continue  # etcd was unavailable: try again after the interval
            else:
                self.sent += 1
            series.sent_count = count  # recorded, or refused (e.g. its namespace is gone)


def pod_reference(pod: core_pb2.Pod, field_path: str = "") -> meta_pb2.ObjectReference:
    return meta_pb2.ObjectReference(kind="Pod", api_version="v1", namespace=pod.metadata.namespace,
                                    name=pod.metadata.name, uid=pod.metadata.uid,
                                    field_path=field_path)


def container_path(container: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container}}}"


def node_reference(node_name: str) -> meta_pb2.ObjectReference:
    # The kubelet names its Node by name in the uid field, as Kubernetes' kubelet does.
    return meta_pb2.ObjectReference(kind="Node", name=node_name, uid=node_name)
