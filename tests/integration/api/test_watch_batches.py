"""Watch messages that carry several events (WatchRequest.allow_batches) through the real API
server: the same events in the same order as one per message, in fewer messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from controlplane.apiserver.service import MAX_EVENTS_PER_MESSAGE
from kemu.api import kinds
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import api_pb2, api_pb2_grpc, core_pb2
from launcher.cluster import LocalCluster
from tests.integration.controllers.batch_kit import new_namespace

pytestmark = pytest.mark.integration


@pytest.fixture
async def stub(shared_control_plane: LocalCluster) -> AsyncIterator[api_pb2_grpc.ResourcesStub]:
    channel = grpc.aio.insecure_channel(shared_control_plane.address)
    yield api_pb2_grpc.ResourcesStub(channel)
    await channel.close()


async def _config_maps(client: GrpcClient, namespace: str, count: int) -> list[str]:
    """Creates ``count`` ConfigMaps and changes each; the versions written, in order."""
    written = []
    for i in range(count):
        cm = core_pb2.ConfigMap()
        cm.metadata.name, cm.metadata.namespace = f"cm-{i}", namespace
        cm = await client.create(cm)
        written.append(cm.metadata.resource_version)
        cm.data["v"] = "x"
        written.append((await client.update(cm)).metadata.resource_version)
    await _caught_up(client, namespace)
    return written


async def _caught_up(client: GrpcClient, namespace: str) -> None:
    """A consistent list returns once the watch cache holds every write before it, so a watch
    started after it finds them all there."""
    await client.list(core_pb2.ConfigMap, namespace)


async def _messages(stub: api_pb2_grpc.ResourcesStub, namespace: str, resource_version: str,
                    batches: bool, events: int) -> list[api_pb2.WatchEvent]:
    call = stub.Watch(api_pb2.WatchRequest(kind="ConfigMap", namespace=namespace,
                                           resource_version=resource_version,
                                           allow_batches=batches))
    messages: list[api_pb2.WatchEvent] = []
    received = 0
    async for message in call:
        messages.append(message)
        received += 1 + len(message.more)
        if received >= events:
            break
    call.cancel()
    return messages


def _flat(messages: list[api_pb2.WatchEvent]) -> list[tuple[str, str, str]]:
    out = []
    for message in messages:
        for event in [message, *message.more]:
            obj = kinds.unwrap(event.object)
            out.append((event.type, obj.metadata.name, obj.metadata.resource_version))
    return out


async def test_events_that_are_waiting_travel_in_one_message(
        client: GrpcClient, stub: api_pb2_grpc.ResourcesStub) -> None:
    namespace = await new_namespace(client, "batch")
    start = (await client.list(core_pb2.ConfigMap, namespace)).resource_version
    written = await _config_maps(client, namespace, 5)
    # Resumed from before the writes: all ten are waiting when the watch starts.
    batched = await _messages(stub, namespace, start, True, len(written))
    single = await _messages(stub, namespace, start, False, len(written))
    assert len(batched) == 1 and len(batched[0].more) == len(written) - 1
    assert [len(m.more) for m in single] == [0] * len(written)
    assert _flat(batched) == _flat(single)
    assert [version for _, _, version in _flat(batched)] == written
    assert [kind for kind, _, _ in _flat(batched)] == ["ADDED", "MODIFIED"] * 5


async def test_a_message_carries_at_most_its_limit_of_events(
        client: GrpcClient, stub: api_pb2_grpc.ResourcesStub) -> None:
    namespace = await new_namespace(client, "batch")
    count = MAX_EVENTS_PER_MESSAGE + MAX_EVENTS_PER_MESSAGE // 2
    for i in range(count):
        cm = core_pb2.ConfigMap()
        cm.metadata.name, cm.metadata.namespace = f"cm-{i:04d}", namespace
        await client.create(cm)
    await _caught_up(client, namespace)
    # Without a version the watch starts with every object, all at once.
    messages = await _messages(stub, namespace, "", True, count)
    assert [1 + len(m.more) for m in messages] == [MAX_EVENTS_PER_MESSAGE,
                                                   MAX_EVENTS_PER_MESSAGE // 2]
    assert sorted(name for _, name, _ in _flat(messages)) == [f"cm-{i:04d}" for i in range(count)]


async def test_the_client_hands_out_each_event_of_a_batch_in_order(client: GrpcClient) -> None:
    namespace = await new_namespace(client, "batch")
    start = (await client.list(core_pb2.ConfigMap, namespace)).resource_version
    written = await _config_maps(client, namespace, 5)
    seen = []
    async for event in client.watch(core_pb2.ConfigMap, namespace, resource_version=start):
        seen.append((event.type, event.object.metadata.name, event.resource_version))
        if len(seen) == len(written):
            break
    assert [version for _, _, version in seen] == written
    assert seen[:2] == [("ADDED", "cm-0", written[0]), ("MODIFIED", "cm-0", written[1])]
