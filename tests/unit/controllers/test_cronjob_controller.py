"""The CronJob controller over an in-memory API with a manual clock: a day of schedules in
milliseconds, missed schedules and the starting deadline, the three concurrency policies,
suspension, time zones, history limits and vanished Jobs. The test plays the Job controller,
finishing Jobs when it wants them finished."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.controllers.cronjob.clock import ManualClock
from controlplane.controllers.cronjob.controller import CronJobController
from controlplane.controllers.informer import InformerFactory
from controlplane.controllers.registry import ControllerContext
from kemu.api import codec
from kemu.api.meta import now_rfc3339, parse_time
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import batch_pb2
from tests.unit.controllers.batch_fakes import FakeApi, deliver

pytestmark = pytest.mark.unit

START = dt.datetime(2024, 3, 1, 10, 0, 20, tzinfo=dt.UTC).timestamp()


def cron_job(schedule: str = "0 * * * *", **spec: Any) -> batch_pb2.CronJob:
    document = {
        "metadata": {"name": "cj", "namespace": "default", "uid": "uid-cj"},
        "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                 "jobTemplate": {"metadata": {"labels": {"app": "report"},
                                              "annotations": {"team": "ops"}},
                                 "spec": {"template": {"spec": {
                                     "restartPolicy": "OnFailure",
                                     "containers": [{"name": "c", "image": "busybox"}]}}}},
                 **spec},
    }
    return codec.decode(batch_pb2.CronJob, document)


class Harness:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.api = FakeApi(self.clock.now)
        context = ControllerContext(self.api, InformerFactory(self.api), FAST, lambda: True,
                                    "test")
        self.controller = CronJobController(context, clock=self.clock, zone=dt.UTC)
        self.waits: list[float] = []
        self.controller.requeue_after = self._requeue  # type: ignore[method-assign]

    def _requeue(self, key: str, seconds: float) -> None:
        self.waits.append(seconds)

    async def sync(self) -> batch_pb2.CronJob:
        deliver(self.api, self.controller.cron_jobs, self.controller.jobs)
        self.waits.clear()
        await self.controller.sync("default/cj")
        deliver(self.api, self.controller.cron_jobs, self.controller.jobs)
        return self.cron_job()

    async def wake(self) -> batch_pb2.CronJob:
        """Let time run to the controller's next wake-up, and sync."""
        assert self.waits, "the controller asked for no wake-up"
        self.clock.advance(self.waits[-1])
        return await self.sync()

    def cron_job(self) -> batch_pb2.CronJob:
        return self.api.objects[("CronJob", "default", "cj")]  # type: ignore[no-any-return]

    def jobs(self) -> list[batch_pb2.Job]:
        return self.api.all(batch_pb2.Job)

    def finish(self, job: batch_pb2.Job, condition: str = "Complete") -> None:
        done = clone(job)
        stamp = now_rfc3339(self.clock.now())
        done.status.start_time = done.status.start_time or stamp
        done.status.conditions.add(type=condition, status="True", last_transition_time=stamp)
        if condition == "Complete":
            done.status.completion_time = stamp
        self.api.save(done)

    async def events(self) -> list[tuple[str, str]]:
        await self.controller.recorder.flush()
        return [(reason, message) for _, reason, message in self.api.events("cj")]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.controller.stop()


def names(jobs: list[batch_pb2.Job]) -> list[str]:
    return sorted(j.metadata.name for j in jobs)


