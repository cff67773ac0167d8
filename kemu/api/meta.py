"""Small helpers over ObjectMeta: timestamps, keys, owner references, conditions."""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any, Protocol

from kemu.v1 import meta_pb2


class HasMetadata(Protocol):
    @property
    def metadata(self) -> meta_pb2.ObjectMeta: ...


# The last second formatted and its text: a busy process stamps many objects within one second,
# and formatting a datetime takes ~4 µs where this lookup takes ~0.2 µs.
_last_stamp: tuple[int, str] = (0, "1970-01-01T00:00:00Z")


def now_rfc3339(clock: float | None = None) -> str:
    """metav1.Time: seconds precision, UTC, ``Z``."""
    global _last_stamp
    second = math.floor(time.time() if clock is None else clock)
    last = _last_stamp
    if last[0] == second:
        return last[1]
    text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_stamp = (second, text)
    return text


def now_rfc3339_micro(clock: float | None = None) -> str:
    """metav1.MicroTime: microseconds precision (Lease renewTime, Event eventTime)."""
    moment = dt.datetime.now(dt.UTC) if clock is None else dt.datetime.fromtimestamp(clock, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp; 0.0 for an empty string."""
    if not text:
        return 0.0
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def key_of(obj: HasMetadata) -> str:
    """``namespace/name`` or ``name`` for cluster-scoped objects: the work-queue key."""
    ns = obj.metadata.namespace
    return f"{ns}/{obj.metadata.name}" if ns else obj.metadata.name


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def controller_of(obj: HasMetadata) -> meta_pb2.OwnerReference | None:
    for ref in obj.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def owner_reference(owner: Any, kind: str, api_version: str, *,
                    controller: bool = True, block: bool = True) -> meta_pb2.OwnerReference:
    return meta_pb2.OwnerReference(api_version=api_version, kind=kind, name=owner.metadata.name,
                                   uid=owner.metadata.uid, controller=controller,
                                   block_owner_deletion=block)


def is_being_deleted(obj: HasMetadata) -> bool:
    return bool(obj.metadata.deletion_timestamp)
