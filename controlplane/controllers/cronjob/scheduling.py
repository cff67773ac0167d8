"""When a CronJob should have started a Job, and when to look again (Kubernetes'
``mostRecentScheduleTime``, ``nextScheduleTime`` and ``nextScheduleTimeDuration``).

The controller only ever starts the most recent missed run: the schedule times after the last
one it started (``status.lastScheduleTime``, else the CronJob's creation), up to now, and with
``startingDeadlineSeconds`` no older than that many seconds. More than 100 missed times get the
warning ``TooManyMissedTimes``. Times are the controller clock's seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.controllers.cronjob.clock import Clock
from controlplane.controllers.cronjob.schedule import Schedule, ScheduleError
from kemu.api.meta import parse_time
from kemu.v1 import batch_pb2

TOO_MANY_MISSED = 100
# Wake up this long after the schedule time, so that time is surely past.
NEXT_SCHEDULE_DELTA = 0.1


@dataclass(frozen=True)
class Recent:
    earliest: float
    most_recent: float | None
    missed: int
    """How many schedule times passed unmet (up to TOO_MANY_MISSED + 1)."""

    @property
    def too_many_missed(self) -> bool:
        return self.missed > TOO_MANY_MISSED


def earliest_time(cron_job: batch_pb2.CronJob, clock: Clock) -> float:
    """``status.lastScheduleTime`` (written in the controller's time), else the creation."""
    if cron_job.status.last_schedule_time:
        return parse_time(cron_job.status.last_schedule_time)
    return clock.from_real(parse_time(cron_job.metadata.creation_timestamp))


def _latest_not_after(schedule: Schedule, now: float, earliest: float, span: float) -> float:
    """The last schedule time in (earliest, now], found without walking from ``earliest``:
    look back ``span``, doubling it until a time falls in the window."""
    while True:
        start = max(earliest, now - span)
        moment = schedule.next(start)
        if (moment is not None and moment <= now) or start == earliest:
            break
        span *= 2
    latest = earliest
    while moment is not None and moment <= now:
        latest = moment
        moment = schedule.next(moment)
    return latest


def most_recent(cron_job: batch_pb2.CronJob, now: float, schedule: Schedule, clock: Clock, *,
                with_deadline: bool) -> Recent:
    earliest = earliest_time(cron_job, clock)
    if with_deadline and cron_job.spec.HasField("starting_deadline_seconds"):
        # Nothing older than the deadline will be started.
        earliest = max(earliest, now - cron_job.spec.starting_deadline_seconds)
    first = schedule.next(earliest)
    if first is None:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    if now < first:
        return Recent(earliest, None, 0)
    second = schedule.next(first)
    if second is None or round(second - first) < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    if now < second:
        return Recent(earliest, first, 1)
    missed, latest = 1, first
    moment: float | None = second
    while moment is not None and moment <= now and missed <= TOO_MANY_MISSED:
        latest, missed = moment, missed + 1
        moment = schedule.next(moment)
    if moment is not None and moment <= now:
        latest = _latest_not_after(schedule, now, latest, second - first)
        missed = TOO_MANY_MISSED + 1
    return Recent(earliest, latest, missed)


def next_schedule_time(cron_job: batch_pb2.CronJob, now: float, schedule: Schedule,
                       clock: Clock) -> Recent | None:
    """The most recent unmet schedule time within the deadline, or None."""
    recent = most_recent(cron_job, now, schedule, clock, with_deadline=True)
    if recent.most_recent is None or recent.most_recent > now:
        return None
    return recent


def next_schedule_delay(cron_job: batch_pb2.CronJob, now: float, schedule: Schedule,
                        clock: Clock) -> float | None:
    """Seconds (controller time) until the next schedule time, plus a small delta; None if the
    schedule never fires again."""
    try:
        recent = most_recent(cron_job, now, schedule, clock, with_deadline=False)
        base = recent.most_recent if recent.most_recent is not None else recent.earliest
    except ScheduleError:
        base = now
    upcoming = schedule.next(base)
    if upcoming is None:
        return None
    return upcoming + NEXT_SCHEDULE_DELTA - now
