"""Node health against a real control plane: leases renewed (or not) from the test as a kubelet
would, the conditions and taints the node lifecycle controller sets, taint-based eviction and
pod garbage collection. Fast timing profile: grace 2 s, monitor period 0.25 s, scale 0.05."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kemu.api.errors import ApiError, Code
from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.nodes.conftest import CONTROLLERS
from tests.integration.nodes.heartbeat import Heartbeats, post_ready, renew_lease
from tests.integration.scheduling import builders as b
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
# Unknown within grace + one monitor period (the NoExecute taint one period later); the margin
# absorbs a busy, shared machine.
DETECTION = FAST.node_monitor_grace_period + 2 * FAST.node_monitor_period
MARGIN = 6.0


async def healthy_node(api: GrpcClient, beats: Heartbeats, name: str, **kwargs: object) -> None:
    await b.create_node(api, b.node(name, **kwargs))  # type: ignore[arg-type]
    await renew_lease(api, name)
    beats.alive.add(name)


async def running_pod(api: GrpcClient, name: str, node: str, *, tolerations: list[dict[str, object]]
                      | None = None) -> core_pb2.Pod:
    """A pod bound to ``node`` and reported Running and Ready, as its kubelet would."""
    pod = b.pod(name, tolerations=tolerations or [])
    pod.spec.node_name = node
    created = await api.create(pod)
    running = clone(created)
    running.status.phase = "Running"
    running.status.conditions.add(type="Ready", status="True")
    result: core_pb2.Pod = await api.update_status(running)
    return result


def ready(node: core_pb2.Node) -> core_pb2.NodeCondition | None:
    return next((c for c in node.status.conditions if c.type == "Ready"), None)


def taints(node: core_pb2.Node) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in node.spec.taints}


async def events(api: GrpcClient, name: str, reason: str) -> list[str]:
    found = await api.list(core_pb2.Event, "default", field_selector=f"involvedObject.name={name}")
    return [e.message for e in found.items if e.reason == reason]


async def test_unrenewed_lease_makes_the_node_unknown_and_tainted_until_it_returns(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    await healthy_node(api, heartbeats, "node-2")
    await running_pod(api, "web", "node-1")
    await eventually(lambda: events(api, "node-1", "RegisteredNode"), what="RegisteredNode")
    heartbeats.alive.discard("node-1")
    stopped = time.monotonic()

    async def unknown() -> core_pb2.Node:
        node = await api.get(core_pb2.Node, "node-1")
        condition = ready(node)
        assert condition is not None and condition.status == "Unknown", condition
        assert (UNREACHABLE, "NoSchedule") in taints(node), taints(node)
        return node
    node = await eventually(unknown, timeout=DETECTION + MARGIN, interval=0.05, what="Unknown")
    assert time.monotonic() - stopped >= FAST.node_monitor_grace_period - 0.5
    condition = ready(node)
    assert condition is not None
    assert (condition.reason, condition.message) == \
        ("NodeStatusUnknown", "Kubelet stopped posting node status.")
    others = {c.type: (c.status, c.reason, c.message) for c in node.status.conditions}
    assert others["MemoryPressure"] == \
        ("Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status.")
    assert others["DiskPressure"][0] == others["PIDPressure"][0] == "Unknown"

    async def no_execute() -> core_pb2.Node:
        node = await api.get(core_pb2.Node, "node-1")
        assert (UNREACHABLE, "NoExecute") in taints(node), taints(node)
        return node
    node = await eventually(no_execute, timeout=DETECTION + MARGIN, what="NoExecute taint")
    assert all(t.time_added for t in node.spec.taints)
    assert ready(await api.get(core_pb2.Node, "node-2")).status == "True"  # type: ignore[union-attr]
    await eventually(lambda: events(api, "node-1", "NodeNotReady"), what="NodeNotReady event")
    assert await events(api, "node-1", "NodeNotReady") == ["Node node-1 status is now: NodeNotReady"]

    async def pod_not_ready() -> bool:
        pod = await api.get(core_pb2.Pod, "web")
        assert b.condition(pod, "Ready").status == "False"  # type: ignore[union-attr]
        return True
    await eventually(pod_not_ready, what="pod marked not ready")
    assert await eventually(lambda: events(api, "web", "NodeNotReady")) == ["Node is not ready"]

    # The kubelet comes back: lease renewed, Ready posted. Every taint goes.
    heartbeats.alive.add("node-1")
    await renew_lease(api, "node-1")
    await post_ready(api, "node-1")

    async def recovered() -> bool:
        node = await api.get(core_pb2.Node, "node-1")
        assert ready(node).status == "True"  # type: ignore[union-attr]
        assert not taints(node), taints(node)
        return True
    await eventually(recovered, timeout=DETECTION + MARGIN, what="taints removed")


async def test_toleration_seconds_decide_when_pods_are_evicted(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    await healthy_node(api, heartbeats, "node-2")
    unreachable = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    await running_pod(api, "short", "node-1", tolerations=[{**unreachable, "toleration_seconds": 40}])
    await running_pod(api, "default", "node-1")  # admission: 300 s
    await running_pod(api, "forever", "node-1", tolerations=[unreachable])
    await running_pod(api, "elsewhere", "node-2")
    defaulted = await api.get(core_pb2.Pod, "default")
    assert any(t.key == UNREACHABLE and t.toleration_seconds == 300
               for t in defaulted.spec.tolerations)
    heartbeats.alive.discard("node-1")

    async def tainted() -> float:
        node = await api.get(core_pb2.Node, "node-1")
        added = [t.time_added for t in node.spec.taints
                 if (t.key, t.effect) == (UNREACHABLE, "NoExecute")]
        assert added, taints(node)
        return parse_time(added[0])
    taint_time = await eventually(tainted, timeout=DETECTION + MARGIN, what="NoExecute taint")

    async def deleting(name: str) -> float:
        pod = await api.get(core_pb2.Pod, name)
        assert pod.metadata.deletion_timestamp, f"{name} not being deleted"
        return time.time()
    short_at = await eventually(lambda: deleting("short"), timeout=40 * FAST.scale + MARGIN)
    # 40 s scaled is 2 s; the taint's timeAdded has one-second precision.
    assert short_at - taint_time >= 40 * FAST.scale - 1.0
    pod = await api.get(core_pb2.Pod, "short")
    disruption = b.condition(pod, "DisruptionTarget")
    assert disruption is not None and (disruption.status, disruption.reason) == \
        ("True", "DeletionByTaintManager")
    assert await events(api, "short", "TaintManagerEviction") == \
        ["Marking for deletion Pod default/short"]
    # Its kubelet cannot confirm: the pod stays Terminating.
    assert pod.spec.node_name == "node-1"
    default_at = await eventually(lambda: deleting("default"), timeout=300 * FAST.scale + MARGIN)
    assert default_at - taint_time >= 300 * FAST.scale - 1.0
    for name in ("forever", "elsewhere"):
        assert not (await api.get(core_pb2.Pod, name)).metadata.deletion_timestamp


async def test_eviction_is_cancelled_when_the_node_comes_back_in_time(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    await healthy_node(api, heartbeats, "node-2")
    toleration = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                  "toleration_seconds": 160}  # 8 s in the fast profile
    await running_pod(api, "patient", "node-1", tolerations=[toleration])
    heartbeats.alive.discard("node-1")

    async def tainted() -> bool:
        node = await api.get(core_pb2.Node, "node-1")
        assert (UNREACHABLE, "NoExecute") in taints(node)
        return True
    await eventually(tainted, timeout=DETECTION + MARGIN, what="NoExecute taint")
    deadline = time.monotonic() + 160 * FAST.scale
    heartbeats.alive.add("node-1")
    await renew_lease(api, "node-1")
    await post_ready(api, "node-1")
    cancelled = await eventually(lambda: events(api, "patient", "TaintManagerEviction"),
                                 timeout=MARGIN, what="cancellation event")
    assert cancelled == ["Cancelling deletion of Pod default/patient"]

    async def past_deadline() -> bool:
        pod = await api.get(core_pb2.Pod, "patient")
        assert not pod.metadata.deletion_timestamp, "evicted although the node came back"
        return time.monotonic() > deadline + 1.0
    await eventually(past_deadline, timeout=160 * FAST.scale + MARGIN)


async def test_pods_of_a_deleted_node_are_garbage_collected(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    await healthy_node(api, heartbeats, "node-2")
    await running_pod(api, "doomed", "node-1")
    await running_pod(api, "survivor", "node-2")
    await eventually(lambda: events(api, "node-1", "RegisteredNode"), what="RegisteredNode")
    heartbeats.alive.discard("node-1")
    await api.delete(core_pb2.Node, "node-1")
    deleted_at = time.monotonic()

    async def gone() -> bool:
        try:
            await api.get(core_pb2.Pod, "doomed")
        except ApiError as exc:
            assert exc.code == Code.NOT_FOUND
            return True
        raise AssertionError("orphaned pod still there")
    await eventually(gone, timeout=FAST.pod_gc_quarantine + 2 * FAST.pod_gc_period + MARGIN)
    # Not before the quarantine: a node late to show up in the cache keeps its pods.
    assert time.monotonic() - deleted_at >= FAST.pod_gc_quarantine - 0.5
    assert not (await api.get(core_pb2.Pod, "survivor")).metadata.deletion_timestamp
    await eventually(lambda: events(api, "node-1", "RemovingNode"), what="RemovingNode")


async def test_node_that_never_posts_status_gets_the_startup_grace(api: GrpcClient) -> None:
    created = await api.create(b.node("silent"))
    born = parse_time(created.metadata.creation_timestamp)

    async def unknown() -> core_pb2.Node:
        node = await api.get(core_pb2.Node, "silent")
        condition = ready(node)
        assert condition is not None and condition.status == "Unknown"
        assert (UNREACHABLE, "NoSchedule") in taints(node)
        return node
    node = await eventually(unknown, timeout=FAST.node_startup_grace_period + MARGIN)
    condition = ready(node)
    assert condition is not None
    assert (condition.reason, condition.message) == \
        ("NodeStatusNeverUpdated", "Kubelet never posted node status.")
    assert parse_time(condition.last_transition_time) - born >= \
        FAST.node_startup_grace_period - 1.0


async def test_cordon_is_mirrored_as_a_taint(api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    node = await api.get(core_pb2.Node, "node-1")
    node.spec.unschedulable = True
    await api.update(node)

    async def has(expected: bool) -> bool:
        node = await api.get(core_pb2.Node, "node-1")
        assert (("node.kubernetes.io/unschedulable", "NoSchedule") in taints(node)) == expected
        return True
    await eventually(lambda: has(True), what="unschedulable taint")
    node = await api.get(core_pb2.Node, "node-1")
    node.spec.unschedulable = False
    await api.update(node)
    await eventually(lambda: has(False), what="unschedulable taint removed")


async def test_kubelet_reporting_not_ready_gets_not_ready_taints(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "node-1")
    await healthy_node(api, heartbeats, "node-2")
    await post_ready(api, "node-1", "False")

    async def tainted() -> bool:
        node = await api.get(core_pb2.Node, "node-1")
        assert {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")} <= taints(node), taints(node)
        assert ready(node).status == "False"  # type: ignore[union-attr]
        return True
    await eventually(tainted, timeout=DETECTION + MARGIN)
    await post_ready(api, "node-1", "True")

    async def clean() -> bool:
        assert not taints(await api.get(core_pb2.Node, "node-1"))
        return True
    await eventually(clean, timeout=DETECTION + MARGIN)


async def test_when_every_node_is_down_nothing_is_evicted(
        api: GrpcClient, heartbeats: Heartbeats) -> None:
    await healthy_node(api, heartbeats, "only")
    await running_pod(api, "web", "only", tolerations=[{
        "key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "toleration_seconds": 0}])
    heartbeats.alive.discard("only")

    async def unknown() -> bool:
        node = await api.get(core_pb2.Node, "only")
        assert ready(node).status == "Unknown"  # type: ignore[union-attr]
        assert (UNREACHABLE, "NoSchedule") in taints(node)
        return True
    await eventually(unknown, timeout=DETECTION + MARGIN)
    settle = time.monotonic() + 4 * FAST.node_monitor_period + FAST.node_eviction_interval + 1.0

    async def still_no_eviction() -> bool:
        node = await api.get(core_pb2.Node, "only")
        assert (UNREACHABLE, "NoExecute") not in taints(node), "master disruption mode ignored"
        assert not (await api.get(core_pb2.Pod, "web")).metadata.deletion_timestamp
        return time.monotonic() > settle
    await eventually(still_no_eviction, timeout=MARGIN + 5)


async def test_terminated_pods_beyond_the_threshold_are_collected_oldest_first(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers=CONTROLLERS,
                           extra_env={"KEMU_TERMINATED_POD_GC_THRESHOLD": "2"})
    cluster.start_control_plane()
    async with GrpcClient(cluster.address) as api:
        await b.create_node(api, b.node("node-1"))
        for name in ("done-a", "done-b", "done-c", "done-d"):
            pod = await running_pod(api, name, "node-1")
            finished = clone(pod)
            finished.status.phase = "Succeeded"
            await api.update_status(finished)
        await running_pod(api, "still-running", "node-1")

        async def collected() -> bool:
            names = {p.metadata.name for p in (await api.list(core_pb2.Pod, "default")).items}
            # Same creation second: the names break the tie.
            assert names == {"done-c", "done-d", "still-running"}, names
            return True
        await eventually(collected, timeout=2 * FAST.pod_gc_period + MARGIN)
