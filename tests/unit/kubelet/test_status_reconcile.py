"""The kubelet reports a pod's status again when someone else changed the part it owns: the node
lifecycle controller marks the pods of a silent node not Ready, and when the kubelet is heard
from again (a frozen process thawed, a network back) its pods must turn Ready again, as the
kubelet's status manager reconciles them (``needsReconcile``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kemu.v1 import core_pb2
from tests.unit.kubelet.harness import FakeNode, condition, make_pod

pytestmark = pytest.mark.unit


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    n = FakeNode()
    versions = iter(range(100, 10_000))
    record = n.agent.update_pod_status

    async def numbered(namespace: str, name: str, uid: str,
                       status: core_pb2.PodStatus) -> core_pb2.Pod:
        """Like the API: every write returns the pod with a new resourceVersion."""
        await record(namespace, name, uid, status)
        written = core_pb2.Pod()
        written.metadata.uid = uid
        written.metadata.resource_version = str(next(versions))
        written.status.CopyFrom(status)
        return written

    n.agent.update_pod_status = numbered  # type: ignore[method-assign]
    yield n
    await n.close()


def as_seen_by_the_api(pod: core_pb2.Pod, status: core_pb2.PodStatus, version: int,
                       ready: str | None = None) -> core_pb2.Pod:
    seen = core_pb2.Pod()
    seen.CopyFrom(pod)
    seen.metadata.resource_version = str(version)
    seen.status.CopyFrom(status)
    for c in seen.status.conditions:
        if ready is not None and c.type == "Ready":
            c.status = ready
    return seen


async def test_a_pod_marked_not_ready_by_someone_else_is_reported_ready_again(
        node: FakeNode) -> None:
    pod = make_pod()
    worker = node.run(pod)
    await node.advance_to(1.0)
    ready = node.status(pod)
    assert condition(ready, "Ready") == "True"
    sent = len(node.agent.statuses(pod.metadata.uid))
    # The node lifecycle controller's write (a newer resourceVersion) arrives through the watch.
    worker.update(as_seen_by_the_api(pod, ready, 5000, ready="False"))
    await node.advance(0.01)
    statuses = node.agent.statuses(pod.metadata.uid)
    assert len(statuses) == sent + 1
    assert condition(statuses[-1], "Ready") == "True"
    assert statuses[-1] == ready


async def test_the_watch_echo_of_its_own_writes_sends_nothing(node: FakeNode) -> None:
    pod = make_pod()
    worker = node.run(pod)
    await node.advance_to(0.3)
    first = node.status(pod)
    await node.advance_to(1.0)
    sent = len(node.agent.statuses(pod.metadata.uid))
    # The event of an earlier write of ours (an older status, an older version) arrives late.
    worker.update(as_seen_by_the_api(pod, first, 100))
    await node.advance(0.01)
    assert len(node.agent.statuses(pod.metadata.uid)) == sent
