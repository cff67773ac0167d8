"""When pods became Ready, more precisely than their Ready condition says.

A pod's Ready condition carries ``lastTransitionTime`` with one-second precision (metav1.Time),
and Kubernetes' controllers time ``minReadySeconds`` from it. With Kubernetes' durations that
costs at most a second of, say, a 10-second minReadySeconds; in the fast profile (x 0.05) that
minReadySeconds is half a second, less than the timestamp's precision, and pods counted as
available up to a second early: a rolling update with minReadySeconds did not wait at all.

A controller that watches pods notes the moment, on its own clock, it saw each pod turn Ready.
That moment stands in for the truncated stamp when the two agree (the stamp is within the two
seconds before it: truncation plus watch delay); otherwise, and for pods first seen already
Ready (after a restart of the controller), the stamp is used, as Kubernetes does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from controlplane.controllers.informer import Informer
from kemu.api.pods import is_ready, stamped_ready_since
from kemu.v1 import core_pb2

# The stamp is truncated to the second, and the watch may deliver the change a little later.
_AGREEMENT = 2.0


class ReadyTimes:
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._seen: dict[str, float] = {}

    def attach(self, pods: Informer[core_pb2.Pod]) -> None:
        pods.add_handler(None, self.updated, self.deleted)

    def updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if is_ready(new):
            if not is_ready(old):
                self._seen[new.metadata.uid] = self.clock()
        else:
            self._seen.pop(new.metadata.uid, None)

    def deleted(self, pod: core_pb2.Pod) -> None:
        self._seen.pop(pod.metadata.uid, None)

    def since(self, pod: core_pb2.Pod) -> float | None:
        """When ``pod`` became Ready (None if it is not Ready)."""
        stamped = stamped_ready_since(pod)
        if stamped is None:
            return None
        seen = self._seen.get(pod.metadata.uid)
        if seen is not None and stamped <= seen < stamped + _AGREEMENT:
            return seen
        return stamped
