"""Time zone names as Go's ``time.LoadLocation`` accepts them (a CronJob's spec.timeZone).

The IANA database comes from the system (or the ``tzdata`` package) through ``zoneinfo``; on a
machine with neither, names are only checked for their shape.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

_PART = re.compile(r"^[A-Za-z\-_0-9+]+$")


@cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_problem(name: str) -> str:
    """Go's error for ``name`` ("unknown time zone X"), or "" when it loads."""
    if name in ("", "UTC"):
        return ""
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _PART.match(part):
            return f"unknown time zone {name}"
    known = _known()
    if known and name not in known:
        return f"unknown time zone {name}"
    return ""
