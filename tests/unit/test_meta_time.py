"""metav1.Time stamps: the text of the second, whatever came before it."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kemu.api.meta import now_rfc3339, parse_time

pytestmark = pytest.mark.unit


def formatted(clock: float) -> str:
    return dt.datetime.fromtimestamp(clock, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("clock", [0.0, 0.999, 1.0, -0.5, -1.0, 1764072000.0, 1764072000.75,
                                   1764072001.0, 1764071999.999999, 4102444800.5])
def test_a_stamp_is_its_second_whatever_came_before(clock: float) -> None:
    for before in (clock, clock - 1, clock + 1, 0.0):
        now_rfc3339(before)
        assert now_rfc3339(clock) == formatted(clock)


def test_consecutive_seconds_and_back_again() -> None:
    assert now_rfc3339(1764072000.2) == "2025-11-25T12:00:00Z"
    assert now_rfc3339(1764072000.9) == "2025-11-25T12:00:00Z"
    assert now_rfc3339(1764072001.0) == "2025-11-25T12:00:01Z"
    assert now_rfc3339(1764071999.5) == "2025-11-25T11:59:59Z"
    assert parse_time(now_rfc3339(1764072001.7)) == 1764072001.0


def test_now_is_the_current_second() -> None:
    before = time.time()
    stamp = parse_time(now_rfc3339())
    after = time.time()
    assert int(before) <= stamp <= after