def minutes(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() // 60)


async def test_a_day_of_hourly_runs_in_milliseconds(h: Harness) -> None:
    h.api.put(cron_job())
    started = time.monotonic()
    status = (await h.sync()).status
    assert not h.jobs() and not status.last_schedule_time
    assert h.waits == [pytest.approx(59 * 60 + 40 + 0.1)]
    for _ in range(24):
        await h.wake()
        for job in h.jobs():
            if not job.status.conditions:
                h.finish(job)
    await h.sync()
    assert time.monotonic() - started < 5
    last = h.cron_job().status
    assert last.last_schedule_time == "2024-03-02T10:00:00Z"
    assert last.last_successful_time == "2024-03-02T10:00:00Z"
    assert not last.active
    # successfulJobsHistoryLimit 3: the older ones were deleted.
    assert names(h.jobs()) == [f"cj-{minutes(f'2024-03-02 {hour:02d}:00')}"
                               for hour in (8, 9, 10)]
    newest = next(j for j in h.jobs() if j.metadata.name.endswith(str(minutes("2024-03-02 10:00"))))
    assert newest.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2024-03-02T10:00:00Z"
    assert newest.metadata.annotations["team"] == "ops"
    assert newest.metadata.labels["app"] == "report"
    owner = newest.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("CronJob", "cj", True)
    events = await h.events()
    created = [m for r, m in events if r == "SuccessfulCreate"]
    assert len(created) == 24 and created[0] == f"Created job cj-{minutes('2024-03-01 11:00')}"
    assert sum(1 for r, _ in events if r == "SawCompletedJob") == 24
    assert ("SawCompletedJob", f"Saw completed job: cj-{minutes('2024-03-01 11:00')}, "
                               "condition: Complete") in events
    assert sum(1 for r, _ in events if r == "SuccessfulDelete") == 21
    assert ("background", "Job") in {(e[2].split(":")[-1].lower(), e[1]) for e in h.api.log
                                     if e[0] == "delete"}


async def test_after_an_outage_only_the_latest_missed_run_starts(h: Harness) -> None:
    h.api.put(cron_job())
    h.clock.advance(5 * 3600)
    await h.sync()
    assert names(h.jobs()) == [f"cj-{minutes('2024-03-01 15:00')}"]
    assert not any(r == "TooManyMissedTimes" for r, _ in await h.events())


async def test_too_many_missed_times_warn_and_start_the_latest(h: Harness) -> None:
    h.api.put(cron_job("* * * * *"))
    h.clock.advance(3 * 3600 + 10)
    await h.sync()
    assert names(h.jobs()) == [f"cj-{minutes('2024-03-01 13:00')}"]
    assert ("TooManyMissedTimes", "too many missed start times. Set or decrease "
            ".spec.startingDeadlineSeconds or check clock skew") in await h.events()


async def test_a_run_later_than_the_starting_deadline_is_missed(h: Harness) -> None:
    h.api.put(cron_job(startingDeadlineSeconds=30))
    h.clock.set(dt.datetime(2024, 3, 1, 11, 0, 45, tzinfo=dt.UTC).timestamp())
    status = (await h.sync()).status
    assert not h.jobs() and not status.last_schedule_time
    # 11:00 is 45 s old, beyond the 30 s deadline: skipped. With 120 s it starts.
    h.api.objects.clear()
    h.api.put(cron_job(startingDeadlineSeconds=120))
    h.controller.cron_jobs.items.clear()
    h.clock.set(dt.datetime(2024, 3, 1, 12, 1, 0, tzinfo=dt.UTC).timestamp())
    await h.sync()
    assert names(h.jobs()) == [f"cj-{minutes('2024-03-01 12:00')}"]


async def test_forbid_skips_runs_while_one_is_active(h: Harness) -> None:
    h.api.put(cron_job("* * * * *", concurrencyPolicy="Forbid"))
    await h.sync()
    await h.wake()
    assert len(h.jobs()) == 1
    for _ in range(3):
        await h.wake()
    assert len(h.jobs()) == 1
    assert ("JobAlreadyActive", "Not starting job because prior execution is running and "
            "concurrency policy is Forbid") in await h.events()
    h.finish(h.jobs()[0])
    await h.sync()
    await h.wake()
    assert len(h.jobs()) == 2 and len(h.cron_job().status.active) == 1


async def test_replace_deletes_the_running_job(h: Harness) -> None:
    h.api.put(cron_job("* * * * *", concurrencyPolicy="Replace"))
    await h.sync()
    await h.wake()
    (first,) = h.jobs()
    await h.wake()
    (second,) = h.jobs()
    assert second.metadata.name != first.metadata.name
    assert [ref.name for ref in h.cron_job().status.active] == [second.metadata.name]
    assert ("SuccessfulDelete", f"Deleted job {first.metadata.name}") in await h.events()


async def test_allow_runs_them_side_by_side(h: Harness) -> None:
    h.api.put(cron_job("* * * * *"))
    await h.sync()
    for _ in range(3):
        await h.wake()
    assert len(h.jobs()) == 3 and len(h.cron_job().status.active) == 3


async def test_suspended_cron_job_starts_nothing_until_resumed(h: Harness) -> None:
    h.api.put(cron_job("*/10 * * * *", suspend=True))
    h.clock.advance(3600)
    await h.sync()
    assert not h.jobs() and not h.waits
    resumed = clone(h.cron_job())
    resumed.spec.suspend = False
    h.api.save(resumed)
    await h.sync()
    assert names(h.jobs()) == [f"cj-{minutes('2024-03-01 11:00')}"]


async def test_time_zone_decides_the_wall_clock_and_the_annotation(h: Harness) -> None:
    h.api.put(cron_job("0 9 * * *", timeZone="Europe/Berlin"))
    h.clock.set(dt.datetime(2024, 3, 31, 8, 0, tzinfo=dt.UTC).timestamp())
    await h.sync()
    (job,) = h.jobs()
    assert job.metadata.name == f"cj-{minutes('2024-03-31 07:00')}"
    assert job.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        "2024-03-31T09:00:00+02:00"


async def test_failed_history_and_vanished_jobs(h: Harness) -> None:
    h.api.put(cron_job("* * * * *"))
    await h.sync()
    for _ in range(3):
        await h.wake()
        for job in h.jobs():
            if not job.status.conditions:
                h.finish(job, "Failed")
    await h.sync()
    assert len(h.jobs()) == 1  # failedJobsHistoryLimit 1
    await h.wake()
    (running,) = [j for j in h.jobs() if not j.status.conditions]
    del h.api.objects[("Job", "default", running.metadata.name)]
    status = (await h.sync()).status
    assert running.metadata.name not in [ref.name for ref in status.active]
    events = await h.events()
    assert ("MissingJob", f"Active job went missing: {running.metadata.name}") in events
    assert ("SawCompletedJob", f"Saw completed job: {h.jobs()[0].metadata.name}, condition: "
            "Failed") in events
    assert parse_time(status.last_schedule_time) > START
