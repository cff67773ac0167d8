"""Durations and timestamps as kubectl prints them."""

from __future__ import annotations

import pytest

from kemu.api.meta import now_rfc3339
from kemuctl.timefmt import human_duration, parse_duration, since

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
    (125, "2m5s"), (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"),
    (3 * 3600 + 60 * 5, "3h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
    (2 * 86400 + 5 * 3600, "2d5h"), (8 * 86400, "8d"), (400 * 86400, "400d"),
    (730 * 86400, "2y"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_since_an_unset_timestamp_is_unknown() -> None:
    assert since("") == "<unknown>"
    assert since(now_rfc3339(1000.0), now=1042.0) == "42s"


@pytest.mark.parametrize(("text", "seconds"), [
    ("0s", 0.0), ("0", 0.0), ("30s", 30.0), ("1m30s", 90.0), ("2h", 7200.0), ("500ms", 0.5),
    ("15", 15.0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("5 minutes")
