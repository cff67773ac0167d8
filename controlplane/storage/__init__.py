"""The one storage contract the API server talks to, and its etcd v3 implementation."""

from controlplane.storage.interface import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
    StoreEvent,
    StoreUnavailableError,
)

__all__ = [
    "CompactedError",
    "ConflictError",
    "EventType",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "Store",
    "StoreEvent",
    "StoreUnavailableError",
]
