"""Expectations: how many creates and deletes a controller is still waiting to see.

A controller that just created five pods must not create five more while its informer has not
yet seen the first five. It records what it expects; the informer's handlers count down as the
objects appear or vanish; ``satisfied`` says when the cache can be trusted again. A record
older than the TTL is treated as satisfied, so a lost event cannot stall a controller forever.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EXPECTATIONS_TTL = 300.0


@dataclass
class _Record:
    adds: int
    deletes: int
    stamp: float


class Expectations:
    def __init__(self, ttl: float = EXPECTATIONS_TTL):
        self.ttl = ttl
        self._records: dict[str, _Record] = {}

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._records[key] = _Record(adds, deletes, time.monotonic())

    def raise_expectations(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        record = self._records.get(key)
        if record is None:
            self.expect(key, adds, deletes)
        else:
            record.adds += adds
            record.deletes += deletes

    def lower(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        record = self._records.get(key)
        if record is not None:
            record.adds -= adds
            record.deletes -= deletes

    def creation_observed(self, key: str) -> None:
        self.lower(key, adds=1)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, deletes=1)

    def satisfied(self, key: str) -> bool:
        record = self._records.get(key)
        if record is None:
            return True
        if record.adds <= 0 and record.deletes <= 0:
            return True
        return time.monotonic() - record.stamp > self.ttl

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
