"""The pod watch: resuming, re-listing after "too old", and pods that vanished meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.interface import WatchEvent
from kemu.timing import DEFAULT
from kubelet.podmanager import PodManager
from tests.unit.kubelet.harness import FakeNode, make_pod

pytestmark = pytest.mark.unit


class ScriptedWatch:
    """Answers each watch_pods call with the next scripted list of events (or an error)."""

    def __init__(self, node: FakeNode, script: list[list[WatchEvent] | ApiError]):
        self.node = node
        self.script = script
        self.versions: list[str] = []
        self.done = asyncio.Event()

    async def watch_pods(self, resource_version: str = "", *,
                         idle_timeout: float | None = None) -> AsyncIterator[WatchEvent]:
        self.versions.append(resource_version)
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, ApiError):
            raise step
        for event in step:
            yield event

    generation = 0

    def fail_over(self, generation: int | None = None) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node.agent, name)


async def test_watch_resumes_relists_when_too_old_and_drops_vanished_pods() -> None:
    node = FakeNode(DEFAULT)
    kept, vanished = make_pod("kept"), make_pod("vanished")
    kept.metadata.resource_version, vanished.metadata.resource_version = "5", "6"
    too_old = ApiError(Code.OUT_OF_RANGE, "Expired", "too old resource version: 6")
    watch = ScriptedWatch(node, [
        [WatchEvent("ADDED", kept, "5"), WatchEvent("ADDED", vanished, "6"),
         WatchEvent("BOOKMARK", None, "6")],
        [WatchEvent("BOOKMARK", None, "9")],
        too_old,
        [WatchEvent("ADDED", kept, "20"), WatchEvent("BOOKMARK", None, "20")],
    ])
    node.ctx.client = watch  # type: ignore[assignment]
    manager = PodManager(node.ctx)
    task = asyncio.create_task(manager.run())
    try:
        await asyncio.wait_for(watch.done.wait(), 5)
        # Fresh list, resumed from the bookmark's version, too old, fresh list again.
        assert watch.versions == ["", "6", "9", "", "20"]
        assert list(manager.workers) == ["uid-kept"]
        assert manager.relists == 1
        # A pod once gone is never run again, even if a stale event names it.
        manager.handle("MODIFIED", vanished)
        assert "uid-vanished" not in manager.workers
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await manager.stop()
        await node.close()


async def test_a_recreated_pod_replaces_the_old_worker() -> None:
    node = FakeNode(DEFAULT)
    manager = PodManager(node.ctx)
    old, new = make_pod("web", uid="first"), make_pod("web", uid="second")
    manager.handle("ADDED", old)
    old_worker = manager.workers["first"]
    manager.handle("ADDED", new)
    assert list(manager.workers) == ["second"]
    assert old_worker.gone
    await node.advance(1)
    await manager.stop()
    await node.close()
