"""Times the way kubectl prints them: human durations (``5s``, ``3m2s``, ``2d5h``), RFC 1123
timestamps for describe, and Go duration flags (``--timeout=1m30s``)."""

from __future__ import annotations

import datetime as dt
import re
import time

from kemu.api.meta import parse_time
from kemuctl.errors import CliError

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def since(timestamp: str, now: float | None = None) -> str:
    """Age of an RFC 3339 timestamp; ``<unknown>`` when unset (translateTimestampSince)."""
    if not timestamp:
        return "<unknown>"
    reference = time.time() if now is None else now
    return human_duration(reference - parse_time(timestamp))


def between(start: str, end: str) -> str:
    return human_duration(parse_time(end) - parse_time(start))


def rfc1123z(timestamp: str) -> str:
    """``Mon, 02 Jan 2006 15:04:05 -0700`` in local time, as describe prints times."""
    if not timestamp:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    moment = dt.datetime.fromtimestamp(parse_time(timestamp)).astimezone()
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``30s``, ``1m30s``, ``0``); a bare number means seconds."""
    value = text.strip()
    if value in ("", "0"):
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(value) or not value:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def timeout_flag(text: str, flag: str = "--timeout") -> float:
    """A duration flag's seconds, or kubectl's error for a value that is not a duration."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise CliError(f'invalid argument "{text}" for "{flag}" flag: {exc}') from None
