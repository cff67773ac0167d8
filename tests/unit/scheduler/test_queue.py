"""The scheduling queue: priority order, backoff, unschedulable pods moved by cluster events."""

from __future__ import annotations

import asyncio

import pytest

from controlplane.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_pod

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(backoff_base=1.0, backoff_max=10.0, max_unschedulable_wait=300.0,
                           clock=clock)


def prioritized(name: str, priority: int) -> core_pb2.Pod:
    pod = make_pod(name)
    pod.spec.priority = priority
    return pod


def test_highest_priority_then_oldest_first() -> None:
    clock = FakeClock()
    q = queue(clock)
    for name, priority in (("low", 0), ("high", 100), ("low-later", 0), ("high-later", 100)):
        q.add(prioritized(name, priority))
        clock.now += 1
    order = []
    while (queued := q.pop_ready()) is not None:
        order.append(queued.pod.metadata.name)
    assert order == ["high", "high-later", "low", "low-later"]


def test_unschedulable_pod_waits_for_an_event_and_its_backoff() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(make_pod("web"))
    queued = q.pop_ready()
    assert queued is not None and queued.attempts == 1
    q.requeue_unschedulable(queued)
    assert q.where("default/web") == UNSCHEDULABLE
    clock.now += 5
    assert q.pop_ready() is None, "no event: it stays unschedulable"
    assert q.move_all() == 1
    assert q.where("default/web") == ACTIVE, "backoff (1s) already over"
    queued = q.pop_ready()
    assert queued is not None and queued.attempts == 2
    q.requeue_unschedulable(queued)
    q.move_all()
    assert q.where("default/web") == BACKOFF, "second failure backs off 2s"
    clock.now += 1.9
    assert q.pop_ready() is None
    clock.now += 0.2
    assert q.pop_ready() is not None


def test_backoff_doubles_up_to_the_maximum() -> None:
    clock = FakeClock()
    q = queue(clock)
    assert [q._backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_unschedulable_pods_are_retried_after_the_long_wait() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(make_pod("web"))
    queued = q.pop_ready()
    assert queued is not None
    q.requeue_unschedulable(queued)
    clock.now += 299
    assert q.pop_ready() is None
    clock.now += 2
    assert q.pop_ready() is not None


def test_spec_change_moves_an_unschedulable_pod_but_status_does_not() -> None:
    clock = FakeClock()
    q = queue(clock)
    pod = make_pod("web")
    q.add(pod)
    queued = q.pop_ready()
    assert queued is not None
    q.requeue_unschedulable(queued)
    clock.now += 5
    with_status = core_pb2.Pod()
    with_status.CopyFrom(pod)
    with_status.status.conditions.add(type="PodScheduled", status="False")
    q.update(with_status)
    assert q.where("default/web") == UNSCHEDULABLE
    relabelled = core_pb2.Pod()
    relabelled.CopyFrom(with_status)
    relabelled.spec.tolerations.add(operator="Exists")
    q.update(relabelled)
    assert q.where("default/web") == ACTIVE
    popped = q.pop_ready()
    assert popped is not None and len(popped.pod.spec.tolerations) == 1


def test_deleted_pods_leave_every_place() -> None:
    clock = FakeClock()
    q = queue(clock)
    q.add(make_pod("a"))
    q.add(make_pod("b"))
    queued = q.pop_ready()
    assert queued is not None
    q.requeue_backoff(queued)
    q.delete("default/a")
    q.delete("default/b")
    clock.now += 20
    assert q.pop_ready() is None and len(q) == 0


async def test_pop_waits_for_backoff_to_run_out() -> None:
    q = SchedulingQueue(backoff_base=0.05, backoff_max=1.0, max_unschedulable_wait=300.0)
    q.add(make_pod("web"))
    queued = await q.pop()
    q.requeue_backoff(queued)
    loop = asyncio.get_running_loop()
    started = loop.time()
    again = await asyncio.wait_for(q.pop(), 5)
    assert again.key == "default/web"
    assert loop.time() - started >= 0.04
