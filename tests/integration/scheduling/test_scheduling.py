"""The scheduler against a real control plane: binding through each filter, Kubernetes' exact
FailedScheduling text and PodScheduled condition, retries on cluster changes, spreading, and a
burst that must not overcommit a node."""

from __future__ import annotations

import asyncio
import collections

import pytest

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2
from tests.integration.scheduling import builders as b
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


async def bound_to(api: GrpcClient, name: str, namespace: str = "default") -> str:
    async def check() -> str:
        pod = await api.get(core_pb2.Pod, name, namespace)
        assert pod.spec.node_name, f"{name} not bound yet"
        return pod.spec.node_name
    node: str = await eventually(check, timeout=30, what=f"{name} bound")
    return node


async def unschedulable(api: GrpcClient, name: str, message: str) -> core_pb2.Pod:
    """Waits for PodScheduled=False with ``message`` and a FailedScheduling event saying it."""
    async def check() -> core_pb2.Pod:
        pod = await api.get(core_pb2.Pod, name)
        condition = b.condition(pod, "PodScheduled")
        assert condition is not None, "no PodScheduled condition yet"
        assert (condition.status, condition.reason, condition.message) == \
            ("False", "Unschedulable", message)
        return pod
    pod: core_pb2.Pod = await eventually(check, timeout=30, what=f"{name} unschedulable")
    assert not pod.spec.node_name and pod.status.phase in ("", "Pending")
    await eventually(lambda: event_with(api, name, "FailedScheduling", message), timeout=30,
                     what="FailedScheduling event")
    return pod


async def event_with(api: GrpcClient, name: str, reason: str, message: str) -> bool:
    events = await api.list(core_pb2.Event, "default",
                            field_selector=f"involvedObject.name={name}")
    found = [(e.reason, e.message, e.type) for e in events.items]
    assert any(r == reason and m == message for r, m, _ in found), found
    return True


def failure(reasons: str, preemption: str) -> str:
    return f"0/{reasons} preemption: 0/{preemption}"


