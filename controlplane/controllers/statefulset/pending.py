"""The creates and deletes a StatefulSet's sync made that its pod cache has not shown yet.

Pod names are fixed, so a repeated create could only fail; a repeated delete, though, would
record a second SuccessfulDelete, and a plan made on a cache without the new pod would count it
missing. Until the cache shows each write (a create by the pod's name appearing, a delete by
the pod's UID turning terminating or vanishing) the set is not synced. A write not seen within
the TTL is forgotten, so a lost event cannot stall a set.
"""

from __future__ import annotations

import time


class PendingWrites:
    def __init__(self, ttl: float):
        self.ttl = ttl
        # set key -> {pod name or uid: when the write was made}
        self._creates: dict[str, dict[str, float]] = {}
        self._deletes: dict[str, dict[str, float]] = {}

    def expect_create(self, key: str, pod_name: str) -> None:
        self._creates.setdefault(key, {})[pod_name] = time.monotonic()

    def expect_delete(self, key: str, pod_uid: str) -> None:
        self._deletes.setdefault(key, {})[pod_uid] = time.monotonic()

    def created(self, key: str, pod_name: str) -> None:
        _discard(self._creates, key, pod_name)

    def deleted(self, key: str, pod_uid: str) -> None:
        _discard(self._deletes, key, pod_uid)

    def satisfied(self, key: str) -> bool:
        oldest = time.monotonic() - self.ttl
        for table in (self._creates, self._deletes):
            waiting = table.get(key)
            if not waiting:
                continue
            for item in [i for i, stamp in waiting.items() if stamp < oldest]:
                del waiting[item]
            if waiting:
                return False
            del table[key]
        return True

    def forget(self, key: str) -> None:
        self._creates.pop(key, None)
        self._deletes.pop(key, None)


def _discard(table: dict[str, dict[str, float]], key: str, item: str) -> None:
    waiting = table.get(key)
    if waiting is not None:
        waiting.pop(item, None)
        if not waiting:
            del table[key]
