"""The control plane's event recorder correlates like client-go's: repeats are counted,
similar events are combined after ten messages, and 25 events about one object is the burst."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from controlplane.controllers.events import (
    AGGREGATE_INTERVAL,
    COMBINED,
    NORMAL,
    SPAM_BURST,
    EventRecorder,
)
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.controllers.batch_fakes import FakeApi

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(clock: Clock) -> FakeApi:
    return FakeApi(clock)


@pytest.fixture
async def recorder(api: FakeApi, clock: Clock) -> AsyncIterator[EventRecorder]:
    instance = EventRecorder(api, "replicaset-controller", "cp-1", clock)
    yield instance
    await instance.stop()


def _replica_set(name: str = "web") -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.metadata.uid = name, "default", f"uid-{name}"
    return rs


def _stored(api: FakeApi) -> list[core_pb2.Event]:
    return [obj for (kind, _, _), obj in api.objects.items() if kind == "Event"]


async def test_nine_messages_are_events_of_their_own_then_one_combined_event_counts_up(
        api: FakeApi, recorder: EventRecorder) -> None:
    rs = _replica_set()
    for index in range(15):
        recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: web-{index}")
    await recorder.flush()
    events = _stored(api)
    singles = sorted(e.message for e in events if not e.message.startswith(COMBINED))
    assert singles == sorted(f"Created pod: web-{index}" for index in range(9))
    [combined] = [e for e in events if e.message.startswith(COMBINED)]
    assert (combined.count, combined.message) == (6, COMBINED + "Created pod: web-14")
    assert combined.reason == "SuccessfulCreate"


async def test_a_burst_about_one_object_stops_at_25_and_refills_slowly(
        api: FakeApi, recorder: EventRecorder, clock: Clock) -> None:
    rs, other = _replica_set(), _replica_set("db")
    for index in range(1000):
        recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: web-{index}")
    recorder.event(other, NORMAL, "SuccessfulCreate", "Created pod: db-0")
    await recorder.flush()
    about_web = [e for e in _stored(api) if e.involved_object.name == "web"]
    # 9 single events and the combined one, written 25 times in all; 975 filtered.
    assert len(about_web) == 10
    assert sum(e.count for e in about_web) == SPAM_BURST
    assert recorder.filtered == 1000 - SPAM_BURST
    assert [e.message for e in _stored(api) if e.involved_object.name == "db"] == [
        "Created pod: db-0"]  # another object has a bucket of its own
    clock.now += 300  # one token back
    recorder.event(rs, NORMAL, "SuccessfulDelete", "Deleted pod: web-0")
    recorder.event(rs, NORMAL, "SuccessfulDelete", "Deleted pod: web-1")
    await recorder.flush()
    deletes = [e.message for e in _stored(api) if e.reason == "SuccessfulDelete"]
    assert deletes == ["Deleted pod: web-0"]


async def test_similar_events_spread_over_time_stay_separate(
        api: FakeApi, recorder: EventRecorder, clock: Clock) -> None:
    rs = _replica_set()
    for index in range(12):
        clock.now += AGGREGATE_INTERVAL + 1  # each one after a quiet ten minutes
        recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: web-{index}")
    await recorder.flush()
    assert not [e for e in _stored(api) if e.message.startswith(COMBINED)]
    assert len(_stored(api)) == 12


async def test_a_repeated_message_is_one_event_counted(
        api: FakeApi, recorder: EventRecorder) -> None:
    rs = _replica_set()
    for _ in range(3):
        recorder.event(rs, "Warning", "FailedCreate", "quota exceeded")
    await recorder.flush()
    [event] = _stored(api)
    assert (event.count, event.message) == (3, "quota exceeded")


async def test_without_correlation_only_repeats_are_counted(api: FakeApi, clock: Clock) -> None:
    recorder = EventRecorder(api, "default-scheduler", "cp-1", clock, correlate=False)
    rs = _replica_set()
    for index in range(SPAM_BURST + 5):
        recorder.event(rs, "Warning", "FailedScheduling", f"0/{index} nodes are available")
    recorder.event(rs, "Warning", "FailedScheduling", "0/0 nodes are available")
    await recorder.flush()
    await recorder.stop()
    events = _stored(api)
    assert len(events) == SPAM_BURST + 5
    assert not [e for e in events if e.message.startswith(COMBINED)]
    assert [e.count for e in events if e.message == "0/0 nodes are available"] == [2]
