"""CrashLoopBackOff windows and probe workers, on plain numbers (no clock needed)."""

from __future__ import annotations

import math

import pytest

from kemu.v1 import core_pb2
from kubelet.backoff import Backoff
from kubelet.probes import Prober, ProbeSettings
from kubelet.runtime.interface import ProbeKind, ProbeResult

pytestmark = pytest.mark.unit


def test_first_failure_restarts_at_once_then_windows_double_up_to_the_cap() -> None:
    backoff = Backoff(10, 40, reset=600)
    t = 0.0
    waits = []
    for _ in range(6):
        until = backoff.wait_until("c", t)
        start = t if until is None else until
        waits.append(start - t)
        backoff.next("c", t)
        t = start + 1  # runs a second, fails again
    assert waits == [0, 10, 20, 40, 40, 40]


def test_a_long_run_resets_the_window() -> None:
    backoff = Backoff(10, 300, reset=600)
    backoff.next("c", 0)
    assert backoff.wait_until("c", 1, ran_for=1) == 11
    backoff.next("c", 11)
    assert backoff.delay("c") == 20
    assert backoff.wait_until("c", 700, ran_for=650) is None
    backoff.next("c", 700, ran_for=650)
    assert backoff.delay("c") == 10


def test_image_pull_backoff_counts_from_the_last_attempt() -> None:
    backoff = Backoff(10, 300)
    assert backoff.in_backoff("img", 0) is None
    backoff.next("img", 0)
    assert backoff.in_backoff("img", 5) == 10
    assert backoff.in_backoff("img", 10) is None
    backoff.next("img", 10)
    assert backoff.in_backoff("img", 12) == 30
    backoff.forget_prefix("im")
    assert backoff.in_backoff("img", 12) is None


def probe(period: int = 10, delay: int = 0, failures: int = 3, successes: int = 1) -> ProbeSettings:
    return ProbeSettings.of(core_pb2.Probe(period_seconds=period, initial_delay_seconds=delay,
                                           failure_threshold=failures,
                                           success_threshold=successes), 1.0)


def test_readiness_starts_failing_and_turns_ready_on_first_success_after_initial_delay() -> None:
    p = Prober(ProbeKind.READINESS, probe(delay=5), begins=100)
    assert p.result is False and p.due == 105
    assert p.observe(105, ProbeResult(True)) is True
    assert p.result is True and p.due == 115


def test_failure_threshold_must_be_reached_before_readiness_is_lost() -> None:
    p = Prober(ProbeKind.READINESS, probe(failures=3), begins=0, initial=True)
    assert not p.observe(0, ProbeResult(False))
    assert not p.observe(10, ProbeResult(False))
    assert p.observe(20, ProbeResult(False)) and p.result is False
    assert p.observe(30, ProbeResult(True)) and p.result is True


def test_success_threshold() -> None:
    p = Prober(ProbeKind.READINESS, probe(successes=2), begins=0)
    assert not p.observe(0, ProbeResult(True))
    assert p.observe(10, ProbeResult(True)) and p.result is True


def test_liveness_starts_successful_and_startup_unknown() -> None:
    assert Prober(ProbeKind.LIVENESS, probe(), 0).result is True
    assert Prober(ProbeKind.STARTUP, probe(), 0).result is None


def test_settled_probe_skips_runs_until_the_promised_change_on_its_period() -> None:
    p = Prober(ProbeKind.READINESS, probe(period=10), begins=0)
    p.observe(0, ProbeResult(False, unchanged_until=42))
    # Not yet reported as the answer says? Readiness starts as failure, so it is settled.
    assert p.due == 50
    p.observe(50, ProbeResult(True, unchanged_until=math.inf))
    assert p.result is True and p.due == math.inf


def test_unsettled_probe_keeps_its_period() -> None:
    p = Prober(ProbeKind.READINESS, probe(period=10), begins=0, initial=True)
    p.observe(0, ProbeResult(False, unchanged_until=math.inf))
    assert p.result is True and p.due == 10


def test_scripted_probe_runs_exactly_when_its_answer_changes() -> None:
    p = Prober(ProbeKind.READINESS, ProbeSettings.scripted(1.0), begins=3)
    assert p.due == 3
    p.observe(3, ProbeResult(False, unchanged_until=7.25))
    assert p.due == 7.25
    assert p.observe(7.25, ProbeResult(True, unchanged_until=math.inf)) and p.result is True
