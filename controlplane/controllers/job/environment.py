"""What one Job sync works with: the API, the controller's memory and its clock.

The controller builds one ``Environment`` and hands it to every sync; unit tests build one over
an in-memory client and a settable clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.controllers.events import EventRecorder
from controlplane.controllers.job.backoff import BACKOFF_BASE, BACKOFF_CAP, BackoffStore
from controlplane.controllers.job.pods import finished_time
from controlplane.controllers.job.tracking import FinalizerExpectations
from controlplane.controllers.podcontrol import PodControl
from controlplane.controllers.replicaset import DeletionExpectations
from kemu.api.meta import now_rfc3339, parse_time
from kemu.api.pods import FAILED, SUCCEEDED
from kemu.client.interface import ApiClient
from kemu.timing import Timing
from kemu.v1 import batch_pb2, core_pb2

# Pod events are batched: a Job is synced at most once per this period (x timing.scale).
SYNC_BATCH_PERIOD = 1.0
# Pods created or deleted per Job in one sync, and finished pods counted per status write.
MAX_POD_CHANGES_PER_SYNC = 500
MAX_UNCOUNTED_PODS = 500


@dataclass
class Environment:
    client: ApiClient
    recorder: EventRecorder
    timing: Timing
    clock: Callable[[], float]
    requeue: Callable[[str, float], None]
    pod_control: PodControl = field(init=False)
    expectations: DeletionExpectations = field(init=False)
    finalizers: FinalizerExpectations = field(default_factory=FinalizerExpectations)
    backoff: BackoffStore = field(default_factory=BackoffStore)
    # Job UID -> (status.startTime as written, the exact moment): startTime has one-second
    # precision, too coarse for scaled deadlines.
    start_times: dict[str, tuple[str, float]] = field(default_factory=dict)
    # Pod UID -> when the controller first saw it finished: finishedAt has the same precision.
    finish_seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pod_control = PodControl(self.client, self.recorder)
        # Not scaled by the timing profile, as in the ReplicaSet controller.
        self.expectations = DeletionExpectations()

    @property
    def batch_period(self) -> float:
        return SYNC_BATCH_PERIOD * self.timing.scale

    @property
    def backoff_base(self) -> float:
        return BACKOFF_BASE * self.timing.scale

    @property
    def backoff_cap(self) -> float:
        return BACKOFF_CAP * self.timing.scale

    def stamp_start(self, job: batch_pb2.Job, now: float) -> None:
        stamp = now_rfc3339(now)
        job.status.start_time = stamp
        self.start_times[job.metadata.uid] = (stamp, now)

    def start_time(self, job: batch_pb2.Job) -> float:
        remembered = self.start_times.get(job.metadata.uid)
        if remembered is not None and remembered[0] == job.status.start_time:
            return remembered[1]
        return parse_time(job.status.start_time)

    def saw_pod(self, pod: core_pb2.Pod) -> None:
        """Remember when a pod was first seen finished (handlers call this)."""
        if pod.status.phase in (SUCCEEDED, FAILED) and pod.metadata.uid not in self.finish_seen:
            self.finish_seen[pod.metadata.uid] = self.clock()

    def finish_time(self, pod: core_pb2.Pod) -> float:
        """The pod's finish time, refined below the second when the controller saw it finish
        within that second."""
        stamped = finished_time(pod)
        seen = self.finish_seen.get(pod.metadata.uid)
        if seen is not None and stamped <= seen < stamped + 1:
            return seen
        return stamped

    def forget(self, key: str, uid: str = "") -> None:
        self.expectations.forget(key)
        self.finalizers.forget(key)
        self.backoff.remove(key)
        if uid:
            self.start_times.pop(uid, None)
