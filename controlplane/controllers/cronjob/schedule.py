"""Cron schedules and their next firing time, as the CronJob controller reads them (robfig/cron
v3's standard parser, which Kubernetes uses).

Five fields — minute, hour, day of month, month, day of week (0 or ``sun`` is Sunday) — each a
list of ``*``/``?``, values, names (``jan``, ``mon``), ranges ``a-b`` and steps ``*/n``,
``a-b/n`` or ``a/n`` (from a to the field's maximum). When both day fields are restricted a day
matches either; when one of them is ``*`` (or ``?``), both must match. Descriptors: ``@yearly``
(``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``), ``@hourly``, and
``@every <duration>`` (Go durations, whole seconds, at least one). A ``TZ=<zone>`` or
``CRON_TZ=<zone>`` prefix names the zone; otherwise the zone given (the CronJob's
``spec.timeZone``, else the controller's local zone) applies.

Times are seconds since the epoch; fields are matched on the wall clock of the zone. A wall
time skipped by a daylight-saving change fires at the equivalent instant after it (02:30 becomes
03:30), as Go's time normalisation does; a repeated hour fires once, at its first occurrence.
Like the library, ``next`` gives up (None) when nothing matches within five years (``30 0 31 2
*``: February never has a 31st).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import zoneinfo
from dataclasses import dataclass
from typing import Protocol

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_NO_NAMES: dict[str, int] = {}
_BOUNDS = ((0, 59, _NO_NAMES), (0, 23, _NO_NAMES), (1, 31, _NO_NAMES), (1, 12, _MONTHS),
           (0, 6, _DAYS))
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
YEARS_AHEAD = 5


class ScheduleError(ValueError):
    pass


class Schedule(Protocol):
    def next(self, after: float) -> float | None:
        """The first firing strictly after ``after`` (whole seconds), or None if none."""
        ...


def utc() -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo("UTC")
    except zoneinfo.ZoneInfoNotFoundError:
        return dt.UTC


def load_zone(name: str) -> dt.tzinfo:
    """An IANA zone by name ("" and "UTC": UTC); ScheduleError with Go's wording if unknown."""
    if name in ("", "UTC"):
        return utc()
    if name == "Local":
        return local_zone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name}") from None


def local_zone() -> dt.tzinfo:
    """The process's zone: ``TZ``, else /etc/localtime, else UTC (Go's ``time.Local``)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return utc()
    try:
        with open("/etc/localtime", "rb") as data:
            return zoneinfo.ZoneInfo.from_file(data, key="Local")
    except (OSError, ValueError):
        return utc()


@dataclass(frozen=True)
class EverySchedule:
    """``@every <duration>``: fires every ``delay`` seconds, counted from the previous time."""

    delay: int

    def next(self, after: float) -> float | None:
        return float(math.floor(after) + self.delay)


@dataclass(frozen=True)
class CronSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool
    zone: dt.tzinfo

    def day_matches(self, day: dt.datetime) -> bool:
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next(self, after: float) -> float | None:
        wall = dt.datetime.fromtimestamp(math.floor(after) + 1, self.zone).replace(tzinfo=None)
        if wall.second:
            wall = wall.replace(second=0) + dt.timedelta(minutes=1)
        last_year = wall.year + YEARS_AHEAD
        while wall.year <= last_year:
            if wall.month not in self.months:
                wall = _next_month(wall)
            elif not self.day_matches(wall):
                wall = dt.datetime(wall.year, wall.month, wall.day) + dt.timedelta(days=1)
            elif wall.hour not in self.hours:
                wall = wall.replace(minute=0) + dt.timedelta(hours=1)
            elif wall.minute not in self.minutes:
                wall += dt.timedelta(minutes=1)
            else:
                moment = wall.replace(tzinfo=self.zone).timestamp()
                if moment > after:
                    return moment
                wall += dt.timedelta(minutes=1)
        return None


def _next_month(wall: dt.datetime) -> dt.datetime:
    if wall.month == 12:
        return dt.datetime(wall.year + 1, 1, 1)
    return dt.datetime(wall.year, wall.month + 1, 1)


def _number(text: str, expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ScheduleError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                            "invalid syntax")
    value = int(text)
    if value < 0:
        raise ScheduleError(f"negative number ({value}) not allowed: {expr}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it is a plain ``*``/``?`` (the star bit)."""
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        step_parts = expr.split("/")
        if len(step_parts) > 2:
            raise ScheduleError(f"too many slashes: {expr}")
        bounds = step_parts[0].split("-")
        if len(bounds) > 2:
            raise ScheduleError(f"too many hyphens: {expr}")
        single = False
        extra = False
        if bounds[0] in ("*", "?"):
            start, end, extra = low, high, True
        else:
            start = names.get(bounds[0].lower(), -1)
            if start < 0:
                start = _number(bounds[0], expr)
            if len(bounds) == 2:
                end = names.get(bounds[1].lower(), -1)
                if end < 0:
                    end = _number(bounds[1], expr)
            else:
                end, single = start, True
        step = 1
        if len(step_parts) == 2:
            step = _number(step_parts[1], expr)
            if single:
                end = high
            if step > 1:
                extra = False
        if start < low:
            raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expr}")
        if end > high:
            raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expr}")
        if start > end:
            raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): "
                                f"{expr}")
        if step == 0:
            raise ScheduleError(f"step of range should be a positive number: {expr}")
        values.update(range(start, end + 1, step))
        star = star or extra
    return frozenset(values), star


def _go_duration(text: str) -> float:
    if text == "0":
        return 0.0
    total, position = 0.0, 0
    for match in _GO_DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ScheduleError(f'time: invalid duration "{text}"')
    return total


def parse(spec: str, zone: dt.tzinfo | None = None) -> Schedule:
    """Parse a schedule; ``zone`` is used unless the spec names one with TZ=/CRON_TZ=."""
    if not spec:
        raise ScheduleError("empty spec string")
    text = spec.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, text = text.partition(" ")
        name = prefix.split("=", 1)[1]
        try:
            zone = load_zone(name)
        except ScheduleError as exc:
            raise ScheduleError(f"provided bad location {name}: {exc}") from None
        text = text.strip()
    zone = zone if zone is not None else local_zone()
    if text.startswith("@every "):
        duration = text[len("@every "):].strip()
        try:
            seconds = _go_duration(duration)
        except ScheduleError as exc:
            raise ScheduleError(f"failed to parse duration {text}: {exc}") from None
        return EverySchedule(max(1, int(seconds)))
    if text.startswith("@"):
        if text not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {text}")
        text = DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: "
                            f"[{' '.join(fields)}]")
    parsed = [_field(f, low, high, names)
              for f, (low, high, names) in zip(fields, _BOUNDS, strict=True)]
    return CronSchedule(minutes=parsed[0][0], hours=parsed[1][0], days=parsed[2][0],
                        months=parsed[3][0], weekdays=parsed[4][0], any_day=parsed[2][1],
                        any_weekday=parsed[4][1], zone=zone)
