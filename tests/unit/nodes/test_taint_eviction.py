"""Taint-based eviction decisions: which toleration wins, immediate deletion, scaled delays and
cancellation when the taint goes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.controllers.events import EventRecorder
from controlplane.controllers.informer import Informer
from controlplane.controllers.taint_eviction import (
    TaintEvictionController,
    min_toleration_seconds,
)
from kemu.timing import FAST
from kemu.v1 import core_pb2
from tests.support.waiting import eventually
from tests.unit.nodes.fakes import FakeClient, deliver

pytestmark = pytest.mark.unit

UNREACHABLE = core_pb2.Taint(key="node.kubernetes.io/unreachable", effect="NoExecute")
DEDICATED = core_pb2.Taint(key="dedicated", value="db", effect="NoExecute")


def toleration(key: str = "", seconds: int | None = None, **kwargs: str) -> core_pb2.Toleration:
    t = core_pb2.Toleration(key=key, operator=kwargs.get("operator", "Exists"),
                            value=kwargs.get("value", ""), effect=kwargs.get("effect", "NoExecute"))
    if seconds is not None:
        t.toleration_seconds = seconds
    return t


def test_min_toleration_seconds() -> None:
    unreachable = "node.kubernetes.io/unreachable"
    assert min_toleration_seconds([UNREACHABLE], []) == 0
    assert min_toleration_seconds([UNREACHABLE], [toleration(unreachable, 300)]) == 300
    assert min_toleration_seconds([UNREACHABLE], [toleration(unreachable)]) is None
    assert min_toleration_seconds([UNREACHABLE, DEDICATED],
                                  [toleration(unreachable, 300), toleration("dedicated", 60)]) == 60
    assert min_toleration_seconds([UNREACHABLE, DEDICATED], [toleration(unreachable, 300)]) == 0
    assert min_toleration_seconds([UNREACHABLE], [toleration(unreachable, -5)]) == 0
    # The first matching toleration is the one used.
    assert min_toleration_seconds([UNREACHABLE], [toleration(unreachable),
                                                  toleration(unreachable, 10)]) is None


class Harness:
    def __init__(self) -> None:
        self.client = FakeClient()
        client: Any = self.client
        self.nodes: Informer[core_pb2.Node] = Informer(client, core_pb2.Node)
        self.pods: Informer[core_pb2.Pod] = Informer(client, core_pb2.Pod)
        timing = dataclasses.replace(FAST, scale=0.001)
        self.recorder = EventRecorder(client, "test")
        self.controller = TaintEvictionController(client, self.nodes, self.pods, timing,
                                                  self.recorder)

    async def node(self, *taints: core_pb2.Taint) -> None:
        node = core_pb2.Node()
        node.metadata.name = "n1"
        node.spec.taints.extend(taints)
        self.client.put(node)
        await self.sync()

    async def pod(self, name: str, *tolerations: core_pb2.Toleration) -> None:
        pod = core_pb2.Pod()
        pod.metadata.name, pod.metadata.namespace = name, "default"
        pod.spec.node_name = "n1"
        pod.spec.tolerations.extend(tolerations)
        self.client.put(pod)
        await self.sync()

    async def sync(self) -> None:
        """Deliver what was written, and process the keys that queued (as the workers do)."""
        deliver(self.client, self.nodes, self.pods)
        queue = self.controller.queue
        while len(queue):
            key = await queue.get()
            await self.controller.sync(key)
            queue.done(key)

    def deleted(self) -> list[str]:
        return [obj.metadata.name for verb, obj in self.client.writes if verb == "delete"]

    def events(self) -> list[str]:
        return [obj.message for (kind, _), obj in self.client.objects.items() if kind == "Event"]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.controller.stop()


async def test_untolerated_taint_deletes_at_once_with_a_condition(h: Harness) -> None:
    await h.pod("web")
    await h.pod("db", toleration("dedicated"))
    await h.node(DEDICATED)
    await eventually(lambda: h.deleted() == ["web"])
    status = next(obj for verb, obj in h.client.writes if verb == "update_status")
    condition = status.status.conditions[0]
    assert (condition.type, condition.reason, condition.message) == (
        "DisruptionTarget", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
    await h.recorder.flush()
    assert "Marking for deletion Pod default/web" in h.events()


async def test_toleration_seconds_delay_and_removal_cancels(h: Harness) -> None:
    unreachable = "node.kubernetes.io/unreachable"
    await h.pod("soon", toleration(unreachable, 50))       # 50 ms at this scale
    await h.pod("later", toleration(unreachable, 60_000))   # a minute
    await h.node(UNREACHABLE)
    assert set(h.controller.scheduled) == {"default/soon", "default/later"}
    await eventually(lambda: h.deleted() == ["soon"], timeout=5)
    await h.node()
    assert not h.controller.scheduled
    await h.recorder.flush()
    assert "Cancelling deletion of Pod default/later" in h.events()
    await asyncio.sleep(0)
    assert h.deleted() == ["soon"]


async def test_a_pending_eviction_keeps_its_start_when_taints_change(h: Harness) -> None:
    unreachable = "node.kubernetes.io/unreachable"
    await h.pod("web", toleration(unreachable, 60_000), toleration("other", 60_000))
    await h.node(UNREACHABLE)
    first = h.controller.scheduled["default/web"]
    await h.node(UNREACHABLE, core_pb2.Taint(key="other", effect="NoExecute"))
    assert h.controller.scheduled["default/web"] is first
    # A taint the pod does not tolerate replaces the wait with an immediate deletion.
    await h.node(UNREACHABLE, DEDICATED)
    await eventually(lambda: h.deleted() == ["web"])
