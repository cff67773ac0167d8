"""Pod-recreation backoff after failures, as Kubernetes' Job controller keeps it.

Per Job the controller remembers how many pods failed since the last success and when the last
of them finished. A replacement pod is created only once ``base x 2^(failures-1)`` (at most
``cap``) has passed since that failure: 10 s, 20 s, 40 s ... up to 6 minutes, multiplied by the
timing profile's scale. A success in between starts the count again from the failures after it.
The record lives in memory only, as in Kubernetes: a restarted controller starts afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controlplane.controllers.job.pods import finished_time
from kemu.v1 import core_pb2

BACKOFF_BASE = 10.0
BACKOFF_CAP = 360.0


@dataclass(frozen=True)
class BackoffRecord:
    key: str
    failures_after_last_success: int = 0
    last_failure_time: float | None = None

    def remaining(self, now: float, base: float, cap: float) -> float:
        """Seconds until a replacement pod may be created (0: now)."""
        return remaining_for(self.failures_after_last_success, self.last_failure_time, now,
                             base, cap)


def remaining_for(failures: int, last_failure: float | None, now: float, base: float,
                  cap: float) -> float:
    if failures == 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    elapsed = now - last_failure
    return 0.0 if delay < elapsed else delay - elapsed


class BackoffStore:
    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def get(self, key: str) -> BackoffRecord:
        return self._records.get(key) or BackoffRecord(key)

    def update(self, record: BackoffRecord) -> None:
        self._records[record.key] = record

    def remove(self, key: str) -> None:
        self._records.pop(key, None)

    def new_record(self, key: str, new_succeeded: Sequence[core_pb2.Pod],
                   new_failed: Sequence[core_pb2.Pod],
                   finish_time: Callable[[core_pb2.Pod], float] = finished_time
                   ) -> BackoffRecord:
        """The record after this sync's newly finished pods (not stored until ``update``)."""
        old = self.get(key)
        if not new_failed:
            return BackoffRecord(key) if new_succeeded else old
        failures = sorted(finish_time(p) for p in new_failed)
        if not new_succeeded:
            return BackoffRecord(key, old.failures_after_last_success + len(failures),
                                 failures[-1])
        last_success = max(finish_time(p) for p in new_succeeded)
        after = [t for t in failures if t > last_success]
        return BackoffRecord(key, len(after), after[-1] if after else None)
