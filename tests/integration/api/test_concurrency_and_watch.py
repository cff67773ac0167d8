"""Optimistic concurrency and resumable watches through the real API server."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster

pytestmark = pytest.mark.integration


def config_map(name: str, namespace: str = "default") -> core_pb2.ConfigMap:
    cm = core_pb2.ConfigMap()
    cm.metadata.name = name
    cm.metadata.namespace = namespace
    return cm


async def test_twenty_concurrent_writers_lose_no_update(client: GrpcClient) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    await client.create(config_map(name))
    conflicts = 0

    async def writer(i: int) -> None:
        nonlocal conflicts
        while True:
            current = await client.get(core_pb2.ConfigMap, name)
            current.data[f"writer-{i}"] = str(i)
            try:
                await client.update(current)
                return
            except ApiError as exc:
                assert exc.code == Code.ABORTED and exc.reason == "Conflict", exc
                conflicts += 1

    await asyncio.gather(*(writer(i) for i in range(20)))
    final = await client.get(core_pb2.ConfigMap, name)
    assert dict(final.data) == {f"writer-{i}": str(i) for i in range(20)}
    assert conflicts > 0, "no writer ever conflicted; the race was not exercised"


async def test_update_needs_current_resource_version(client: GrpcClient) -> None:
    name = f"stale-{uuid.uuid4().hex[:8]}"
    created = await client.create(config_map(name))
    first = core_pb2.ConfigMap()
    first.CopyFrom(created)
    first.data["a"] = "1"
    await client.update(first)
    created.data["b"] = "2"
    with pytest.raises(ApiError) as stale:
        await client.update(created)
    assert stale.value.code == Code.ABORTED
    assert "the object has been modified" in str(stale.value)
    created.metadata.resource_version = ""
    with pytest.raises(ApiError) as missing:
        await client.update(created)
    assert missing.value.fields == ["metadata.resourceVersion"]
    assert dict((await client.get(core_pb2.ConfigMap, name)).data) == {"a": "1"}


async def test_watch_resumed_from_last_version_misses_nothing(client: GrpcClient) -> None:
    namespace = f"w-{uuid.uuid4().hex[:8]}"
    ns = core_pb2.Namespace()
    ns.metadata.name = namespace
    await client.create(ns)
    start = (await client.list(core_pb2.ConfigMap, namespace)).resource_version
    written: list[str] = []

    async def write(i: int) -> None:
        cm = await client.create(config_map(f"cm-{i}", namespace))
        written.append(cm.metadata.resource_version)
        cm.data["v"] = "x"
        written.append((await client.update(cm)).metadata.resource_version)

    seen: list[str] = []
    last = start
    for round_ in range(4):
        # Disconnected: changes happen while nobody watches.
        for i in range(round_ * 5, round_ * 5 + 5):
            await write(i)
        async for event in client.watch(core_pb2.ConfigMap, namespace, resource_version=last):
            seen.append(event.resource_version)
            last = event.resource_version
            if len(seen) == len(written):
                break
    deleted = await client.delete(core_pb2.ConfigMap, "cm-0", namespace)
    async for event in client.watch(core_pb2.ConfigMap, namespace, resource_version=last):
        assert event.type == "DELETED" and event.object.metadata.name == "cm-0"
        assert event.resource_version == deleted.metadata.resource_version
        break
    assert seen == written


async def test_watch_with_selector_reports_objects_leaving_it(client: GrpcClient) -> None:
    namespace = "default"
    name = f"sel-{uuid.uuid4().hex[:8]}"
    start = (await client.list(core_pb2.ConfigMap, namespace)).resource_version
    cm = config_map(name, namespace)
    cm.metadata.labels["watch-test"] = name
    created = await client.create(cm)
    del created.metadata.labels["watch-test"]
    await client.update(created)
    events = []
    async for event in client.watch(core_pb2.ConfigMap, namespace,
                                    label_selector=f"watch-test={name}", resource_version=start):
        events.append((event.type, event.object.metadata.name))
        if len(events) == 2:
            break
    assert events == [("ADDED", name), ("DELETED", name)]


async def test_bad_selectors_are_rejected(client: GrpcClient) -> None:
    with pytest.raises(ApiError) as bad_label:
        await client.list(core_pb2.Pod, label_selector="app in (a,")
    assert bad_label.value.code == Code.INVALID_ARGUMENT
    with pytest.raises(ApiError) as bad_field:
        await client.list(core_pb2.Pod, field_selector="spec.color=red")
    assert "field label not supported: spec.color" in str(bad_field.value)


async def test_field_selector_on_pods(client: GrpcClient) -> None:
    namespace = "default"
    names = []
    for node in ("n1", "n2", ""):
        pod = core_pb2.Pod()
        pod.metadata.name = f"fs-{uuid.uuid4().hex[:8]}"
        pod.metadata.namespace = namespace
        pod.spec.containers.add(name="c", image="busybox")
        pod.spec.node_name = node
        names.append((await client.create(pod)).metadata.name)
    on_n1 = await client.list(core_pb2.Pod, namespace, field_selector="spec.nodeName=n1")
    assert [p.metadata.name for p in on_n1.items] == [names[0]]
    unbound = await client.list(core_pb2.Pod, namespace, field_selector="spec.nodeName=")
    assert names[2] in [p.metadata.name for p in unbound.items]
    assert names[0] not in [p.metadata.name for p in unbound.items]


async def test_delete_carries_propagation_and_grace(client: GrpcClient) -> None:
    name = f"del-{uuid.uuid4().hex[:8]}"
    await client.create(config_map(name))
    orphaned = await client.delete(core_pb2.ConfigMap, name, propagation_policy="Orphan")
    assert list(orphaned.metadata.finalizers) == ["orphan"]
    assert orphaned.metadata.deletion_timestamp
    with pytest.raises(ApiError) as bad:
        await client.delete(core_pb2.ConfigMap, name, propagation_policy="Sometimes")
    assert "propagationPolicy" in bad.value.fields


async def test_namespace_must_exist(client: GrpcClient) -> None:
    with pytest.raises(ApiError) as missing:
        await client.create(config_map("x", "no-such-namespace"))
    assert missing.value.code == Code.NOT_FOUND
    assert str(missing.value) == 'namespaces "no-such-namespace" not found'


async def test_system_namespaces_exist(client: GrpcClient) -> None:
    names = {n.metadata.name for n in (await client.list(core_pb2.Namespace)).items}
    assert {"default", "kube-system", "kube-node-lease"} <= names


def _restart_keeps(cluster: LocalCluster, hard: bool) -> None:
    async def create() -> list[tuple[str, str, str]]:
        async with GrpcClient(cluster.address) as c:
            out = []
            for i in range(5):
                cm = config_map(f"keep-{i}")
                cm.data["i"] = str(i)
                made = await c.create(cm)
                out.append((made.metadata.name, made.metadata.uid, made.metadata.resource_version))
            return out

    async def read() -> list[tuple[str, str, str]]:
        async with GrpcClient(cluster.address) as c:
            items = (await c.list(core_pb2.ConfigMap, "default")).items
            return sorted((o.metadata.name, o.metadata.uid, o.metadata.resource_version)
                          for o in items if o.metadata.name.startswith("keep-"))

    before = asyncio.run(create())
    cluster.restart_control_plane(hard=hard)
    assert asyncio.run(read()) == sorted(before)


@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_control_plane_restart_keeps_every_object(make_cluster, hard: bool) -> None:  # type: ignore[no-untyped-def]
    cluster = make_cluster(controllers="")
    cluster.start_control_plane()
    _restart_keeps(cluster, hard)