async def test_binds_and_records_scheduled(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1"))
    await api.create(b.pod("web-abc12", cpu="100m"))
    assert await bound_to(api, "web-abc12") == "node-1"
    pod = await api.get(core_pb2.Pod, "web-abc12")
    condition = b.condition(pod, "PodScheduled")
    assert condition is not None and condition.status == "True"
    await eventually(lambda: event_with(api, "web-abc12", "Scheduled",
                                        "Successfully assigned default/web-abc12 to node-1"),
                     what="Scheduled event")


async def test_no_nodes_then_a_node_is_added(api: GrpcClient) -> None:
    await api.create(b.pod("early"))
    await unschedulable(api, "early", "no nodes available to schedule pods")
    await b.create_node(api, b.node("node-1"))
    assert await bound_to(api, "early") == "node-1"


async def test_node_selector(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", labels={"disk": "ssd"}))
    await b.create_node(api, b.node("node-2"))
    await b.create_node(api, b.node("node-3"))
    await api.create(b.pod("fast", node_selector={"disk": "ssd"}))
    assert await bound_to(api, "fast") == "node-1"
    await api.create(b.pod("faster", node_selector={"disk": "nvme"}))
    await unschedulable(api, "faster", failure(
        "3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
        f"3 nodes are available: 3 {NOT_HELPFUL}."))
    # Relabelling a node lets the waiting pod through.
    node = await api.get(core_pb2.Node, "node-3")
    node.metadata.labels["disk"] = "nvme"
    await api.update(node)
    assert await bound_to(api, "faster") == "node-3"


async def test_required_node_affinity_and_daemonset_style_pinning(api: GrpcClient) -> None:
    for i in (1, 2, 3):
        await b.create_node(api, b.node(f"node-{i}", labels={"zone": "a" if i < 3 else "b"}))
    pod = b.pod("zoned")
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_expressions.add(key="zone", operator="NotIn", values=["a"])
    await api.create(pod)
    assert await bound_to(api, "zoned") == "node-3"
    pinned = b.pod("pinned")
    term = pinned.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=["node-2"])
    await api.create(pinned)
    assert await bound_to(api, "pinned") == "node-2"


async def test_taints_and_tolerations(api: GrpcClient) -> None:
    for i in (1, 2):
        await b.create_node(api, b.node(f"node-{i}", taints=[("dedicated", "db", "NoSchedule")]))
    await api.create(b.pod("db", tolerations=[{"key": "dedicated", "operator": "Equal",
                                                "value": "db", "effect": "NoSchedule"}]))
    assert await bound_to(api, "db") in ("node-1", "node-2")
    await api.create(b.pod("web"))
    await unschedulable(api, "web", failure(
        "2 nodes are available: 2 node(s) had untolerated taint {dedicated: db}.",
        f"2 nodes are available: 2 {NOT_HELPFUL}."))
    node = await api.get(core_pb2.Node, "node-2")
    del node.spec.taints[:]
    await api.update(node)
    assert await bound_to(api, "web") == "node-2"


async def test_cordoned_node_then_uncordoned(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", unschedulable=True))
    await api.create(b.pod("web"))
    await unschedulable(api, "web", failure(
        "1 nodes are available: 1 node(s) were unschedulable.",
        f"1 nodes are available: 1 {NOT_HELPFUL}."))
    node = await api.get(core_pb2.Node, "node-1")
    node.spec.unschedulable = False
    await api.update(node)
    assert await bound_to(api, "web") == "node-1"


async def test_insufficient_cpu_and_memory(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", cpu="1", memory="1Gi"))
    await b.create_node(api, b.node("node-2", cpu="2", memory="512Mi"))
    await api.create(b.pod("cpu-hungry", cpu="1500m", memory="256Mi"))
    assert await bound_to(api, "cpu-hungry") == "node-2"
    await api.create(b.pod("both", cpu="1500m", memory="768Mi"))
    await unschedulable(api, "both", failure(
        "2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.",
        f"2 nodes are available: 2 {NO_VICTIMS}."))
    await api.create(b.pod("init-heavy", cpu="100m", init_cpu="3"))
    await unschedulable(api, "init-heavy", failure(
        "2 nodes are available: 2 Insufficient cpu.",
        f"2 nodes are available: 2 {NO_VICTIMS}."))
    # Deleting the pod on node-2 frees its CPU; the waiting pod that fits there moves in.
    await api.delete(core_pb2.Pod, "cpu-hungry", grace_period_seconds=0)
    await api.delete(core_pb2.Pod, "init-heavy")
    await api.create(b.pod("after", cpu="1500m", memory="256Mi"))
    assert await bound_to(api, "after") == "node-2"


async def test_too_many_pods(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", pods="2"))
    for name in ("a", "b"):
        await api.create(b.pod(name))
        await bound_to(api, name)
    await api.create(b.pod("c"))
    await unschedulable(api, "c", failure(
        "1 nodes are available: 1 Too many pods.", f"1 nodes are available: 1 {NO_VICTIMS}."))


async def test_host_port_conflict(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1"))
    await api.create(b.pod("first", host_port=8080))
    await bound_to(api, "first")
    await api.create(b.pod("second", host_port=8080))
    await unschedulable(api, "second", failure(
        "1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
        f"1 nodes are available: 1 {NO_VICTIMS}."))
    await b.create_node(api, b.node("node-2"))
    assert await bound_to(api, "second") == "node-2"


async def test_mixed_reasons_across_nodes(api: GrpcClient) -> None:
    await b.create_node(api, b.node("tainted", taints=[("gpu", "true", "NoSchedule")]))
    await b.create_node(api, b.node("cordoned", unschedulable=True))
    await b.create_node(api, b.node("elsewhere", labels={"disk": "hdd"}))
    await b.create_node(api, b.node("small-1", cpu="500m", labels={"disk": "ssd"}))
    await b.create_node(api, b.node("small-2", cpu="500m", labels={"disk": "ssd"}))
    await api.create(b.pod("picky", cpu="1", node_selector={"disk": "ssd"}))
    await unschedulable(api, "picky", failure(
        "5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {gpu: true}, 1 node(s) were unschedulable, "
        "2 Insufficient cpu.",
        f"5 nodes are available: 2 {NO_VICTIMS}, 3 {NOT_HELPFUL}."))


async def failed_scheduling_count(api: GrpcClient, name: str) -> int:
    events = await api.list(core_pb2.Event, "default", field_selector=f"involvedObject.name={name}")
    return sum(e.count for e in events.items if e.reason == "FailedScheduling")


async def test_retries_on_cluster_events_without_rewriting_an_unchanged_status(
        api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", cpu="1"))
    await api.create(b.pod("big", cpu="2"))
    message = failure("1 nodes are available: 1 Insufficient cpu.",
                      f"1 nodes are available: 1 {NO_VICTIMS}.")
    pod = await unschedulable(api, "big", message)
    await eventually(lambda: failed_scheduling_count(api, "big"))
    for round_ in (1, 2):
        # A relevant node change retries the pod; the verdict stays the same.
        node = await api.get(core_pb2.Node, "node-1")
        node.metadata.labels["round"] = str(round_)
        await api.update(node)

        async def retried(expected: int = round_ + 1) -> bool:
            count = await failed_scheduling_count(api, "big")
            assert count >= expected, count
            return True
        await eventually(retried, what=f"retry {round_}")
    again = await api.get(core_pb2.Pod, "big")
    assert again.metadata.resource_version == pod.metadata.resource_version
    # A new node changes the verdict, and so the condition.
    await b.create_node(api, b.node("node-2", cpu="1", unschedulable=True))
    await unschedulable(api, "big", failure(
        "2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.",
        f"2 nodes are available: 1 {NO_VICTIMS}, 1 {NOT_HELPFUL}."))


async def test_pods_of_one_owner_spread_over_nodes(api: GrpcClient) -> None:
    # LeastAllocated alone would put every pod on the big node; spreading evens them out.
    await b.create_node(api, b.node("big", cpu="64", memory="256Gi"))
    await b.create_node(api, b.node("small", cpu="2", memory="4Gi"))
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "web-6d4cf56db6"
    rs.spec.replicas = 0
    rs.spec.selector.match_labels.update({"app": "web", "pod-template-hash": "6d4cf56db6"})
    rs.spec.template.metadata.labels.update(rs.spec.selector.match_labels)
    rs.spec.template.spec.containers.add(name="main", image="registry.k8s.io/pause:3.9")
    rs = await api.create(rs)
    for i in range(4):
        pod = b.pod(f"web-6d4cf56db6-{i}", labels=dict(rs.spec.selector.match_labels))
        pod.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet",
                                          name=rs.metadata.name, uid=rs.metadata.uid,
                                          controller=True, block_owner_deletion=True)
        await api.create(pod)
        await bound_to(api, pod.metadata.name)
    for i in range(4):
        await api.create(b.pod(f"loner-{i}"))
        assert await bound_to(api, f"loner-{i}") == "big"
    placed = collections.Counter([await bound_to(api, f"web-6d4cf56db6-{i}") for i in range(4)])
    assert placed == {"big": 2, "small": 2}


async def test_topology_spread_constraints(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", labels={"zone": "a"}))
    await b.create_node(api, b.node("node-2", labels={"zone": "b"}))
    await b.create_node(api, b.node("node-3"))

    def spread_pod(name: str) -> core_pb2.Pod:
        pod = b.pod(name, labels={"app": "web"})
        constraint = pod.spec.topology_spread_constraints.add(
            max_skew=1, topology_key="zone", when_unsatisfiable="DoNotSchedule")
        constraint.label_selector.match_labels["app"] = "web"
        return pod

    for i in range(4):
        await api.create(spread_pod(f"web-{i}"))
        await bound_to(api, f"web-{i}")
    placed = collections.Counter([await bound_to(api, f"web-{i}") for i in range(4)])
    assert placed == {"node-1": 2, "node-2": 2}, "node-3 has no zone label"
    node = await api.get(core_pb2.Node, "node-2")
    node.spec.unschedulable = True
    await api.update(node)
    await api.create(spread_pod("web-4"))
    assert await bound_to(api, "web-4") == "node-1"
    await api.create(spread_pod("web-5"))
    await unschedulable(api, "web-5", failure(
        "3 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
        "1 node(s) didn't match pod topology spread constraints (missing required label), "
        "1 node(s) were unschedulable.",
        f"3 nodes are available: 1 {NO_VICTIMS}, 2 {NOT_HELPFUL}."))
    node = await api.get(core_pb2.Node, "node-2")
    node.spec.unschedulable = False
    await api.update(node)
    assert await bound_to(api, "web-5") == "node-2"


async def test_burst_of_100_pods_respects_capacity(api: GrpcClient) -> None:
    for i in range(5):
        await b.create_node(api, b.node(f"node-{i}", cpu="2", memory="8Gi"))
    limit = asyncio.Semaphore(20)

    async def create(i: int) -> None:
        async with limit:
            await api.create(b.pod(f"burst-{i:03}", cpu="150m", labels={"app": "burst"}))

    await asyncio.gather(*(create(i) for i in range(100)))

    async def settled() -> list[core_pb2.Pod]:
        pods = (await api.list(core_pb2.Pod, "default")).items
        waiting = [p for p in pods if not p.spec.node_name and
                   not (b.condition(p, "PodScheduled") and
                        b.condition(p, "PodScheduled").status == "False")]  # type: ignore[union-attr]
        assert not waiting, f"{len(waiting)} pods not yet tried"
        assert sum(1 for p in pods if p.spec.node_name) == 65
        return pods
    pods = await eventually(settled, timeout=60, what="burst settled")
    per_node = collections.Counter(p.spec.node_name for p in pods if p.spec.node_name)
    # 13 x 150m = 1950m fits in 2 CPUs, a 14th would not.
    assert per_node == {f"node-{i}": 13 for i in range(5)}
    left = [p for p in pods if not p.spec.node_name]
    assert len(left) == 35
    condition = b.condition(left[0], "PodScheduled")
    assert condition is not None and condition.message == failure(
        "5 nodes are available: 5 Insufficient cpu.", f"5 nodes are available: 5 {NO_VICTIMS}.")


async def test_pods_for_other_schedulers_are_left_alone(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1"))
    other = b.pod("custom")
    other.spec.scheduler_name = "my-scheduler"
    await api.create(other)
    await api.create(b.pod("ours"))
    await bound_to(api, "ours")
    pod = await api.get(core_pb2.Pod, "custom")
    assert not pod.spec.node_name and b.condition(pod, "PodScheduled") is None


async def test_pods_bound_by_others_count_against_their_node(api: GrpcClient) -> None:
    await b.create_node(api, b.node("node-1", cpu="1"))
    manual = b.pod("manual", cpu="800m")
    manual.spec.node_name = "node-1"
    await api.create(manual)
    await api.create(b.pod("later", cpu="500m"))
    await unschedulable(api, "later", failure(
        "1 nodes are available: 1 Insufficient cpu.", f"1 nodes are available: 1 {NO_VICTIMS}."))
    # Binding an already bound pod is a conflict: the API keeps the first binding.
    with pytest.raises(ApiError) as conflict:
        await api.bind("default", "manual", "node-2")
    assert conflict.value.reason == "Conflict"
    # The pod finishing frees the node.
    finished = clone(await api.get(core_pb2.Pod, "manual"))
    finished.status.phase = "Succeeded"
    await api.update_status(finished)
    assert await bound_to(api, "later") == "node-1"
