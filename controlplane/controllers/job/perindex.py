"""backoffLimitPerIndex: an Indexed Job whose indexes fail independently.

Each pod carries ``batch.kubernetes.io/job-index-failure-count`` (failures of its index before
it, counted ones) and ``batch.kubernetes.io/job-index-ignored-failure-count`` (ones a
podFailurePolicy Ignore rule matched). An index fails once a counted failure happens with the
count already at the limit, or a ``FailIndex`` rule matches; it is then listed in
``status.failedIndexes`` and never retried. The failed pod of an index waiting for its
replacement keeps its tracking finalizer until the replacement exists, so its counts can be
copied; the replacement waits the index's own backoff (10 s x 2^(failures-1), capped).
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.controllers.job import failurepolicy
from controlplane.controllers.job.backoff import remaining_for
from controlplane.controllers.job.indexes import Intervals, parse
from controlplane.controllers.job.pods import (
    finished_time,
    has_tracking_finalizer,
    index_of,
    is_failed,
    valid_index,
)
from kemu.v1 import batch_pb2, core_pb2

FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
_INT32_MAX = 2**31 - 1


def has_per_index_limit(job: batch_pb2.Job) -> bool:
    return job.spec.HasField("backoff_limit_per_index")


def _count(pod: core_pb2.Pod, annotation: str) -> int:
    try:
        value = int(pod.metadata.annotations.get(annotation, "0"))
    except ValueError:
        return 0
    return value if 0 <= value <= _INT32_MAX else 0


def failure_count(pod: core_pb2.Pod) -> int:
    return _count(pod, FAILURE_COUNT)


def absolute_failure_count(pod: core_pb2.Pod) -> int:
    return _count(pod, FAILURE_COUNT) + _count(pod, IGNORED_FAILURE_COUNT)


def _policy_match(job: batch_pb2.Job, pod: core_pb2.Pod) -> failurepolicy.Match | None:
    if not job.spec.HasField("pod_failure_policy"):
        return None
    return failurepolicy.match(job.spec.pod_failure_policy, pod, per_index=True)


def index_failed(job: batch_pb2.Job, pod: core_pb2.Pod) -> bool:
    if not is_failed(pod, job):
        return False
    found = _policy_match(job, pod)
    if found is not None and found.action == failurepolicy.FAIL_INDEX:
        return True
    counted = found.counts if found is not None else True
    return counted and failure_count(pod) >= job.spec.backoff_limit_per_index


def failed_indexes(job: batch_pb2.Job, pods: Sequence[core_pb2.Pod]) -> Intervals:
    """``status.failedIndexes`` and the indexes that failed since it was written."""
    completions = job.spec.completions
    previous = parse(job.status.failed_indexes, completions)
    new = [index_of(p) for p in pods
           if valid_index(p, completions) and has_tracking_finalizer(p) and index_failed(job, p)]
    return previous.with_indexes(new)


def pods_awaiting_replacement(job: batch_pb2.Job, valid_failed: Sequence[core_pb2.Pod],
                              succeeded: Intervals, failed: Intervals,
                              active_indexes: set[int]) -> dict[int, core_pb2.Pod]:
    """Per index still to be retried, its latest failed pod (kept until replaced)."""
    latest: dict[int, core_pb2.Pod] = {}
    for pod in valid_failed:
        index = index_of(pod)
        if succeeded.has(index) or failed.has(index) or index in active_indexes:
            continue
        previous = latest.get(index)
        if previous is None or (
                absolute_failure_count(previous) <= absolute_failure_count(pod) and
                finished_time(pod) >= finished_time(previous)):
            latest[index] = pod
    return latest


def replacement_counts(job: batch_pb2.Job, replaced: core_pb2.Pod | None) -> tuple[int, int]:
    """(failure count, ignored failure count) for the pod replacing ``replaced``."""
    if replaced is None:
        return 0, 0
    counted, ignored = failure_count(replaced), _count(replaced, IGNORED_FAILURE_COUNT)
    found = _policy_match(job, replaced)
    if found is None or found.counts:
        counted += 1
    else:
        ignored += 1
    return counted, ignored


def annotate_replacement(pod: core_pb2.Pod, job: batch_pb2.Job,
                         replaced: core_pb2.Pod | None) -> None:
    counted, ignored = replacement_counts(job, replaced)
    pod.metadata.annotations[FAILURE_COUNT] = str(counted)
    if ignored > 0:
        pod.metadata.annotations[IGNORED_FAILURE_COUNT] = str(ignored)


def index_backoff(replaced: core_pb2.Pod | None, now: float, base: float, cap: float) -> float:
    """Seconds until ``replaced``'s index may get a new pod."""
    if replaced is None:
        return 0.0
    return remaining_for(absolute_failure_count(replaced) + 1, finished_time(replaced), now,
                         base, cap)
