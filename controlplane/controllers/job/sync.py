"""One sync of one Job: count its pods, decide whether it has finished, create or delete pods.

After Kubernetes' ``syncJob``. The pods arrive claimed (ours, matching the selector). A sync:

1. counts finished pods not yet counted (those still carrying the tracking finalizer);
2. looks for a reason to end: a podFailurePolicy FailJob match, more failures than
   backoffLimit (with restartPolicy OnFailure: as many container restarts as backoffLimit), the
   activeDeadlineSeconds (x timing.scale) passed, failed indexes; or for success: completions
   reached (any success and nothing active, for a work-queue Job without completions);
3. if ending, deletes the active pods; otherwise, when the cache has caught up with our own
   writes, keeps the right number of pods running (``manage``): deletes all of a suspended Job,
   else creates up to min(parallelism, remaining completions) — the lowest pending indexes of
   an Indexed Job — in slow-start batches, after the failure backoff;
4. records status and removes finalizers (``accounting.StatusAccounting``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from controlplane.controllers.events import NORMAL
from controlplane.controllers.job import conditions as cond
from controlplane.controllers.job import failurepolicy, perindex
from controlplane.controllers.job.accounting import StatusAccounting
from controlplane.controllers.job.environment import MAX_POD_CHANGES_PER_SYNC, Environment
from controlplane.controllers.job.indexes import UNKNOWN_INDEX, Intervals, first_pending, parse
from controlplane.controllers.job.pods import (
    active_pods_for_removal,
    count_ready,
    has_tracking_finalizer,
    index_of,
    is_active,
    is_failed,
    is_indexed,
    is_terminating,
    new_pod,
    only_replace_failed,
    pod_template,
    restarts_of_unfinished,
    valid_index,
)
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of
from kemu.api.pods import SUCCEEDED, is_ready
from kemu.v1 import batch_pb2, core_pb2

log = logging.getLogger(__name__)


def is_suspended(job: batch_pb2.Job) -> bool:
    return job.spec.HasField("suspend") and job.spec.suspend


def _namespace_terminating(exc: ApiError) -> bool:
    return exc.code == Code.PERMISSION_DENIED and "being terminated" in exc.message


class JobSync(StatusAccounting):
    def __init__(self, env: Environment, key: str, job: batch_pb2.Job,
                 pods: Sequence[core_pb2.Pod], expectations_satisfied: bool):
        super().__init__(env, key, job, pods)
        self.satisfied = expectations_satisfied
        self.active_pods = [p for p in self.pods if is_active(p)]
        self.ready = count_ready(self.active_pods)
        self.terminating = sum(1 for p in self.pods if is_terminating(p))

    # -- counting ---------------------------------------------------------------------------
    def _valid_untracked(self, uncounted: set[str]) -> list[core_pb2.Pod]:
        """Pods still carrying the finalizer, not yet in uncountedTerminatedPods nor awaiting
        their finalizer removal (and, Indexed, with a valid index)."""
        found = []
        for pod in self.pods:
            uid = pod.metadata.uid
            if not has_tracking_finalizer(pod) or uid in uncounted or \
                    uid in self.expected_removals:
                continue
            if is_indexed(self.job) and not valid_index(pod, self.job.spec.completions):
                continue
            found.append(pod)
        return found

    def _counted_failures(self, failed: Sequence[core_pb2.Pod]) -> int:
        if not self.job.spec.HasField("pod_failure_policy"):
            return len(failed)
        return sum(1 for p in failed
                   if failurepolicy.match(self.job.spec.pod_failure_policy, p,
                                          per_index=self.per_index).counts)

    def _fail_job_message(self) -> str | None:
        if not self.job.spec.HasField("pod_failure_policy"):
            return None
        for pod in self.pods:
            if is_failed(pod, self.job):
                found = failurepolicy.match(self.job.spec.pod_failure_policy, pod,
                                            per_index=self.per_index)
                if found.fail_job_message is not None:
                    return found.fail_job_message
        return None

    def _past_backoff_limit_on_failure(self) -> bool:
        if self.job.spec.template.spec.restart_policy != "OnFailure":
            return False
        restarts = restarts_of_unfinished(self.pods)
        limit = self.job.spec.backoff_limit
        return restarts > 0 if limit == 0 else restarts >= limit

    def _deadline_left(self) -> float | None:
        """Seconds left of activeDeadlineSeconds (x scale); None without one, or suspended."""
        job = self.job
        if not job.spec.HasField("active_deadline_seconds") or not job.status.start_time or \
                is_suspended(job):
            return None
        allowed = job.spec.active_deadline_seconds * self.env.timing.scale
        return allowed - (self.now - self.env.start_time(job))

    def _new_failure(self, reason: tuple[str, str]) -> batch_pb2.JobCondition:
        return cond.new_condition(cond.FAILURE_TARGET, reason[0], reason[1], self.now)

    # -- the sync ---------------------------------------------------------------------------
    async def run(self) -> None:
        job, env = self.job, self.env
        active = len(self.active_pods)
        new_succeeded = [p for p in self._valid_untracked(self.uncounted_succeeded)
                         if p.status.phase == SUCCEEDED]
        new_failed = [p for p in self._valid_untracked(self.uncounted_failed)
                      if is_failed(p, job)]
        self.succeeded = job.status.succeeded + len(new_succeeded) + \
            len(self.uncounted_succeeded)
        self.failed = job.status.failed + self._counted_failures(new_failed) + \
            len(self.uncounted_failed)
        if not job.status.start_time and not is_suspended(job):
            env.stamp_start(job, self.now)
        self.new_backoff = env.backoff.new_record(self.key, new_succeeded, new_failed,
                                                  env.finish_time)
        self._decide_failure()
        if is_indexed(job):
            self._count_indexes()
        suspend_changed = False
        manage_error: ApiError | None = None
        if self.finished is not None:
            deleted_ready, deleted, manage_error = await self._delete_active_pods()
            if deleted != active or not self.satisfied:
                # Not finished yet: pods may remain that the cache has not shown us.
                self.finished = None
            active -= deleted
            self.terminating += deleted
            self.ready -= deleted_ready
        else:
            manage_called = False
            if self.satisfied and not job.metadata.deletion_timestamp:
                active, manage_error = await self._manage(active)
                manage_called = True
            if job.spec.HasField("completions"):
                complete = self.succeeded >= job.spec.completions and active == 0
            else:
                complete = self.succeeded > 0 and active == 0
            if complete:
                reason, message = cond.COMPLETIONS_REACHED
                self.finished = cond.new_condition(cond.SUCCESS_CRITERIA_MET, reason, message,
                                                   self.now)
            elif manage_called:
                suspend_changed = self._suspend_condition()
        ready_before = job.status.ready if job.status.HasField("ready") else None
        terminating_before = job.status.terminating if job.status.HasField("terminating") \
            else None
        needs_update = suspend_changed or active != job.status.active or \
            ready_before != self.ready or terminating_before != self.terminating
        job.status.active = active
        job.status.ready = self.ready
        job.status.terminating = self.terminating
        await self.track_and_remove_finalizers(needs_update)
        if manage_error is not None:
            raise manage_error

    def _decide_failure(self) -> None:
        job = self.job
        met = cond.find(job, cond.SUCCESS_CRITERIA_MET)
        if met is not None and met.status == "True":
            self.finished = met
            return
        target = cond.find(job, cond.FAILURE_TARGET)
        if target is not None and target.status == "True":
            self.finished = cond.new_condition(cond.FAILED, target.reason, target.message,
                                               self.now)
            return
        message = self._fail_job_message()
        if message is not None:
            self.finished = cond.new_condition(cond.FAILURE_TARGET, cond.POD_FAILURE_POLICY,
                                               message, self.now)
            return
        if self.failed > job.spec.backoff_limit or self._past_backoff_limit_on_failure():
            self.finished = self._new_failure(cond.BACKOFF_LIMIT_EXCEEDED)
            return
        left = self._deadline_left()
        if left is not None and left <= 0:
            self.finished = self._new_failure(cond.DEADLINE_EXCEEDED)
        elif left is not None:
            self.env.requeue(self.key, left)

    def _count_indexes(self) -> None:
        job = self.job
        completions = job.spec.completions
        self.prev_succeeded_indexes = parse(job.status.completed_indexes, completions)
        self.succeeded_indexes = self.prev_succeeded_indexes.with_indexes(
            index_of(p) for p in self.pods
            if p.status.phase == SUCCEEDED and valid_index(p, completions) and
            has_tracking_finalizer(p))
        self.succeeded = self.succeeded_indexes.total()
        if not self.per_index:
            return
        self.failed_indexes = perindex.failed_indexes(job, self.pods)
        failed_total = self.failed_indexes.total()
        if self.finished is None:
            if job.spec.HasField("max_failed_indexes") and \
                    failed_total > job.spec.max_failed_indexes:
                self.finished = self._new_failure(cond.MAX_FAILED_INDEXES_EXCEEDED)
            elif failed_total > 0 and failed_total + self.succeeded_indexes.total() >= \
                    completions:
                self.finished = self._new_failure(cond.FAILED_INDEXES)
        valid_failed = [p for p in self._valid_untracked(set()) if is_failed(p, job)]
        active_indexes = {index_of(p) for p in self.active_pods} - {UNKNOWN_INDEX}
        self.awaiting_replacement = perindex.pods_awaiting_replacement(
            job, valid_failed, self.succeeded_indexes, self.failed_indexes, active_indexes)

    def _suspend_condition(self) -> bool:
        job, recorder = self.job, self.env.recorder
        if is_suspended(job):
            changed = cond.ensure(job, cond.SUSPENDED, "True", "JobSuspended", "Job suspended",
                                  self.now)
            if changed:
                recorder.event(job, NORMAL, "Suspended", "Job suspended")
            return changed
        changed = cond.ensure(job, cond.SUSPENDED, "False", "JobResumed", "Job resumed",
                              self.now)
        if changed:
            recorder.event(job, NORMAL, "Resumed", "Job resumed")
            # activeDeadlineSeconds counts the time a Job is continuously active.
            self.env.stamp_start(job, self.now)
        return changed

    # -- managing pods ----------------------------------------------------------------------
    def _wanted_active(self, active: int) -> int:
        spec = self.job.spec
        if not spec.HasField("completions"):
            # A work-queue Job: once a pod succeeded, whatever runs is left to finish.
            return active if self.succeeded > 0 else spec.parallelism
        return max(0, min(spec.completions - self.succeeded, spec.parallelism))

    async def _manage(self, active: int) -> tuple[int, ApiError | None]:
        job, env = self.job, self.env
        if is_suspended(job):
            doomed = active_pods_for_removal(job, self.active_pods, active)
            return await self._remove(doomed, active)
        wanted = self._wanted_active(active)
        doomed = active_pods_for_removal(job, self.active_pods, max(active - wanted, 0))
        if doomed:
            # Deleting and creating in one sync are never mixed; deleting goes first.
            return await self._remove(doomed[:MAX_POD_CHANGES_PER_SYNC], active)
        replacing = self.terminating if only_replace_failed(job) else 0
        missing = wanted - replacing - active
        if missing <= 0:
            return active, None
        if not self.per_index:
            wait = self.new_backoff.remaining(self.now, env.backoff_base, env.backoff_cap)
            if wait > 0:
                env.requeue(self.key, max(wait, env.batch_period))
                return active, None
        missing = min(missing, MAX_POD_CHANGES_PER_SYNC)
        indexes = [UNKNOWN_INDEX] * missing
        if is_indexed(job):
            indexes = first_pending(missing, job.spec.completions, self._taken_indexes())
            if self.per_index:
                indexes, wait = self._creatable_now(indexes)
                if wait > 0:
                    env.requeue(self.key, max(wait, env.batch_period))
                    return active, None
        if not indexes:
            return active, None
        created, error = await self._create(indexes)
        return active + created, error

    def _taken_indexes(self) -> Intervals:
        taken = self.succeeded_indexes.with_indexes(
            i for i in (index_of(p) for p in self.active_pods) if i != UNKNOWN_INDEX)
        if only_replace_failed(self.job):
            taken = taken.with_indexes(
                i for i in (index_of(p) for p in self.pods if is_terminating(p))
                if i != UNKNOWN_INDEX)
        if self.failed_indexes is not None:
            taken = taken.merge(self.failed_indexes)
        return taken

    def _creatable_now(self, indexes: list[int]) -> tuple[list[int], float]:
        """Indexes whose own backoff has passed, or (none) the shortest wait among them."""
        now_ok: list[int] = []
        shortest: float | None = None
        for index in indexes:
            wait = perindex.index_backoff(self.awaiting_replacement.get(index), self.now,
                                          self.env.backoff_base, self.env.backoff_cap)
            if wait == 0:
                now_ok.append(index)
            elif shortest is None or wait < shortest:
                shortest = wait
        if now_ok:
            return now_ok, 0.0
        return [], shortest or 0.0

    async def _create(self, indexes: list[int]) -> tuple[int, ApiError | None]:
        """Create pods for ``indexes`` in slow-start batches (1, 2, 4 ...), stopping after a
        batch with a failure. Returns how many were created and the first failure."""
        env, job = self.env, self.job
        env.expectations.expect_creations(self.key, len(indexes))
        template = pod_template(job)
        created = 0
        failure: ApiError | None = None
        remaining = list(indexes)
        batch = 1
        while remaining:
            chunk, remaining = remaining[:batch], remaining[batch:]
            results = await asyncio.gather(*(self._create_one(template, i) for i in chunk),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, ApiError):
                    env.expectations.creation_observed(self.key)
                    failure = failure or result
                elif isinstance(result, BaseException):
                    raise result
                elif result:
                    created += 1
            if failure is not None:
                for _ in remaining:
                    env.expectations.creation_observed(self.key)
                break
            batch = min(2 * batch, len(remaining))
        return created, failure

    async def _create_one(self, template: core_pb2.PodTemplateSpec, index: int) -> bool:
        pod = new_pod(self.job, template, index)
        if self.per_index and index != UNKNOWN_INDEX:
            perindex.annotate_replacement(pod, self.job, self.awaiting_replacement.get(index))
        try:
            await self.env.pod_control.create(pod, self.job)
        except ApiError as exc:
            if _namespace_terminating(exc):
                self.env.expectations.creation_observed(self.key)
                return False
            raise
        return True

    async def _remove(self, doomed: list[core_pb2.Pod], active: int
                      ) -> tuple[int, ApiError | None]:
        """Delete pods the Job no longer wants, their finalizer removed first: they are not
        counted as failures."""
        self.env.expectations.expect_deletions(self.key, [key_of(p) for p in doomed])
        results = await asyncio.gather(*(self._remove_one(p) for p in doomed),
                                       return_exceptions=True)
        failure: ApiError | None = None
        for pod, result in zip(doomed, results, strict=True):
            if isinstance(result, ApiError):
                failure = failure or result
            elif isinstance(result, BaseException):
                raise result
            else:
                active -= 1
                self.terminating += 1
                if is_ready(pod):
                    self.ready -= 1
        return active, failure

    async def _remove_one(self, pod: core_pb2.Pod) -> None:
        try:
            await self.remove_finalizer(pod)
            await self.env.pod_control.delete(pod, self.job)
        except ApiError as exc:
            self.env.expectations.deletion_observed(self.key, key_of(pod))
            if exc.code != Code.NOT_FOUND:
                raise

    async def _delete_active_pods(self) -> tuple[int, int, ApiError | None]:
        """Delete every active pod of a finishing Job, keeping finalizers: they are counted
        (as failed) once gone. Returns (ready ones deleted, deleted, first failure)."""
        pods = self.active_pods
        results = await asyncio.gather(*(self.env.pod_control.delete(p, self.job)
                                         for p in pods), return_exceptions=True)
        deleted = deleted_ready = 0
        failure: ApiError | None = None
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, ApiError):
                failure = failure or result
                continue
            if isinstance(result, BaseException):
                raise result
            deleted += 1
            if is_ready(pod):
                deleted_ready += 1
        return deleted_ready, deleted, failure
