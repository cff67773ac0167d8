"""OwnStatusWrites: which pod versions a node's watch leaves out because the node's own status
update wrote them, whichever of the watch event and the call's answer comes first."""

from __future__ import annotations

import asyncio

import pytest

from controlplane.apiserver.watchcache import CacheEvent
from controlplane.nodeagent import OwnStatusWrites
from kemu.v1 import core_pb2

pytestmark = pytest.mark.unit


def event(revision: int, name: str = "web", kind: str = "MODIFIED") -> CacheEvent:
    pod = core_pb2.Pod()
    pod.metadata.namespace, pod.metadata.name = "default", name
    pod.metadata.resource_version = str(revision)
    return CacheEvent(kind, pod, None, revision)


async def test_a_written_version_is_left_out_once_and_only_on_its_nodes_watch() -> None:
    own = OwnStatusWrites()
    with own.writing("node-a", "default", "web"):
        own.wrote("node-a", 7)
    assert not await own.take("node-b", event(7))
    assert await own.take("node-a", event(7))
    assert not await own.take("node-a", event(7))


async def test_only_modifications_are_left_out() -> None:
    own = OwnStatusWrites()
    own.wrote("node-a", 7)
    assert not await own.take("node-a", event(7, kind="DELETED"))
    assert not await own.take("node-a", event(7, kind="ADDED"))


async def test_an_event_that_comes_before_the_calls_answer_waits_for_it() -> None:
    own = OwnStatusWrites()
    answered = asyncio.Event()

    async def update_status() -> None:
        with own.writing("node-a", "default", "web"):
            await answered.wait()
            own.wrote("node-a", 7)

    call = asyncio.create_task(update_status())
    await asyncio.sleep(0)  # the call has registered and is waiting for etcd's answer
    # A change of another pod does not wait.
    assert not await asyncio.wait_for(own.take("node-a", event(6, name="db")), 1)
    watch = asyncio.create_task(own.take("node-a", event(7)))
    await asyncio.sleep(0)
    assert not watch.done()
    answered.set()
    assert await asyncio.wait_for(watch, 1)
    await call


async def test_a_call_that_wrote_nothing_or_failed_leaves_nothing_out() -> None:
    own = OwnStatusWrites()
    with pytest.raises(RuntimeError), own.writing("node-a", "default", "web"):
        raise RuntimeError("etcd is gone")
    with own.writing("node-a", "default", "web"):
        pass  # the status was unchanged
    assert not await asyncio.wait_for(own.take("node-a", event(7)), 1)


async def test_a_revision_the_watch_has_passed_is_forgotten() -> None:
    own = OwnStatusWrites()
    own.wrote("node-a", 5)
    own.wrote("node-a", 9)
    assert not await own.take("node-a", event(7))  # 5 went out before the answer came
    assert not await own.take("node-a", event(5))
    assert await own.take("node-a", event(9))


async def test_a_node_whose_watch_is_down_keeps_only_the_newest() -> None:
    own = OwnStatusWrites(per_node=2)
    for revision in (1, 2, 3):
        own.wrote("node-a", revision)
    assert not await own.take("node-a", event(1))
    assert await own.take("node-a", event(2))
    assert await own.take("node-a", event(3))


async def test_a_node_is_forgotten_once_its_watch_has_passed_all_it_wrote() -> None:
    own = OwnStatusWrites()
    own.wrote("node-a", 5)
    own.wrote("node-a", 9)
    own.wrote("node-b", 6)
    assert await own.take("node-a", event(5))
    assert own.remembering() == {"node-a", "node-b"}
    assert not await own.take("node-a", event(12))  # 9 went out before the answer came
    assert own.remembering() == {"node-b"}
    assert await own.take("node-b", event(6))
    assert own.remembering() == set()
    own.wrote("node-a", 14)  # remembered again from scratch
    assert await own.take("node-a", event(14))
