"""Per-key exponential backoff (client-go's ``flowcontrol.Backoff``), for replacing daemon pods
that keep failing on one node without hot-looping against the kubelet.

Each ``next`` doubles the key's delay up to the maximum; a key left alone for twice the maximum
starts again from the initial delay. Time is passed in, so the logic is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float, maximum: float):
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def next(self, key: str, now: float) -> float:
        """Record an attempt at ``now``; returns the delay before the next may happen."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = now
        return entry.delay

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry.last_update < entry.delay

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
