"""The FailedScheduling text, exactly as kube-scheduler v1.32 writes it."""

from __future__ import annotations

import pytest

from controlplane.scheduler.algorithm import Algorithm
from controlplane.scheduler.cache import SchedulerCache
from controlplane.scheduler.diagnosis import failure_message
from controlplane.scheduler.framework import PodContext
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_node, make_pod

pytestmark = pytest.mark.unit


def message_for(pod: core_pb2.Pod, *nodes: core_pb2.Node,
                running: tuple[core_pb2.Pod, ...] = ()) -> str:
    cache = SchedulerCache()
    for node in nodes:
        cache.set_node(node)
    for p in running:
        cache.upsert_pod(p)
    ctx = PodContext.of(pod)
    result = Algorithm(cache).schedule(ctx)
    assert result.node_name is None
    return failure_message(ctx, result.diagnosis)


def three(**kwargs: object) -> list[core_pb2.Node]:
    return [make_node(f"node-{i}", **kwargs) for i in (1, 2, 3)]  # type: ignore[arg-type]


def test_node_selector_mismatch() -> None:
    assert message_for(make_pod(node_selector={"disk": "ssd"}), *three()) == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_untolerated_taint() -> None:
    nodes = three(taints=[("dedicated", "db", "NoSchedule")])
    assert message_for(make_pod(), *nodes) == (
        "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: db}. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_cordoned() -> None:
    assert message_for(make_pod(), make_node(unschedulable=True)) == (
        "0/1 nodes are available: 1 node(s) were unschedulable. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")


def test_insufficient_cpu_and_memory() -> None:
    assert message_for(make_pod(cpu="8", memory="16Gi"), *three()) == (
        "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")


def test_too_many_pods() -> None:
    node = make_node(pods="1")
    running = (make_pod("old", node_name="node-1"),)
    assert message_for(make_pod(), node, running=running) == (
        "0/1 nodes are available: 1 Too many pods. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_host_ports() -> None:
    running = (make_pod("old", host_ports=[80], node_name="node-1"),)
    assert message_for(make_pod(host_ports=[80]), make_node(), running=running) == (
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_mixed_reasons_are_counted_and_sorted_as_strings() -> None:
    nodes = [make_node("tainted", taints=[("gpu", "true", "NoSchedule")]),
             make_node("cordoned", unschedulable=True),
             make_node("small-1", cpu="1"), make_node("small-2", cpu="1")]
    assert message_for(make_pod(cpu="2"), *nodes) == (
        "0/4 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
        "1 node(s) were unschedulable, 2 Insufficient cpu. "
        "preemption: 0/4 nodes are available: 2 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")


def test_preemption_policy_never() -> None:
    pod = make_pod(cpu="8")
    pod.spec.preemption_policy = "Never"
    assert message_for(pod, make_node()) == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: not eligible due to preemptionPolicy=Never.")


def test_pinned_to_a_node_that_does_not_fit() -> None:
    pod = make_pod(cpu="8")
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=["node-2"])
    assert message_for(pod, *three()) == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")


def test_conflicting_pins() -> None:
    pod = make_pod()
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=["node-1"])
    term.match_fields.add(key="metadata.name", operator="In", values=["node-2"])
    assert message_for(pod, *three()) == (
        "0/3 nodes are available: pod affinity terms conflict. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_no_nodes() -> None:
    result = Algorithm(SchedulerCache()).schedule(PodContext.of(make_pod()))
    assert result.node_name is None and result.no_nodes
