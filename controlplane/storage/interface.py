"""The storage contract (after k3s' kine): get, create, update-if-revision, delete, list,
watch-from-revision, current revision, compact. Keys and values are bytes; revisions are the
store's global, monotonically increasing write counter (etcd's revision).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int


class EventType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True)
class StoreEvent:
    type: EventType
    # For PUT the new value; for DELETE the key with an empty value at the delete revision.
    kv: KeyValue
    # The value before the event (None for a create).
    prev: KeyValue | None
    revision: int

    @property
    def is_create(self) -> bool:
        return self.type is EventType.PUT and self.kv.create_revision == self.kv.mod_revision


class StoreError(Exception):
    pass


class KeyExistsError(StoreError):
    def __init__(self, key: bytes):
        super().__init__(f"key {key.decode()} already exists")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: bytes):
        super().__init__(f"key {key.decode()} not found")
        self.key = key


class ConflictError(StoreError):
    """The key's revision is not the one the writer expected. ``current`` is what is there."""

    def __init__(self, key: bytes, expected: int, current: KeyValue | None):
        have = current.mod_revision if current else 0
        super().__init__(f"key {key.decode()}: expected revision {expected}, found {have}")
        self.key = key
        self.expected = expected
        self.current = current


class CompactedError(StoreError):
    """The requested revision has been compacted away; the caller must re-list."""

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"revision {requested} has been compacted (oldest kept: {compacted})")
        self.requested = requested
        self.compacted = compacted


class StoreUnavailableError(StoreError):
    pass


class Store(Protocol):
    async def get(self, key: bytes) -> KeyValue | None: ...

    async def create(self, key: bytes, value: bytes, ttl_seconds: int | None = None) -> KeyValue:
        """Write ``key`` only if it does not exist; raises KeyExistsError."""
        ...

    async def update(self, key: bytes, value: bytes, expected_revision: int,
                     ttl_seconds: int | None = None) -> KeyValue:
        """Write ``key`` only if its mod revision is ``expected_revision``; raises
        ConflictError (or KeyNotFoundError when it is gone)."""
        ...

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        """Delete ``key`` (only at ``expected_revision`` when given); returns the deleted value
        with ``mod_revision`` set to the delete's revision."""
        ...

    async def touch(self, key: bytes) -> int:
        """Write an empty value at ``key`` whatever it holds; the write's revision. Only for
        markers whose content nobody reads (it overwrites without comparing)."""
        ...

    async def list(self, prefix: bytes, revision: int = 0) -> tuple[list[KeyValue], int]:
        """Every key under ``prefix`` at ``revision`` (0 = now), and that revision."""
        ...

    def watch(self, prefix: bytes, after_revision: int, *,
              previous: bool = True) -> AsyncIterator[StoreEvent]:
        """Every change under ``prefix`` with a revision greater than ``after_revision``, in
        order; raises CompactedError if that history is gone. ``previous``: each event also
        carries the value it replaced (etcd reads it for every event, so a watcher that keeps
        its own copy passes False)."""
        ...

    async def current_revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...

    async def close(self) -> None: ...
