"""Node events wake only the DaemonSets whose eligibility for that node changed."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.controllers.daemonset.controller import DaemonSetController
from controlplane.controllers.informer import InformerFactory
from controlplane.controllers.registry import ControllerContext
from kemu.api.meta import key_of
from kemu.client.interface import clone
from kemu.timing import FAST
from tests.unit.controllers.daemonset_objects import daemonset, node

pytestmark = pytest.mark.unit


class Unused:
    """The handlers under test never reach the API."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the API was called: {name}")


async def _controller() -> DaemonSetController:
    client: Any = Unused()
    context = ControllerContext(client, InformerFactory(client), FAST, lambda: True, "test")
    controller = DaemonSetController(context)
    for ds in (daemonset(name="everywhere"),
               daemonset(name="ssd", template_spec={"nodeSelector": {"disk": "ssd"}}),
               daemonset(name="gpu", template_spec={"nodeSelector": {"gpu": "yes"}})):
        controller.daemonsets.items[key_of(ds)] = ds
    return controller


async def _queued(controller: DaemonSetController) -> list[str]:
    keys = []
    while len(controller.queue):
        key = await controller.queue.get()
        controller.queue.done(key)
        keys.append(key)
    return sorted(keys)


async def test_new_node_wakes_the_daemonsets_that_belong_on_it() -> None:
    controller = await _controller()
    controller._add_node(node("n1", {"disk": "ssd"}))
    assert await _queued(controller) == ["default/everywhere", "default/ssd"]


async def test_relabel_wakes_only_changed_eligibility() -> None:
    controller = await _controller()
    before = node("n1", {"disk": "ssd"})
    after = clone(before)
    after.metadata.labels["gpu"] = "yes"
    controller._update_node(before, after)
    assert await _queued(controller) == ["default/gpu"]
    unrelated = clone(after)
    unrelated.metadata.labels["team"] = "x"
    controller._update_node(after, unrelated)
    assert await _queued(controller) == []


async def test_status_only_changes_are_ignored_and_taints_count() -> None:
    controller = await _controller()
    before = node("n1", {"disk": "ssd"})
    heartbeat = clone(before)
    heartbeat.status.conditions.add(type="Ready", status="False")
    controller._update_node(before, heartbeat)
    assert await _queued(controller) == []
    tainted = clone(before)
    tainted.spec.taints.add(key="dedicated", value="db", effect="NoExecute")
    controller._update_node(before, tainted)
    assert await _queued(controller) == ["default/everywhere", "default/ssd"]
    cordoned = clone(before)
    cordoned.spec.taints.add(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
    controller._update_node(before, cordoned)
    assert await _queued(controller) == [], "daemon pods tolerate a cordon"


async def test_deleted_node_wakes_the_daemonsets_that_could_have_pods_there() -> None:
    controller = await _controller()
    controller._delete_node(node("n1", {"gpu": "yes"}, taints=[("x", "", "NoSchedule")]))
    assert await _queued(controller) == ["default/everywhere", "default/gpu"]

