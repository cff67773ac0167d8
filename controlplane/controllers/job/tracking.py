"""Which pods the Job controller is waiting to see without their tracking finalizer.

After removing the finalizer from a counted pod, the informer may still hold the pod with it for
a moment; counting it again then would count it twice. The UIDs in flight are remembered per
Job until the pod is seen without the finalizer (or gone), and are skipped meanwhile.
"""

from __future__ import annotations


class FinalizerExpectations:
    def __init__(self) -> None:
        self._uids: dict[str, set[str]] = {}

    def expect_removed(self, key: str, uids: list[str]) -> None:
        self._uids.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        pending = self._uids.get(key)
        if pending is None:
            return
        pending.discard(uid)
        if not pending:
            del self._uids[key]

    def expected(self, key: str) -> frozenset[str]:
        return frozenset(self._uids.get(key, ()))

    def forget(self, key: str) -> None:
        self._uids.pop(key, None)
