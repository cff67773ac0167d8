"""The CronJob controller (Kubernetes' ``cronjob_controllerv2``): start a Job at each schedule
time, keep the active list and the history.

Each sync of a CronJob:

1. reconciles its Jobs (found by controller name, as in Kubernetes) with ``status.active``:
   finished ones leave it (``SawCompletedJob``), succeeded ones move ``lastSuccessfulTime``,
   vanished ones leave it (``MissingJob``), unknown running ones are reported
   (``UnexpectedJob``);
2. deletes the oldest finished Jobs beyond ``successfulJobsHistoryLimit`` and
   ``failedJobsHistoryLimit`` (``SuccessfulDelete``, background propagation);
3. unless suspended or being deleted, finds the most recent unmet schedule time and starts a
   Job for it — too late past ``startingDeadlineSeconds`` (``MissSchedule``), not while one
   runs under ``Forbid`` (``JobAlreadyActive``), after deleting the running ones under
   ``Replace`` — then records it in ``active`` and ``lastScheduleTime``
   (``SuccessfulCreate``: "Created job x");
4. writes the status once, and wakes up again just after the next schedule time.

Time comes from an injected ``Clock``; see ``clock`` for the accelerated test clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.cronjob import jobs as cronjobs
from controlplane.controllers.cronjob.clock import Clock, clock_from_environment
from controlplane.controllers.cronjob.schedule import (
    Schedule,
    ScheduleError,
    load_zone,
    local_zone,
    parse,
)
from controlplane.controllers.cronjob.scheduling import next_schedule_delay, next_schedule_time
from controlplane.controllers.events import NORMAL, WARNING
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of, key_of, now_rfc3339, parse_time
from kemu.client.interface import clone
from kemu.v1 import batch_pb2

log = logging.getLogger(__name__)

KIND = "CronJob"
BY_CRONJOB_INDEX = "cronjob-controller-name"


def by_cronjob_name(job: Any) -> list[str]:
    """Index Jobs by the ``namespace/name`` of the CronJob controlling them."""
    ref = controller_of(job)
    if ref is None or ref.kind != KIND:
        return []
    return [f"{job.metadata.namespace}/{ref.name}"]


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CronJobController(Controller):
    name = "cronjob"
    workers = 5

    def __init__(self, context: ControllerContext, clock: Clock | None = None,
                 zone: dt.tzinfo | None = None):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.clock: Clock = clock if clock is not None else clock_from_environment()
        self.zone = zone if zone is not None else local_zone()
        # Aggregation and the spam filter count on the schedule's clock.
        self.recorder = context.recorder("cronjob-controller", self.clock.now)
        self.cron_jobs = context.informers.informer(batch_pb2.CronJob)
        self.jobs = context.informers.informer(batch_pb2.Job)
        self.jobs.add_indexer(BY_CRONJOB_INDEX, by_cronjob_name)
        self.cron_jobs.add_handler(self._cron_job_added, self._cron_job_updated,
                                   self._cron_job_added)
        self.jobs.add_handler(self._job_added, self._job_updated, self._job_deleted)

    async def start(self) -> None:
        self.recorder.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    def requeue_after(self, key: str, seconds: float) -> None:
        """Wake ``key`` after ``seconds`` of the controller's time."""
        self.queue.add_after(key, max(0.0, self.clock.real_delay(seconds)))

    # -- events -----------------------------------------------------------------------------
    def _resolve(self, namespace: str, ref: Any) -> batch_pb2.CronJob | None:
        return self.cron_jobs.resolve_ref(KIND, namespace, ref)

    def _enqueue_owner(self, job: batch_pb2.Job) -> None:
        ref = controller_of(job)
        if ref is None:
            return
        cron_job = self._resolve(job.metadata.namespace, ref)
        if cron_job is not None:
            self.enqueue(key_of(cron_job))

    def _job_added(self, job: batch_pb2.Job) -> None:
        self._enqueue_owner(job)

    def _job_updated(self, old: batch_pb2.Job, new: batch_pb2.Job) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        if controller_of(old) != controller_of(new):
            self._enqueue_owner(old)
        self._enqueue_owner(new)

    def _job_deleted(self, job: batch_pb2.Job) -> None:
        self._enqueue_owner(job)

    def _cron_job_added(self, cron_job: batch_pb2.CronJob) -> None:
        self.enqueue(key_of(cron_job))

    def _cron_job_updated(self, old: batch_pb2.CronJob, new: batch_pb2.CronJob) -> None:
        zone_changed = (old.spec.HasField("time_zone"), old.spec.time_zone) != \
            (new.spec.HasField("time_zone"), new.spec.time_zone)
        if old.spec.schedule == new.spec.schedule and not zone_changed:
            self.enqueue(key_of(new))
            return
        try:
            schedule = self._parse(new, warn=False)
        except ScheduleError as exc:
            log.info("cronjob %s: unparseable schedule %r: %s", key_of(new), new.spec.schedule,
                     exc)
            self.recorder.event(new, WARNING, "UnParseableCronJobSchedule",
                                f"unparseable schedule for cronjob: {new.spec.schedule}")
            return
        delay = next_schedule_delay(new, self.clock.now(), schedule, self.clock)
        if delay is not None:
            self.requeue_after(key_of(new), delay)

    # -- schedule ---------------------------------------------------------------------------
    def _parse(self, cron_job: batch_pb2.CronJob, warn: bool) -> Schedule:
        spec = cron_job.spec
        if "TZ" in spec.schedule:
            if warn:
                self.recorder.event(cron_job, WARNING, "UnsupportedSchedule",
                                    f"CRON_TZ or TZ used in schedule {_go_quote(spec.schedule)} "
                                    "is not officially supported, see https://kubernetes.io/"
                                    "docs/concepts/workloads/controllers/cron-jobs/ for more "
                                    "details")
            return parse(spec.schedule, self.zone)
        zone = self.zone
        if spec.HasField("time_zone"):
            with contextlib.suppress(ScheduleError):
                zone = load_zone(spec.time_zone)
        return parse(spec.schedule, zone)

    # -- sync -------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.cron_jobs.get(key)
        if cached is None:
            return
        children = self.jobs.by_index(BY_CRONJOB_INDEX, key)
        cron_job = clone(cached)
        await self._clean_up_finished(cron_job, children)
        error: ApiError | None = None
        wait: float | None = None
        try:
            wait = await self._sync_cron_job(cron_job, children)
        except ApiError as exc:
            error = exc
        if cron_job.status != cached.status:
            await self.client.update_status(cron_job)
        if wait is not None:
            self.requeue_after(key, wait)
            return
        if error is not None:
            raise error

    async def _sync_cron_job(self, cron_job: batch_pb2.CronJob,
                             children: list[batch_pb2.Job]) -> float | None:
        """One sync's decisions; returns how long (controller time) to wait for the next."""
        now = self.clock.now()
        await self._reconcile_active(cron_job, children)
        if cron_job.metadata.deletion_timestamp:
            return None
        spec = cron_job.spec
        if spec.HasField("time_zone"):
            try:
                load_zone(spec.time_zone)
            except ScheduleError as exc:
                self.recorder.event(cron_job, WARNING, "UnknownTimeZone",
                                    f"invalid timeZone: {_go_quote(spec.time_zone)}: {exc}")
                return None
        if spec.HasField("suspend") and spec.suspend:
            return None
        try:
            schedule = self._parse(cron_job, warn=True)
        except ScheduleError as exc:
            self.recorder.event(cron_job, WARNING, "UnparseableSchedule",
                                f"unparseable schedule: {_go_quote(spec.schedule)} : {exc}")
            return None
        try:
            recent = next_schedule_time(cron_job, now, schedule, self.clock)
        except ScheduleError as exc:
            self.recorder.event(cron_job, WARNING, "InvalidSchedule",
                                f"invalid schedule: {spec.schedule} : {exc}")
            return None
        wait = next_schedule_delay(cron_job, now, schedule, self.clock)
        if recent is None or recent.most_recent is None:
            return wait
        if recent.too_many_missed:
            self.recorder.event(cron_job, WARNING, "TooManyMissedTimes",
                                "too many missed start times. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
            log.info("cronjob %s: too many missed times", key_of(cron_job))
        scheduled = recent.most_recent
        if spec.HasField("starting_deadline_seconds") and \
                scheduled + spec.starting_deadline_seconds < now:
            self.recorder.event(cron_job, WARNING, "MissSchedule",
                                "Missed scheduled time to start a job: "
                                f"{cronjobs.rfc1123z(scheduled)}")
            return wait
        name = cronjobs.job_name(cron_job, scheduled)
        if cronjobs.in_active_list_by_name(cron_job, name, cron_job.metadata.namespace) or \
                (cron_job.status.last_schedule_time and
                 parse_time(cron_job.status.last_schedule_time) == scheduled):
            return wait
        if spec.concurrency_policy == "Forbid" and cron_job.status.active:
            self.recorder.event(cron_job, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and "
                                "concurrency policy is Forbid")
            return wait
        if spec.concurrency_policy == "Replace":
            await self._replace_active(cron_job)
        job = await self._create_job(cron_job, scheduled)
        if job is None:
            return None
        cron_job.status.active.append(cronjobs.reference(job))
        cron_job.status.last_schedule_time = now_rfc3339(scheduled)
        return wait

    async def _reconcile_active(self, cron_job: batch_pb2.CronJob,
                                children: list[batch_pb2.Job]) -> None:
        uids = set()
        for job in children:
            uid = job.metadata.uid
            uids.add(uid)
            found = cronjobs.in_active_list(cron_job, uid)
            finished = cronjobs.finished_condition(job)
            if not found and finished is None:
                fresh = await self.client.get(batch_pb2.CronJob, cron_job.metadata.name,
                                              cron_job.metadata.namespace)
                if fresh.metadata.uid == cron_job.metadata.uid and \
                        cronjobs.in_active_list(fresh, uid):
                    # Our cache is behind our own status write: take the fresh status.
                    cron_job.status.CopyFrom(fresh.status)
                    cron_job.metadata.resource_version = fresh.metadata.resource_version
                    continue
                self.recorder.event(cron_job, WARNING, "UnexpectedJob",
                                    "Saw a job that the controller did not create or forgot: "
                                    f"{job.metadata.name}")
                continue
            if found and finished is not None:
                cronjobs.remove_from_active_list(cron_job, uid)
                self.recorder.event(cron_job, NORMAL, "SawCompletedJob",
                                    f"Saw completed job: {job.metadata.name}, condition: "
                                    f"{finished}")
            if cronjobs.is_succeeded(job) and job.status.completion_time:
                completed = self.clock.from_real(parse_time(job.status.completion_time))
                last = cron_job.status.last_successful_time
                if not last or completed > parse_time(last):
                    cron_job.status.last_successful_time = now_rfc3339(completed)
        for ref in list(cron_job.status.active):
            if ref.uid in uids:
                continue
            try:
                # Read past the cache: a slow watch must not make us forget a running Job.
                await self.client.get(batch_pb2.Job, ref.name, ref.namespace)
            except ApiError as exc:
                if exc.code != Code.NOT_FOUND:
                    raise
                self.recorder.event(cron_job, NORMAL, "MissingJob",
                                    f"Active job went missing: {ref.name}")
                cronjobs.remove_from_active_list(cron_job, ref.uid)

    async def _replace_active(self, cron_job: batch_pb2.CronJob) -> None:
        for ref in list(cron_job.status.active):
            try:
                job = await self.client.get(batch_pb2.Job, ref.name, ref.namespace)
            except ApiError as exc:
                self.recorder.event(cron_job, WARNING, "FailedGet", f"Get job: {exc}")
                raise
            if not await self._delete_job(cron_job, job):
                raise ApiError(Code.INTERNAL, "InternalError",
                               f"could not replace job {job.metadata.namespace}/"
                               f"{job.metadata.name}")

    async def _create_job(self, cron_job: batch_pb2.CronJob, scheduled: float
                          ) -> batch_pb2.Job | None:
        request = cronjobs.job_from_template(cron_job, scheduled)
        try:
            created = await self.client.create(request)
        except ApiError as exc:
            if exc.code == Code.PERMISSION_DENIED and "being terminated" in exc.message:
                raise
            if exc.code != Code.ALREADY_EXISTS:
                self.recorder.event(cron_job, WARNING, "FailedCreate",
                                    f"Error creating job: {exc}")
                raise
            # Made before, but the status write that should have followed was lost.
            existing = await self.client.get(batch_pb2.Job, request.metadata.name,
                                             request.metadata.namespace)
            ref = controller_of(existing)
            if ref is None or ref.uid != cron_job.metadata.uid:
                return None
            if cronjobs.in_active_list(cron_job, existing.metadata.uid):
                return None
            log.info("cronjob %s: job %s already exists", key_of(cron_job),
                     existing.metadata.name)
            return existing
        self.recorder.event(cron_job, NORMAL, "SuccessfulCreate",
                            f"Created job {created.metadata.name}")
        return created

    async def _delete_job(self, cron_job: batch_pb2.CronJob, job: batch_pb2.Job) -> bool:
        try:
            await self.client.delete(batch_pb2.Job, job.metadata.name, job.metadata.namespace,
                                     propagation_policy="Background")
        except ApiError as exc:
            self.recorder.event(cron_job, WARNING, "FailedDelete", f"Deleted job: {exc}")
            log.warning("cronjob %s: deleting job %s: %s", key_of(cron_job),
                        job.metadata.name, exc)
            return False
        cronjobs.remove_from_active_list(cron_job, job.metadata.uid)
        self.recorder.event(cron_job, NORMAL, "SuccessfulDelete",
                            f"Deleted job {job.metadata.name}")
        return True

    async def _clean_up_finished(self, cron_job: batch_pb2.CronJob,
                                 children: list[batch_pb2.Job]) -> None:
        spec = cron_job.spec
        limits: dict[str, int] = {}
        if spec.HasField("successful_jobs_history_limit"):
            limits["Complete"] = spec.successful_jobs_history_limit
        if spec.HasField("failed_jobs_history_limit"):
            limits["Failed"] = spec.failed_jobs_history_limit
        for condition, limit in limits.items():
            finished = [j for j in children if cronjobs.finished_condition(j) == condition]
            surplus = len(finished) - limit
            for job in cronjobs.by_start_time(finished)[:max(surplus, 0)]:
                await self._delete_job(cron_job, job)


@register("cronjob")
def make_cronjob_controller(context: ControllerContext) -> Controller:
    return CronJobController(context, clock_from_environment())
