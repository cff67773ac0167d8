"""Counting finished pods exactly once, through the tracking finalizer (Kubernetes'
``trackJobStatusAndRemoveFinalizers``).

A finished pod still carrying ``batch.kubernetes.io/job-tracking`` is not counted yet. Counting
it takes three steps, so that a crash or a conflict between them never counts it twice nor
loses it:

1. its UID goes into ``status.uncountedTerminatedPods`` (succeeded or failed), written;
2. its finalizer is removed (the pod may then be deleted by anyone);
3. UIDs in the uncounted lists whose pod no longer has the finalizer move into
   ``status.succeeded`` / ``status.failed``, written.

An Indexed Job needs no UIDs: the index itself goes into ``completedIndexes``. At most
``MAX_UNCOUNTED_PODS`` pods are taken per sync. Once the counts are final and no pod is still
terminating, the interim condition becomes ``Complete`` (with ``completionTime``) or
``Failed``, with the events ``Completed`` ("Job completed") or the failure's reason and
message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from controlplane.controllers.events import NORMAL, WARNING
from controlplane.controllers.job import conditions as cond
from controlplane.controllers.job import failurepolicy, perindex
from controlplane.controllers.job.backoff import BackoffRecord
from controlplane.controllers.job.environment import MAX_UNCOUNTED_PODS, Environment
from controlplane.controllers.job.indexes import UNKNOWN_INDEX, Intervals
from controlplane.controllers.job.pods import (
    has_tracking_finalizer,
    index_of,
    is_failed,
    is_indexed,
    remove_finalizer_patch,
)
from kemu.api.errors import ApiError, Code
from kemu.api.pods import SUCCEEDED
from kemu.v1 import batch_pb2, core_pb2


def move_counted(status: batch_pb2.JobStatus, with_finalizer: set[str]) -> bool:
    """Move uncounted UIDs whose pod lost its finalizer into the counters; True if any moved."""
    changed = False
    uncounted = status.uncounted_terminated_pods
    for field, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = getattr(uncounted, field)
        keep = [uid for uid in uids if uid in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            setattr(status, counter, getattr(status, counter) + len(uids) - len(keep))
            del uids[:]
            uids.extend(keep)
    return changed


class StatusAccounting:
    """The state of one sync that the status accounting needs; ``sync.JobSync`` fills it."""

    def __init__(self, env: Environment, key: str, job: batch_pb2.Job,
                 pods: Sequence[core_pb2.Pod]):
        self.env = env
        self.key = key
        self.job = job
        self.pods = list(pods)
        self.now = env.clock()
        self.per_index = perindex.has_per_index_limit(job) and is_indexed(job)
        uncounted = job.status.uncounted_terminated_pods
        self.uncounted_succeeded = set(uncounted.succeeded)
        self.uncounted_failed = set(uncounted.failed)
        self.expected_removals = env.finalizers.expected(key)
        self.succeeded = 0
        self.failed = 0
        self.terminating = 0
        self.finished: batch_pb2.JobCondition | None = None
        self.prev_succeeded_indexes = Intervals()
        self.succeeded_indexes = Intervals()
        self.failed_indexes: Intervals | None = None
        self.awaiting_replacement: dict[int, core_pb2.Pod] = {}
        self.new_backoff = BackoffRecord(key)

    # -- finalizers -------------------------------------------------------------------------
    async def remove_finalizer(self, pod: core_pb2.Pod) -> None:
        """Remove the tracking finalizer; a concurrent change of the finalizer list is retried
        on a fresh read. NotFound is raised to the caller."""
        patch = remove_finalizer_patch(pod)
        for _ in range(3):
            if patch is None:
                return
            try:
                await self.env.client.patch(core_pb2.Pod, pod.metadata.name,
                                            pod.metadata.namespace, patch, patch_type="json")
                return
            except ApiError as exc:
                if exc.code != Code.INVALID_ARGUMENT:
                    raise
            pod = await self.env.client.get(core_pb2.Pod, pod.metadata.name,
                                            pod.metadata.namespace)
            patch = remove_finalizer_patch(pod)
        raise ApiError(Code.ABORTED, "Conflict",
                       f"could not remove the finalizer of pod {pod.metadata.name}")

    async def _remove_finalizers(self, pods: list[core_pb2.Pod]) -> tuple[list[bool],
                                                                          ApiError | None]:
        uids = [p.metadata.uid for p in pods]
        self.env.finalizers.expect_removed(self.key, uids)
        results = await asyncio.gather(*(self.remove_finalizer(p) for p in pods),
                                       return_exceptions=True)
        done: list[bool] = []
        failure: ApiError | None = None
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, ApiError):
                # No update will show the finalizer gone: stop waiting for one.
                self.env.finalizers.observed(self.key, pod.metadata.uid)
                if result.code != Code.NOT_FOUND:
                    failure = failure or result
                    done.append(False)
                    continue
            elif isinstance(result, BaseException):
                raise result
            done.append(True)
        return done, failure

    # -- status -----------------------------------------------------------------------------
    def _can_remove_finalizer(self, pod: core_pb2.Pod, failed: bool) -> bool:
        if self.job.metadata.deletion_timestamp or self.finished is not None or \
                pod.status.phase == SUCCEEDED:
            return True
        if not failed:
            return False
        if self.per_index:
            waiting = self.awaiting_replacement.get(index_of(pod))
            if waiting is not None and waiting.metadata.uid == pod.metadata.uid:
                return False
        return True

    def _count_failure(self, pod: core_pb2.Pod) -> bool:
        if not self.job.spec.HasField("pod_failure_policy"):
            return True
        return failurepolicy.match(self.job.spec.pod_failure_policy, pod,
                                   per_index=self.per_index).counts

    async def write_status(self) -> None:
        self.job = await self.env.client.update_status(self.job)

    async def track_and_remove_finalizers(self, needs_flush: bool) -> None:
        job = self.job
        indexed = is_indexed(job)
        completions = job.spec.completions
        pods = sorted(self.pods, key=index_of) if indexed else self.pods
        with_finalizer = {p.metadata.uid for p in pods if has_tracking_finalizer(p) and
                          p.metadata.uid not in self.expected_removals}
        if move_counted(job.status, with_finalizer):
            needs_flush = True
        uncounted = job.status.uncounted_terminated_pods
        to_release: list[core_pb2.Pod] = []
        new_indexes: list[int] = []
        reached_max = False
        ending_badly = self.finished is not None and \
            self.finished.type != cond.SUCCESS_CRITERIA_MET
        for pod in pods:
            uid = pod.metadata.uid
            if not has_tracking_finalizer(pod) or uid in self.expected_removals:
                continue
            failed = is_failed(pod, job)
            if not self._can_remove_finalizer(pod, failed):
                continue
            to_release.append(pod)
            index = index_of(pod)
            if pod.status.phase == SUCCEEDED and uid not in self.uncounted_failed:
                if indexed:
                    if index != UNKNOWN_INDEX and index < completions and \
                            not self.prev_succeeded_indexes.has(index):
                        new_indexes.append(index)
                        needs_flush = True
                elif uid not in self.uncounted_succeeded:
                    uncounted.succeeded.append(uid)
                    needs_flush = True
            elif failed or ending_badly:
                # A Job that is failing counts every pod not finished as failed.
                valid = not indexed or (index != UNKNOWN_INDEX and index < completions)
                if uid not in self.uncounted_failed and valid and self._count_failure(pod):
                    uncounted.failed.append(uid)
                    needs_flush = True
            if len(new_indexes) + len(uncounted.succeeded) + len(uncounted.failed) >= \
                    MAX_UNCOUNTED_PODS:
                # More next time: the status stays small and big Jobs do not starve others.
                reached_max = True
                break
        if indexed:
            needs_flush = self._write_indexes(new_indexes) or needs_flush
        needs_flush = self._interim_condition() or needs_flush
        needs_flush = await self._flush_and_release(to_release, with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished()
        if finished or needs_flush:
            await self.write_status()
            if finished:
                self._record_finished()

    def _write_indexes(self, new_indexes: list[int]) -> bool:
        status = self.job.status
        changed = False
        self.succeeded_indexes = self.succeeded_indexes.with_indexes(new_indexes)
        text = str(self.succeeded_indexes)
        if text != status.completed_indexes:
            changed = True
        status.succeeded = self.succeeded_indexes.total()
        status.completed_indexes = text
        failed = str(self.failed_indexes) if self.failed_indexes is not None else None
        before = status.failed_indexes if status.HasField("failed_indexes") else None
        if failed != before:
            changed = True
            if failed is None:
                status.ClearField("failed_indexes")
            else:
                status.failed_indexes = failed
        return changed

    def _interim_condition(self) -> bool:
        """Write FailureTarget or SuccessCriteriaMet now; the terminal condition replaces the
        pending decision, to be set once the pods are all counted and gone."""
        finished = self.finished
        if finished is None:
            return False
        if finished.type == cond.FAILURE_TARGET:
            self.job.status.conditions.append(finished)
            self.finished = cond.new_condition(cond.FAILED, finished.reason, finished.message,
                                               self.now)
            return True
        if finished.type == cond.SUCCESS_CRITERIA_MET:
            added = False
            if not cond.is_true(self.job, cond.SUCCESS_CRITERIA_MET):
                self.job.status.conditions.append(finished)
                added = True
            self.finished = cond.new_condition(cond.COMPLETE, finished.reason, finished.message,
                                               self.now)
            return added
        return False

    async def _flush_and_release(self, pods: list[core_pb2.Pod], with_finalizer: set[str],
                                 needs_flush: bool) -> bool:
        if needs_flush:
            await self.write_status()
            self.env.backoff.update(self.new_backoff)
            needs_flush = False
        failure: ApiError | None = None
        if pods:
            done, failure = await self._remove_finalizers(pods)
            for pod, ok in zip(pods, done, strict=True):
                if ok:
                    with_finalizer.discard(pod.metadata.uid)
        if move_counted(self.job.status, with_finalizer):
            needs_flush = True
        if failure is not None:
            if needs_flush:
                await self.write_status()
            raise failure
        return needs_flush

    def _enact_finished(self) -> bool:
        finished = self.finished
        if finished is None:
            return False
        uncounted = self.job.status.uncounted_terminated_pods
        if uncounted.succeeded or uncounted.failed or self.terminating > 0:
            return False
        cond.ensure(self.job, finished.type, finished.status, finished.reason, finished.message,
                    self.now)
        if finished.type == cond.COMPLETE:
            self.job.status.completion_time = finished.last_transition_time
        return True

    def _record_finished(self) -> None:
        job, finished, recorder = self.job, self.finished, self.env.recorder
        assert finished is not None
        if finished.type == cond.COMPLETE:
            if job.spec.HasField("completions") and job.status.succeeded > job.spec.completions:
                recorder.event(job, WARNING, "TooManySucceededPods",
                               "Too many succeeded pods running after completion count reached")
            recorder.event(job, NORMAL, "Completed", "Job completed")
        else:
            recorder.event(job, WARNING, finished.reason, finished.message)
