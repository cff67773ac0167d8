"""Exponential back-off per key, as the kubelet uses for CrashLoopBackOff and ImagePullBackOff.

After client-go's flowcontrol.Backoff: the first failure of a key does not wait (it starts a
window of ``base``); a failure inside the current window must wait out the window, after which
the window doubles (up to ``cap``). A container that ran for ``reset`` seconds before failing
starts over from ``base``. Times are monotonic seconds; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    updated: float


class Backoff:
    def __init__(self, base: float, cap: float, reset: float | None = None):
        self.base = base
        self.cap = cap
        self.reset = reset if reset is not None else 2 * cap
        self._entries: dict[str, _Entry] = {}

    def delay(self, key: str) -> float:
        """The current window of ``key`` (0 if it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def wait_until(self, key: str, failed_at: float, ran_for: float | None = None) -> float | None:
        """When a retry after a failure at ``failed_at`` may happen, if it must wait at all.

        None means "now": the caller retries and calls ``next`` for it.
        """
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, failed_at, ran_for):
            return None
        until = failed_at + entry.delay
        return until

    def next(self, key: str, failed_at: float, ran_for: float | None = None) -> float:
        """Record a retry for the failure at ``failed_at``; returns the new window."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, failed_at, ran_for):
            entry = self._entries[key] = _Entry(self.base, failed_at)
        else:
            entry.delay = min(entry.delay * 2, self.cap)
            entry.updated = failed_at
        return entry.delay

    def in_backoff(self, key: str, now: float) -> float | None:
        """For retries counted from the last ``next`` (image pulls): the time to wait for."""
        entry = self._entries.get(key)
        if entry is None or now - entry.updated > self.reset:
            return None
        until = entry.updated + entry.delay
        return until if now < until else None

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def _expired(self, entry: _Entry, failed_at: float, ran_for: float | None) -> bool:
        if ran_for is not None and ran_for >= self.reset:
            return True
        return failed_at - entry.updated > 2 * self.cap
