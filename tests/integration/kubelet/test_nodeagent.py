"""The NodeAgent service through its gRPC API: what a node may and may not do, and failover."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import cast

import pytest

from kemu.api.errors import ApiError, Code
from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import WatchEvent
from kemu.client.nodeagent import NodeAgentClient
from kemu.v1 import coordination_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import condition, node_ready, pod_on, unique, wait_node, wait_pod
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_a_node_cannot_touch_pods_bound_to_another_node(
        shared_control_plane: LocalCluster, client: GrpcClient) -> None:
    name = unique("elsewhere")
    pod = await client.create(pod_on("node-a", name))
    async with NodeAgentClient(shared_control_plane.address, "node-b") as intruder:
        status = core_pb2.PodStatus(phase="Failed")
        with pytest.raises(ApiError) as refused:
            await intruder.update_pod_status("default", name, pod.metadata.uid, status)
        assert refused.value.code == Code.PERMISSION_DENIED
        assert '"node-b"' in refused.value.message and "'node-a'" in refused.value.message
        with pytest.raises(ApiError) as refused:
            await intruder.remove_pod("default", name, pod.metadata.uid)
        assert refused.value.code == Code.PERMISSION_DENIED
        assert '"node-b"' in refused.value.message and "'node-a'" in refused.value.message
    unchanged = await client.get(core_pb2.Pod, name, "default")
    assert unchanged.status.phase == "Pending" and not unchanged.metadata.deletion_timestamp


async def test_status_updates_keep_conditions_the_kubelet_does_not_own(
        shared_control_plane: LocalCluster, client: GrpcClient) -> None:
    name = unique("gated")
    pod = await client.create(pod_on("node-c", name))
    pod.status.conditions.add(type="DisruptionTarget", status="True", reason="EvictionByEvictionAPI")
    await client.update_status(pod)
    async with NodeAgentClient(shared_control_plane.address, "node-c") as kubelet:
        status = core_pb2.PodStatus(phase="Running")
        status.conditions.add(type="Ready", status="True")
        await kubelet.update_pod_status("default", name, pod.metadata.uid, status)
        with pytest.raises(ApiError) as replaced:
            await kubelet.update_pod_status("default", name, "some-other-uid", status)
        assert replaced.value.code == Code.ABORTED
    stored = await client.get(core_pb2.Pod, name, "default")
    assert stored.status.phase == "Running"
    assert [c.type for c in stored.status.conditions] == ["DisruptionTarget", "Ready"]


async def test_repeated_event_is_counted_not_duplicated(shared_control_plane: LocalCluster,
                                                        client: GrpcClient) -> None:
    name = unique("repeat")
    async with NodeAgentClient(shared_control_plane.address, "node-d") as kubelet:
        event = core_pb2.Event(type="Warning", reason="BackOff", message="Back-off", count=1,
                               first_timestamp="2024-01-01T00:00:00Z",
                               last_timestamp="2024-01-01T00:00:00Z")
        event.metadata.name, event.metadata.namespace = f"{name}.17a", "default"
        event.involved_object.name, event.involved_object.kind = name, "Pod"
        await kubelet.record_event(event)
        event.count, event.last_timestamp = 5, "2024-01-01T00:01:00Z"
        await kubelet.record_event(event)
    found = await client.list(core_pb2.Event, "default",
                              field_selector=f"involvedObject.name={name}")
    assert [(e.count, e.last_timestamp, e.source.host) for e in found.items] == [
        (5, "2024-01-01T00:01:00Z", "node-d")]


async def test_events_sent_together_are_each_recorded_or_refused(
        shared_control_plane: LocalCluster, client: GrpcClient) -> None:
    name = unique("batch")
    events = []
    for reason in ("Pulled", "Created", "Started"):
        event = core_pb2.Event(type="Normal", reason=reason, message=f"{reason} app", count=1)
        event.metadata.name, event.metadata.namespace = f"{name}.{reason.lower()}", "default"
        event.involved_object.name, event.involved_object.kind = name, "Pod"
        events.append(event)
    # Invalid (about an object in another namespace): refused alone, the others are stored.
    events[1].involved_object.namespace = "elsewhere"
    async with NodeAgentClient(shared_control_plane.address, "node-e") as kubelet:
        results = await kubelet.record_events(events)
        assert results[0] is None and results[2] is None
        refused = results[1]
        assert refused is not None and refused.code == Code.INVALID_ARGUMENT
        assert "involvedObject.namespace" in refused.message
        with pytest.raises(ApiError) as too_many:
            await kubelet.record_events([events[0]] * 101)
        assert too_many.value.code == Code.INVALID_ARGUMENT
        assert "events: Too many: must have at most 100 items" in too_many.value.message
    found = await client.list(core_pb2.Event, "default",
                              field_selector=f"involvedObject.name={name}")
    assert sorted((e.reason, e.source.host) for e in found.items) == [
        ("Pulled", "node-e"), ("Started", "node-e")]


async def lease_of(client: GrpcClient) -> coordination_pb2.Lease | None:
    try:
        return await client.get(coordination_pb2.Lease, "roamer", "kube-node-lease")
    except ApiError as exc:
        if exc.code == Code.NOT_FOUND:
            return None
        raise


async def test_kubelet_fails_over_between_control_planes(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="", external_etcd=True)
    cluster.start_control_plane("cp1")
    cluster.start_control_plane("cp2")
    cluster.add_node("roamer")
    other = {"cp1": "cp2", "cp2": "cp1"}
    for down in ("cp1", "cp2"):
        up = cluster.control_planes[other[down]]
        async with GrpcClient(up.address) as client:
            await wait_node(client, "roamer", node_ready, "Ready")
            lease = await eventually(lambda c=client: lease_of(c), what="the node lease")
            cluster.control_planes[down].kill()
            killed_at = parse_time(lease.spec.renew_time)

            async def lease_renewed(client: GrpcClient = client, since: float = killed_at) -> bool:
                lease = await client.get(coordination_pb2.Lease, "roamer", "kube-node-lease")
                return parse_time(lease.spec.renew_time) > since + 1.0

            await eventually(lease_renewed, timeout=20, what=f"lease renewals with {down} down")
            name = f"after-{down}-down"
            await client.create(pod_on("roamer", name))
            await wait_pod(client, name, lambda p: condition(p, "Ready") == "True",
                           f"Running through {other[down]}", timeout=30)
        cluster.start_control_plane(down)


async def test_an_event_sent_without_a_name_is_named_after_its_object(
        shared_control_plane: LocalCluster, client: GrpcClient) -> None:
    name = unique("nameless")
    event = core_pb2.Event(type="Normal", reason="Pulled", message="pulled", count=1)
    event.metadata.namespace = "default"
    event.involved_object.name, event.involved_object.kind = name, "Pod"
    async with NodeAgentClient(shared_control_plane.address, "node-f") as kubelet:
        await kubelet.record_event(event)
    found = await client.list(core_pb2.Event, "default",
                              field_selector=f"involvedObject.name={name}")
    assert [e.metadata.name.startswith(f"{name}.") for e in found.items] == [True]


async def test_the_pod_watch_leaves_out_what_the_nodes_own_status_updates_wrote(
        shared_control_plane: LocalCluster, client: GrpcClient) -> None:
    node = unique("echo")
    name = unique("echoed")
    async with NodeAgentClient(shared_control_plane.address, node) as kubelet:
        stream = cast(AsyncGenerator[WatchEvent, None], kubelet.watch_pods())
        listed = await anext(stream)
        assert listed.type == "BOOKMARK"
        pod = await client.create(pod_on(node, name))
        added = await anext(stream)
        assert (added.type, added.object.metadata.name) == ("ADDED", name)
        running = core_pb2.PodStatus(phase="Running")
        written = await kubelet.update_pod_status("default", name, pod.metadata.uid, running)
        # Unchanged: writes nothing, so nothing is left out for it.
        again = await kubelet.update_pod_status("default", name, pod.metadata.uid, running)
        assert again.metadata.resource_version == written.metadata.resource_version
        # Other writers' changes, to the status and to the pod, still come.
        written.status.conditions.add(type="DisruptionTarget", status="True", reason="Test")
        condition_added = await client.update_status(written)
        labelled = await client.get(core_pb2.Pod, name, "default")
        labelled.metadata.labels["seen"] = "yes"
        labelled = await client.update(labelled)
        seen = [await anext(stream), await anext(stream)]
        await stream.aclose()
    assert [(e.type, e.resource_version) for e in seen] == [
        ("MODIFIED", condition_added.metadata.resource_version),
        ("MODIFIED", labelled.metadata.resource_version)]
    assert seen[0].object.status.phase == "Running"
    assert seen[1].object.metadata.labels["seen"] == "yes"
