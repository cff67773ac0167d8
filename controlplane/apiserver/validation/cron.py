"""Cron schedules as the CronJob controller parses them (robfig/cron v3, standard spec).

Five fields (minute hour day-of-month month day-of-week) with ranges, steps, lists, names
(``jan``, ``mon``) and ``?``; or a descriptor (``@yearly``, ``@monthly``, ``@weekly``,
``@daily``, ``@hourly`` and friends, ``@every <duration>``). Errors read like the library's,
which is what Kubernetes shows in ``spec.schedule: Invalid value``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from controlplane.apiserver.validation.zones import zone_problem

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (_Bounds(0, 59, {}), _Bounds(0, 23, {}), _Bounds(1, 31, {}), _Bounds(1, 12, _MONTHS),
           _Bounds(0, 6, _DAYS))


def _number(text: str, expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        "invalid syntax")
    value = int(text)
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {expr}")
    return value


def _value(text: str, bounds: _Bounds, expr: str) -> int:
    named = bounds.names.get(text.lower())
    return named if named is not None else _number(text, expr)


def _range(expr: str, bounds: _Bounds) -> None:
    step_parts = expr.split("/")
    range_parts = step_parts[0].split("-")
    if len(range_parts) > 2:
        raise CronError(f"too many hyphens: {expr}")
    if range_parts[0] in ("*", "?"):
        start, end = bounds.low, bounds.high
    else:
        start = _value(range_parts[0], bounds, expr)
        end = _value(range_parts[1], bounds, expr) if len(range_parts) == 2 else start
    if len(step_parts) > 2:
        raise CronError(f"too many slashes: {expr}")
    if len(step_parts) == 2:
        step = _number(step_parts[1], expr)
        if step <= 0:
            raise CronError(f"step of range should be a positive number: {expr}")
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")


def parse_schedule(spec: str) -> None:
    """Raise CronError with the library's message when ``spec`` is not a valid schedule."""
    if not spec:
        raise CronError("empty spec string")
    text = spec.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        zone, _, text = text.partition(" ")
        name = zone.split("=", 1)[1]
        problem = zone_problem(name)
        if problem:
            raise CronError(f"provided bad location {name}: {problem}")
        text = text.strip()
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return
        if text.startswith("@every "):
            duration = text[len("@every "):].strip()
            if not _DURATION.match(duration):
                raise CronError(f'failed to parse duration {text}: time: invalid duration '
                                f'"{duration}"')
            return
        raise CronError(f"unrecognized descriptor: {text}")
    fields = text.split()
    if len(fields) != 5:
        shown = "[" + " ".join(fields) + "]"
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {shown}")
    for field, bounds in zip(fields, _FIELDS, strict=True):
        for expr in field.split(","):
            _range(expr, bounds)
