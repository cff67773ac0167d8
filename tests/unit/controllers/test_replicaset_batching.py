"""Which changes sync a ReplicaSet at once and which within the status batch period."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from controlplane.controllers.informer import InformerFactory
from controlplane.controllers.registry import ControllerContext
from controlplane.controllers.replicaset import ReplicaSetController
from kemu.api.meta import key_of
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import apps_pb2, core_pb2

pytestmark = pytest.mark.unit

TIMING = dataclasses.replace(FAST, replicaset_status_batch_period=0.25)


class Unused:
    """The handlers under test never reach the API."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the API was called: {name}")


def _replica_set() -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "web"
    rs.metadata.namespace = "default"
    rs.metadata.uid = "rs-uid"
    rs.metadata.generation = 1
    rs.spec.replicas = 3
    rs.spec.selector.match_labels["app"] = "web"
    rs.spec.template.metadata.labels["app"] = "web"
    return rs


def _pod(rs: apps_pb2.ReplicaSet) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = "web-abcde"
    pod.metadata.namespace = "default"
    pod.metadata.uid = "pod-uid"
    pod.metadata.resource_version = "10"
    pod.metadata.labels["app"] = "web"
    pod.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet",
                                      name=rs.metadata.name, uid=rs.metadata.uid,
                                      controller=True)
    pod.status.phase = "Pending"
    return pod


def _changed(pod: core_pb2.Pod) -> core_pb2.Pod:
    new = clone(pod)
    new.metadata.resource_version = str(int(pod.metadata.resource_version) + 1)
    return new


@pytest.fixture
def controller() -> ReplicaSetController:
    client: Any = Unused()
    context = ControllerContext(client, InformerFactory(client), TIMING, lambda: True, "test")
    made = ReplicaSetController(context)
    rs = _replica_set()
    made.owners.items[key_of(rs)] = rs
    return made


def _now(controller: ReplicaSetController) -> list[str]:
    """Keys queued to sync at once (taken out of the queue)."""
    keys = []
    while len(controller.queue):
        key = controller.queue._queue.popleft()
        controller.queue._dirty.discard(key)
        keys.append(key)
    return keys


def _later(controller: ReplicaSetController) -> dict[str, float]:
    """Keys waiting for the batch period, with the seconds left (timers cancelled)."""
    waiting = {}
    now = asyncio.get_running_loop().time()
    for key, handle in list(controller.queue._waiting.items()):
        waiting[key] = handle.when() - now
        handle.cancel()
    controller.queue._waiting.clear()
    return waiting


async def test_a_pods_status_change_syncs_within_the_batch_period(
        controller: ReplicaSetController) -> None:
    pod = _pod(_replica_set())
    running = _changed(pod)
    running.spec.node_name = "node-1"
    running.status.phase = "Running"
    running.status.conditions.add(type="Ready", status="True")
    controller._pod_updated(pod, running)
    assert _now(controller) == []
    waiting = _later(controller)
    assert list(waiting) == ["default/web"]
    assert 0.2 < waiting["default/web"] <= 0.25


async def test_status_changes_in_one_period_make_one_sync(
        controller: ReplicaSetController) -> None:
    pod = _pod(_replica_set())
    bound = _changed(pod)
    bound.spec.node_name = "node-1"
    running = _changed(bound)
    running.status.phase = "Running"
    controller._pod_updated(pod, bound)
    controller._pod_updated(bound, running)
    assert _now(controller) == []
    assert list(_later(controller)) == ["default/web"]


@pytest.mark.parametrize("change", ["labels", "finished", "deleting", "released"])
async def test_changes_that_decide_replicas_sync_at_once(
        controller: ReplicaSetController, change: str) -> None:
    pod = _pod(_replica_set())
    new = _changed(pod)
    if change == "labels":
        new.metadata.labels["tier"] = "front"
    elif change == "finished":
        new.status.phase = "Failed"
    elif change == "deleting":
        new.metadata.deletion_timestamp = "2026-11-25T00:00:00Z"
    else:
        del new.metadata.owner_references[:]
    controller._pod_updated(pod, new)
    assert _now(controller) == ["default/web"]


async def test_a_new_pod_syncs_at_once(controller: ReplicaSetController) -> None:
    controller._pod_added(_pod(_replica_set()))
    assert _now(controller) == ["default/web"]


def _pod_named(name: str) -> core_pb2.Pod:
    pod = _pod(_replica_set())
    pod.metadata.name = name
    pod.metadata.uid = f"{name}-uid"
    return pod


async def test_pods_the_set_still_waits_for_sync_within_the_batch_period(
        controller: ReplicaSetController) -> None:
    """Three creations expected: the first two pods seen only change the status; the third
    (the last expected) syncs at once, and the sync may create more."""
    controller.expectations.expect_creations("default/web", 3)
    controller._pod_added(_pod_named("web-1"))
    controller._pod_added(_pod_named("web-2"))
    assert _now(controller) == []
    assert list(_later(controller)) == ["default/web"]
    controller._pod_added(_pod_named("web-3"))
    assert _now(controller) == ["default/web"]


async def test_deletions_the_set_still_waits_for_sync_within_the_batch_period(
        controller: ReplicaSetController) -> None:
    first, second = _pod_named("web-1"), _pod_named("web-2")
    controller.expectations.expect_deletions("default/web", [key_of(first), key_of(second)])
    controller._pod_deleted(first)
    assert _now(controller) == []
    assert list(_later(controller)) == ["default/web"]
    controller._pod_deleted(second)
    assert _now(controller) == ["default/web"]


async def test_a_pod_deleted_by_someone_else_syncs_at_once(
        controller: ReplicaSetController) -> None:
    controller._pod_deleted(_pod_named("web-1"))
    assert _now(controller) == ["default/web"]


async def test_the_sets_own_status_write_syncs_within_the_batch_period(
        controller: ReplicaSetController) -> None:
    rs = _replica_set()
    written = clone(rs)
    written.status.replicas = 3
    written.status.ready_replicas = 1
    controller._owner_updated(rs, written)
    assert _now(controller) == []
    assert list(_later(controller)) == ["default/web"]


@pytest.mark.parametrize("change", ["spec", "labels", "annotations", "owner"])
async def test_other_changes_of_the_set_sync_at_once(
        controller: ReplicaSetController, change: str) -> None:
    rs = _replica_set()
    new = clone(rs)
    if change == "spec":
        new.spec.replicas = 5
        new.metadata.generation = 2
    elif change == "labels":
        new.metadata.labels["tier"] = "front"
    elif change == "annotations":
        new.metadata.annotations["deployment.kubernetes.io/revision"] = "2"
    else:
        new.metadata.owner_references.add(kind="Deployment", name="web", uid="d", controller=True)
    controller._owner_updated(rs, new)
    assert _now(controller) == ["default/web"]


@pytest.mark.parametrize(("replicas", "periods"), [(3, 1), (1000, 1), (5000, 5), (50000, 10)])
async def test_a_large_set_waits_longer_for_its_status_syncs(
        controller: ReplicaSetController, replicas: int, periods: int) -> None:
    """Each status-only sync reads all the set's pods: a set of 5000 waits five periods."""
    controller.owners.items["default/web"].spec.replicas = replicas
    pod = _pod(_replica_set())
    bound = _changed(pod)
    bound.spec.node_name = "node-1"
    controller._pod_updated(pod, bound)
    waiting = _later(controller)
    period = TIMING.replicaset_status_batch_period
    assert periods * period - 0.05 < waiting["default/web"] <= periods * period
