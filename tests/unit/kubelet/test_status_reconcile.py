"""The kubelet owns its pods' status: another writer's change to it is overwritten again.

While a node is unreachable the node lifecycle controller marks its pods Ready=False. When the
node comes back its kubelet must report Ready=True again, although nothing changed on the node
(the chaos suite found pods left not ready forever after a frozen node thawed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kemu.v1 import core_pb2
from tests.unit.kubelet.harness import FakeNode, condition, make_pod

pytestmark = pytest.mark.unit


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    n = FakeNode()
    yield n
    await n.close()


def api_copy(pod: core_pb2.Pod, status: core_pb2.PodStatus, version: int) -> core_pb2.Pod:
    copy = core_pb2.Pod()
    copy.CopyFrom(pod)
    copy.status.CopyFrom(status)
    copy.metadata.resource_version = str(version)
    return copy


async def test_a_ready_condition_rewritten_by_another_writer_is_reported_again(
        node: FakeNode) -> None:
    pod = make_pod()
    worker = node.run(pod)
    await node.advance_to(1.0)
    ready = node.status(pod)
    assert condition(ready, "Ready") == "True"
    sent = len(node.agent.statuses(pod.metadata.uid))

    marked = core_pb2.PodStatus()
    marked.CopyFrom(ready)
    for c in marked.conditions:
        if c.type == "Ready":
            c.status = "False"
    worker.update(api_copy(pod, marked, 50))
    await node.advance(0.1)
    assert len(node.agent.statuses(pod.metadata.uid)) == sent + 1
    assert condition(node.status(pod), "Ready") == "True"


async def test_an_unchanged_or_stale_copy_sends_nothing(node: FakeNode) -> None:
    pod = make_pod()
    worker = node.run(pod)
    await node.advance_to(1.0)
    ready = node.status(pod)
    sent = len(node.agent.statuses(pod.metadata.uid))
    # The API echoing what the kubelet sent (another writer touched only its own fields).
    worker.update(api_copy(pod, ready, 60))
    await node.advance(0.1)
    assert len(node.agent.statuses(pod.metadata.uid)) == sent
    # An older copy than one already reconciled is ignored even if it differs.
    stale = core_pb2.PodStatus()
    stale.CopyFrom(ready)
    stale.phase = "Pending"
    worker.update(api_copy(pod, stale, 40))
    await node.advance(0.1)
    assert len(node.agent.statuses(pod.metadata.uid)) == sent
