"""The kubelet's event recorder sends every event due in one RecordEvents call, and acts on
each event's own outcome: recorded, refused for good, or to be sent again later."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.nodeagent import MAX_EVENTS_PER_CALL
from kemu.v1 import core_pb2, meta_pb2
from kubelet.clock import FakeClock
from kubelet.events import MAX_TRACKED, NORMAL, EventRecorder

pytestmark = pytest.mark.unit

INTERVAL = 10.0


class ScriptedAgent:
    """Answers RecordEvents with the outcome ``refuse`` gives each event (None: recorded), or
    fails the whole call with ``call_error``."""

    node_name = "node-1"

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, int]]] = []
        self.refuse: dict[str, ApiError] = {}
        self.call_error: ApiError | None = None

    async def record_events(self, events: Sequence[core_pb2.Event]) -> list[ApiError | None]:
        self.calls.append([(event.reason, event.count) for event in events])
        if self.call_error is not None:
            raise self.call_error
        return [self.refuse.get(event.reason) for event in events]


def _pod(name: str) -> meta_pb2.ObjectReference:
    return meta_pb2.ObjectReference(kind="Pod", name=name, namespace="default", uid=f"uid-{name}")


@pytest.fixture
async def agent() -> ScriptedAgent:
    return ScriptedAgent()


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def recorder(agent: ScriptedAgent, clock: FakeClock) -> AsyncIterator[EventRecorder]:
    client: Any = agent
    instance = EventRecorder(client, clock, INTERVAL)
    task = asyncio.create_task(instance.run())
    yield instance
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_events_due_together_travel_in_one_call(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    for reason in ("Pulled", "Created", "Started"):
        recorder.record(_pod("web"), NORMAL, reason, f"{reason} app")
    await clock.settle()
    assert agent.calls == [[("Pulled", 1), ("Created", 1), ("Started", 1)]]
    assert recorder.sent == 3


async def test_a_call_carries_at_most_the_control_planes_limit(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    for index in range(MAX_EVENTS_PER_CALL + 5):
        recorder.record(_pod(f"web-{index}"), NORMAL, "Started", "Started app")
    await clock.settle()
    assert [len(call) for call in agent.calls] == [MAX_EVENTS_PER_CALL, 5]


async def test_each_event_is_kept_or_dropped_on_its_own_outcome(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    agent.refuse = {
        "Pulled": ApiError(Code.NOT_FOUND, "NotFound", 'namespaces "gone" not found'),
        "Created": ApiError(Code.UNAVAILABLE, "ServiceUnavailable", "etcd unavailable"),
    }
    for reason in ("Pulled", "Created", "Started"):
        recorder.record(_pod("web"), NORMAL, reason, f"{reason} app")
    await clock.settle()
    agent.refuse = {}
    await clock.advance(INTERVAL)
    # Refused for good: dropped. Refused for now: sent again. Recorded: not sent again.
    assert agent.calls[1:] == [[("Created", 1)]]
    assert recorder.sent == 2


async def test_a_failed_call_sends_all_its_events_again(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    agent.call_error = ApiError(Code.UNAVAILABLE, "ServiceUnavailable", "connection refused")
    recorder.record(_pod("web"), NORMAL, "Pulled", "Pulled app")
    recorder.record(_pod("web"), NORMAL, "Started", "Started app")
    await clock.settle()
    agent.call_error = None
    recorder.record(_pod("web"), NORMAL, "Started", "Started app")  # a repeat meanwhile
    await clock.advance(INTERVAL)
    assert agent.calls == [[("Pulled", 1), ("Started", 1)], [("Pulled", 1), ("Started", 2)]]
    assert recorder.sent == 2


async def test_a_repeat_of_an_event_sent_long_ago_goes_out_alone_with_its_count(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    for index in range(50):
        recorder.record(_pod(f"web-{index}"), NORMAL, "Started", "Started app")
    await clock.settle()
    await clock.advance(INTERVAL)
    recorder.record(_pod("web-0"), NORMAL, "Started", "Started app")
    await clock.settle()
    assert [len(call) for call in agent.calls] == [50, 1]
    assert agent.calls[1] == [("Started", 2)]
    assert recorder.sent == 51


async def test_forgetting_a_pod_drops_its_series_and_no_other(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    for name in ("web", "db"):
        recorder.record(_pod(name), NORMAL, "Started", "Started app")
        recorder.record(_pod(name), NORMAL, "Pulled", "Pulled app")
    await clock.settle()
    await clock.advance(INTERVAL)
    recorder.forget("uid-web")
    for name in ("web", "db"):
        recorder.record(_pod(name), NORMAL, "Started", "Started app")
    await clock.settle()
    # web's series is gone: its event starts again at 1; db's repeat counts on.
    assert sorted(agent.calls[1]) == [("Started", 1), ("Started", 2)]
    recorder.forget("uid-never-seen")


async def test_the_series_index_forgets_what_the_recorder_no_longer_tracks(
        agent: ScriptedAgent, clock: FakeClock, recorder: EventRecorder) -> None:
    for index in range(MAX_TRACKED + 10):
        recorder.record(_pod(f"web-{index}"), NORMAL, "Started", "Started app")
    await clock.settle()
    await clock.advance(INTERVAL)
    assert len(recorder._keys_by_uid) == MAX_TRACKED
    recorder.forget("uid-web-0")  # already evicted: nothing to do
    recorder.forget(f"uid-web-{MAX_TRACKED + 9}")
    assert len(recorder._keys_by_uid) == MAX_TRACKED - 1
    recorder.record(_pod("web-0"), NORMAL, "Started", "Started app")
    await clock.settle()
    assert agent.calls[-1] == [("Started", 1)]  # evicted long ago: a new Event
