"""Cron schedules as the CronJob controller reads them: fields, descriptors, time zones and
daylight saving, the day-of-month/day-of-week rule, errors in robfig/cron's words, and the
missed-schedule arithmetic."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from controlplane.controllers.cronjob.clock import (
    AcceleratedClock,
    ManualClock,
    WallClock,
    clock_from_environment,
)
from controlplane.controllers.cronjob.jobs import rfc1123z, rfc3339_in
from controlplane.controllers.cronjob.schedule import ScheduleError, parse
from controlplane.controllers.cronjob.scheduling import (
    most_recent,
    next_schedule_delay,
    next_schedule_time,
)
from kemu.api import codec
from kemu.api.meta import now_rfc3339
from kemu.v1 import batch_pb2

pytestmark = pytest.mark.unit

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(text: str, zone: dt.tzinfo = UTC) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def show(moment: float | None, zone: dt.tzinfo = UTC) -> str:
    assert moment is not None
    return dt.datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M:%S %a")


def fires(spec: str, start: str, count: int, zone: dt.tzinfo = UTC) -> list[str]:
    schedule = parse(spec, zone)
    moment: float | None = at(start, zone)
    found = []
    for _ in range(count):
        assert moment is not None
        moment = schedule.next(moment)
        found.append(show(moment, zone))
    return found


def test_every_minute_and_steps() -> None:
    assert fires("* * * * *", "2024-03-01 10:00:30", 2) == \
        ["2024-03-01 10:01:00 Fri", "2024-03-01 10:02:00 Fri"]
    # Exactly on a firing time, the next one is the one after.
    assert fires("*/15 * * * *", "2024-03-01 10:15:00", 3) == \
        ["2024-03-01 10:30:00 Fri", "2024-03-01 10:45:00 Fri", "2024-03-01 11:00:00 Fri"]
    # "a/n" runs from a to the end of the field.
    assert fires("50/5 * * * *", "2024-03-01 10:00:00", 3) == \
        ["2024-03-01 10:50:00 Fri", "2024-03-01 10:55:00 Fri", "2024-03-01 11:50:00 Fri"]


def test_ranges_lists_and_names() -> None:
    assert fires("0 9-17/4 * * mon-fri", "2024-03-01 12:00:00", 4) == [
        "2024-03-01 13:00:00 Fri", "2024-03-01 17:00:00 Fri", "2024-03-04 09:00:00 Mon",
        "2024-03-04 13:00:00 Mon"]
    assert fires("30 6 1 jan,JUL *", "2024-03-01 00:00:00", 2) == \
        ["2024-07-01 06:30:00 Mon", "2025-01-01 06:30:00 Wed"]


def test_descriptors() -> None:
    start = "2024-03-01 10:00:00"
    assert fires("@hourly", start, 1) == ["2024-03-01 11:00:00 Fri"]
    assert fires("@daily", start, 1) == fires("@midnight", start, 1) == \
        ["2024-03-02 00:00:00 Sat"]
    assert fires("@weekly", start, 1) == ["2024-03-03 00:00:00 Sun"]
    assert fires("@monthly", start, 1) == ["2024-04-01 00:00:00 Mon"]
    assert fires("@yearly", start, 1) == fires("@annually", start, 1) == \
        ["2025-01-01 00:00:00 Wed"]
    assert fires("@every 1h30m", start, 2) == \
        ["2024-03-01 11:30:00 Fri", "2024-03-01 13:00:00 Fri"]


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: either matches (the 13th, or any Friday).
    assert fires("0 0 13 * 5", "2024-09-01 00:00:00", 4) == [
        "2024-09-06 00:00:00 Fri", "2024-09-13 00:00:00 Fri", "2024-09-20 00:00:00 Fri",
        "2024-09-27 00:00:00 Fri"]
    assert fires("0 0 12 * 5", "2024-09-10 00:00:00", 2) == \
        ["2024-09-12 00:00:00 Thu", "2024-09-13 00:00:00 Fri"]
    # One of them "*" (or "?"): both must match.
    assert fires("0 0 * * 5", "2024-09-10 00:00:00", 1) == ["2024-09-13 00:00:00 Fri"]
    assert fires("0 0 13 ? *", "2024-09-10 00:00:00", 1) == ["2024-09-13 00:00:00 Fri"]
    # "*/1" keeps the star; "*/2" does not.
    assert fires("0 0 1 * */2", "2024-09-01 00:00:00", 2) == \
        ["2024-09-03 00:00:00 Tue", "2024-09-05 00:00:00 Thu"]


def test_time_zone_and_daylight_saving() -> None:
    assert fires("0 9 * * *", "2024-03-30 12:00:00", 2, BERLIN) == \
        ["2024-03-31 09:00:00 Sun", "2024-04-01 09:00:00 Mon"]
    berlin_nine = parse("0 9 * * *", BERLIN).next(at("2024-03-30 12:00:00", UTC))
    assert show(berlin_nine) == "2024-03-31 07:00:00 Sun"  # CEST is UTC+2
    # 02:30 does not exist on 2024-03-31 in Berlin: it fires at 03:30.
    assert fires("30 2 * * *", "2024-03-30 12:00:00", 2, BERLIN) == \
        ["2024-03-31 03:30:00 Sun", "2024-04-01 02:30:00 Mon"]
    # 02:30 happens twice on 2024-10-27: it fires once.
    moments = [parse("30 2 * * *", BERLIN).next(at("2024-10-26 12:00:00", BERLIN))]
    moments.append(parse("30 2 * * *", BERLIN).next(moments[0] or 0))
    assert [show(m) for m in moments] == ["2024-10-27 00:30:00 Sun", "2024-10-28 01:30:00 Mon"]
    assert fires("TZ=America/New_York 0 12 * * *", "2024-06-01 00:00:00", 1) == \
        ["2024-06-01 16:00:00 Sat"]


def test_impossible_dates_never_fire() -> None:
    assert parse("30 0 31 2 *", UTC).next(at("2024-01-01 00:00:00")) is None


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@reboot", "unrecognized descriptor: @reboot"),
    ("@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'),
    ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone "
                                  "Mars/Olympus"),
])
def test_errors_read_like_the_library(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse(spec, UTC)
    assert str(caught.value) == message


# -- missed schedules -----------------------------------------------------------------------
def cron_job(schedule: str, created: float, last: float | None = None,
             deadline: int | None = None) -> batch_pb2.CronJob:
    spec: dict[str, object] = {"schedule": schedule}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    cj = codec.decode(batch_pb2.CronJob, {"metadata": {"name": "cj", "namespace": "default",
                                                        "creationTimestamp": now_rfc3339(created)},
                                           "spec": spec})
    if last is not None:
        cj.status.last_schedule_time = now_rfc3339(last)
    return cj


CLOCK = WallClock()


def test_most_recent_unmet_time_and_the_count_of_missed_ones() -> None:
    hourly = parse("0 * * * *", UTC)
    created = at("2024-03-01 10:20:00")
    assert most_recent(cron_job("0 * * * *", created), at("2024-03-01 10:59:00"), hourly, CLOCK,
                       with_deadline=False).most_recent is None
    one = most_recent(cron_job("0 * * * *", created), at("2024-03-01 11:30:00"), hourly, CLOCK,
                      with_deadline=False)
    assert (show(one.most_recent), one.missed) == ("2024-03-01 11:00:00 Fri", 1)
    # The controller was away for a day: only the latest of 24 missed runs starts.
    day = most_recent(cron_job("0 * * * *", created, last=at("2024-03-01 11:00:00")),
                      at("2024-03-02 11:10:00"), hourly, CLOCK, with_deadline=False)
    assert (show(day.most_recent), day.missed, day.too_many_missed) == \
        ("2024-03-02 11:00:00 Sat", 24, False)


def test_too_many_missed_times_still_finds_the_latest() -> None:
    every_minute = parse("* * * * *", UTC)
    created = at("2024-03-01 00:00:00")
    recent = most_recent(cron_job("* * * * *", created), at("2024-03-08 12:34:56"), every_minute,
                         CLOCK, with_deadline=False)
    assert recent.too_many_missed
    assert show(recent.most_recent) == "2024-03-08 12:34:00 Fri"
    # A starting deadline bounds how far back the controller looks.
    bounded = next_schedule_time(cron_job("* * * * *", created, deadline=200),
                                 at("2024-03-08 12:34:56"), every_minute, CLOCK)
    assert bounded is not None and bounded.missed == 3 and not bounded.too_many_missed


def test_next_wake_up_is_just_after_the_next_time() -> None:
    hourly = parse("0 * * * *", UTC)
    cj = cron_job("0 * * * *", at("2024-03-01 10:20:00"))
    delay = next_schedule_delay(cj, at("2024-03-01 10:30:00"), hourly, CLOCK)
    assert delay == pytest.approx(30 * 60 + 0.1)
    assert next_schedule_delay(cron_job("30 0 31 2 *", at("2024-01-01 00:00:00")),
                               at("2024-01-02 00:00:00"), parse("30 0 31 2 *", UTC),
                               CLOCK) is None


def test_timestamps() -> None:
    moment = at("2024-03-31 07:00:00")
    assert rfc3339_in(moment, UTC) == "2024-03-31T07:00:00Z"
    assert rfc3339_in(moment, BERLIN) == "2024-03-31T09:00:00+02:00"
    assert rfc3339_in(moment, zoneinfo.ZoneInfo("America/St_Johns")) == \
        "2024-03-31T04:30:00-02:30"
    assert rfc1123z(moment) == "Sun, 31 Mar 2024 07:00:00 +0000"


def test_clocks() -> None:
    fast = AcceleratedClock(60, anchor=1000.0)
    assert fast.from_real(1010.0) == 1600.0
    assert fast.real_delay(60) == 1
    manual = ManualClock(5.0)
    manual.advance(10)
    assert manual.now() == 15.0
    assert isinstance(clock_from_environment({}), WallClock)
    assert isinstance(clock_from_environment({"KEMU_CRONJOB_CLOCK_RATE": "1"}), WallClock)
    accelerated = clock_from_environment({"KEMU_CRONJOB_CLOCK_RATE": "30"})
    assert isinstance(accelerated, AcceleratedClock) and accelerated.rate == 30
    with pytest.raises(ValueError, match="KEMU_CRONJOB_CLOCK_RATE='fast' is not a number"):
        clock_from_environment({"KEMU_CRONJOB_CLOCK_RATE": "fast"})
