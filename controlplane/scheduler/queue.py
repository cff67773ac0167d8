"""The scheduling queue (kube-scheduler's PriorityQueue): pending pods wait here for an attempt.

Three places, as in Kubernetes:
- *active*: ready to be tried, highest ``spec.priority`` first, then oldest first;
- *backoff*: tried and failed recently; each failure doubles the wait
  (``scheduler_retry_backoff_base`` up to ``scheduler_retry_backoff_max``);
- *unschedulable*: no node fits. Such a pod waits for a cluster event that may change that (a
  node added or changed, a pod removed), which moves it on (to backoff if its backoff has not
  run out yet); a pod no event has moved is tried again after ``scheduler_unschedulable_max_wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

from kemu.api.meta import key_of
from kemu.v1 import core_pb2

ACTIVE = "active"
BACKOFF = "backoff"
UNSCHEDULABLE = "unschedulable"


class QueueClosedError(Exception):
    pass


@dataclass
class QueuedPod:
    key: str
    pod: core_pb2.Pod
    timestamp: float
    attempts: int = 0
    backoff_until: float = 0.0
    where: str = ""
    seq: int = 0

    @property
    def priority(self) -> int:
        spec = self.pod.spec
        return spec.priority if spec.HasField("priority") else 0


def _relevant_change(old: core_pb2.Pod, new: core_pb2.Pod) -> bool:
    """A change that could make an unschedulable pod schedulable (not its own status)."""
    return old.spec != new.spec or old.metadata.labels != new.metadata.labels or \
        old.metadata.annotations != new.metadata.annotations


class SchedulingQueue:
    def __init__(self, backoff_base: float, backoff_max: float, max_unschedulable_wait: float,
                 clock: Callable[[], float] = time.monotonic):
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_unschedulable_wait = max_unschedulable_wait
        self.clock = clock
        self.pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPod] = {}
        self._seq = 0
        self._wakeup = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self.pods)

    def where(self, key: str) -> str:
        queued = self.pods.get(key)
        return queued.where if queued is not None else ""

    # -- placing --------------------------------------------------------------------------
    def _to_active(self, queued: QueuedPod) -> None:
        self._unschedulable.pop(queued.key, None)
        self._seq += 1
        queued.where, queued.seq = ACTIVE, self._seq
        heapq.heappush(self._active, (-queued.priority, queued.timestamp, self._seq, queued.key))
        self._wakeup.set()

    def _to_backoff(self, queued: QueuedPod) -> None:
        self._unschedulable.pop(queued.key, None)
        self._seq += 1
        queued.where, queued.seq = BACKOFF, self._seq
        heapq.heappush(self._backoff, (queued.backoff_until, self._seq, queued.key))
        self._wakeup.set()

    def _to_unschedulable(self, queued: QueuedPod) -> None:
        queued.where = UNSCHEDULABLE
        self._unschedulable.pop(queued.key, None)
        self._unschedulable[queued.key] = queued
        self._wakeup.set()

    def _backoff_duration(self, attempts: int) -> float:
        duration = self.backoff_base
        for _ in range(1, attempts):
            duration *= 2
            if duration >= self.backoff_max:
                return self.backoff_max
        return min(duration, self.backoff_max)

    def _move(self, queued: QueuedPod) -> None:
        if queued.backoff_until > self.clock():
            self._to_backoff(queued)
        else:
            self._to_active(queued)

    # -- what the informer reports -------------------------------------------------------
    def add(self, pod: core_pb2.Pod) -> None:
        """A pending pod (new, or changed)."""
        key = key_of(pod)
        queued = self.pods.get(key)
        if queued is not None:
            self.update(pod)
            return
        queued = QueuedPod(key, pod, self.clock())
        self.pods[key] = queued
        self._to_active(queued)

    def update(self, pod: core_pb2.Pod) -> None:
        queued = self.pods.get(key_of(pod))
        if queued is None:
            self.add(pod)
            return
        old, queued.pod = queued.pod, pod
        if queued.where == UNSCHEDULABLE and _relevant_change(old, pod):
            self._move(queued)

    def delete(self, key: str) -> None:
        queued = self.pods.pop(key, None)
        if queued is not None:
            queued.where = ""
            self._unschedulable.pop(key, None)

    # -- after an attempt -----------------------------------------------------------------
    def requeue_unschedulable(self, queued: QueuedPod) -> None:
        """No node fits: wait for a cluster event (or the long timeout)."""
        self._requeue(queued, unschedulable=True)

    def requeue_backoff(self, queued: QueuedPod) -> None:
        """An error (e.g. a failed binding): try again after the backoff."""
        self._requeue(queued, unschedulable=False)

    def _requeue(self, queued: QueuedPod, unschedulable: bool) -> None:
        if queued.key in self.pods and self.pods[queued.key] is not queued:
            return
        now = self.clock()
        queued.timestamp = now
        queued.backoff_until = now + self._backoff_duration(max(1, queued.attempts))
        self.pods[queued.key] = queued
        if unschedulable:
            self._to_unschedulable(queued)
        else:
            self._to_backoff(queued)

    def move_all(self) -> int:
        """A cluster event: every unschedulable pod gets another chance (after its backoff)."""
        moved = list(self._unschedulable.values())
        for queued in moved:
            self._move(queued)
        return len(moved)

    # -- taking ---------------------------------------------------------------------------
    def _flush(self, now: float) -> float | None:
        """Move due pods to active; the time of the next thing due, if any."""
        while self._backoff:
            until, seq, key = self._backoff[0]
            queued = self.pods.get(key)
            if queued is None or queued.where != BACKOFF or queued.seq != seq:
                heapq.heappop(self._backoff)
                continue
            if until > now:
                break
            heapq.heappop(self._backoff)
            self._to_active(queued)
        due: list[float] = []
        if self._backoff:
            due.append(self._backoff[0][0])
        while self._unschedulable:
            key, queued = next(iter(self._unschedulable.items()))
            expires = queued.timestamp + self.max_unschedulable_wait
            if expires > now:
                due.append(expires)
                break
            del self._unschedulable[key]
            self._move(queued)
        return min(due) if due else None

    def pop_ready(self) -> QueuedPod | None:
        """The next pod to try now, if any (taken out of the queue)."""
        self._flush(self.clock())
        while self._active:
            _, _, seq, key = heapq.heappop(self._active)
            queued = self.pods.get(key)
            if queued is None or queued.where != ACTIVE or queued.seq != seq:
                continue
            del self.pods[key]
            queued.where = ""
            queued.attempts += 1
            return queued
        return None

    async def pop(self) -> QueuedPod:
        while True:
            if self._closed:
                raise QueueClosedError
            queued = self.pop_ready()
            if queued is not None:
                return queued
            self._wakeup.clear()
            next_due = self._flush(self.clock())
            if self._active:
                continue
            timeout = None if next_due is None else max(0.0, next_due - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
