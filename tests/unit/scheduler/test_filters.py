"""Every Filter plugin, with its Kubernetes wording, on plain objects."""

from __future__ import annotations

import pytest

from controlplane.scheduler import filters
from controlplane.scheduler.framework import UNRESOLVABLE, UNSCHEDULABLE, PodContext
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_node, make_pod, node_info

pytestmark = pytest.mark.unit


def ctx(pod: core_pb2.Pod) -> PodContext:
    return PodContext.of(pod)


# -- NodeUnschedulable ----------------------------------------------------------------------
def test_cordoned_node_rejects_pods() -> None:
    status = filters.node_unschedulable(ctx(make_pod()), node_info(make_node(unschedulable=True)))
    assert status is not None
    assert status.code == UNRESOLVABLE
    assert status.reasons == ("node(s) were unschedulable",)


@pytest.mark.parametrize("toleration", [
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists"},
    {"operator": "Exists"},
])
def test_cordon_is_tolerated(toleration: dict[str, str]) -> None:
    pod = make_pod(tolerations=[toleration])
    assert filters.node_unschedulable(ctx(pod), node_info(make_node(unschedulable=True))) is None


def test_cordon_not_tolerated_by_other_effect() -> None:
    pod = make_pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                 "effect": "NoExecute"}])
    assert filters.node_unschedulable(ctx(pod), node_info(make_node(unschedulable=True)))


def test_uncordoned_node_accepts() -> None:
    assert filters.node_unschedulable(ctx(make_pod()), node_info(make_node())) is None


# -- TaintToleration ------------------------------------------------------------------------
def test_untolerated_noschedule_taint_names_the_first_one() -> None:
    node = make_node(taints=[("soft", "x", "PreferNoSchedule"), ("dedicated", "db", "NoSchedule"),
                             ("gpu", "", "NoExecute")])
    status = filters.taint_toleration(ctx(make_pod()), node_info(node))
    assert status is not None
    assert status.code == UNRESOLVABLE
    assert status.reasons == ("node(s) had untolerated taint {dedicated: db}",)


def test_noexecute_taint_must_be_tolerated_too() -> None:
    node = make_node(taints=[("node.kubernetes.io/unreachable", "", "NoExecute")])
    status = filters.taint_toleration(ctx(make_pod()), node_info(node))
    assert status is not None
    assert status.reasons == ("node(s) had untolerated taint {node.kubernetes.io/unreachable: }",)


def test_prefer_no_schedule_does_not_filter() -> None:
    node = make_node(taints=[("soft", "x", "PreferNoSchedule")])
    assert filters.taint_toleration(ctx(make_pod()), node_info(node)) is None


@pytest.mark.parametrize("toleration, tolerated", [
    ({"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "value": "db"}, True),
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),
    ({"key": "dedicated", "value": "web"}, False),
    ({"key": "dedicated", "value": "db", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
])
def test_toleration_matching(toleration: dict[str, str], tolerated: bool) -> None:
    node = make_node(taints=[("dedicated", "db", "NoSchedule")])
    status = filters.taint_toleration(ctx(make_pod(tolerations=[toleration])), node_info(node))
    assert (status is None) == tolerated


# -- NodeAffinity ---------------------------------------------------------------------------
def test_node_selector_must_match_all_labels() -> None:
    node = node_info(make_node(labels={"disk": "ssd", "zone": "a"}))
    assert filters.node_affinity(ctx(make_pod(node_selector={"disk": "ssd"})), node) is None
    status = filters.node_affinity(ctx(make_pod(node_selector={"disk": "ssd", "zone": "b"})), node)
    assert status is not None
    assert status.code == UNRESOLVABLE
    assert status.reasons == ("node(s) didn't match Pod's node affinity/selector",)


def test_required_affinity_and_node_selector_both_apply() -> None:
    pod = make_pod(node_selector={"disk": "ssd"})
    term = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms.add()
    term.match_expressions.add(key="zone", operator="In", values=["a"])
    assert filters.node_affinity(ctx(pod), node_info(make_node(labels={"disk": "ssd",
                                                                         "zone": "a"}))) is None
    assert filters.node_affinity(ctx(pod), node_info(make_node(labels={"zone": "a"})))
    assert filters.node_affinity(ctx(pod), node_info(make_node(labels={"disk": "ssd"})))


def test_no_affinity_accepts_every_node() -> None:
    assert filters.node_affinity(ctx(make_pod()), node_info(make_node())) is None


# -- NodePorts ------------------------------------------------------------------------------
def test_host_port_conflict() -> None:
    node = node_info(make_node(), [make_pod("old", host_ports=[8080], node_name="node-1")])
    status = filters.node_ports(ctx(make_pod(host_ports=[8080])), node)
    assert status is not None
    assert status.code == UNSCHEDULABLE
    assert status.reasons == ("node(s) didn't have free ports for the requested pod ports",)
    assert filters.node_ports(ctx(make_pod(host_ports=[8081])), node) is None


def test_host_port_addresses() -> None:
    node = node_info(make_node(), [make_pod("old", host_ports=[80], host_ip="10.0.0.1",
                                            node_name="node-1")])
    # Another address is free; the wildcard address conflicts with every address.
    assert filters.node_ports(ctx(make_pod(host_ports=[80], host_ip="10.0.0.2")), node) is None
    assert filters.node_ports(ctx(make_pod(host_ports=[80])), node)
    wildcard = node_info(make_node(), [make_pod("old", host_ports=[80], node_name="node-1")])
    assert filters.node_ports(ctx(make_pod(host_ports=[80], host_ip="10.0.0.2")), wildcard)


def test_other_protocol_does_not_conflict() -> None:
    udp = make_pod(host_ports=[53])
    udp.spec.containers[0].ports[0].protocol = "UDP"
    node = node_info(make_node(), [make_pod("old", host_ports=[53], node_name="node-1")])
    assert filters.node_ports(ctx(udp), node) is None


# -- NodeResourcesFit -----------------------------------------------------------------------
def test_requests_against_allocatable_minus_requested() -> None:
    node = node_info(make_node(cpu="2", memory="4Gi"),
                     [make_pod("old", cpu="1500m", memory="3Gi", node_name="node-1")])
    assert filters.node_resources_fit(ctx(make_pod(cpu="500m", memory="1Gi")), node) is None
    status = filters.node_resources_fit(ctx(make_pod(cpu="501m", memory="1025Mi")), node)
    assert status is not None
    assert status.code == UNSCHEDULABLE
    assert status.reasons == ("Insufficient cpu", "Insufficient memory")


def test_insufficient_memory_alone() -> None:
    node = node_info(make_node(memory="1Gi"))
    status = filters.node_resources_fit(ctx(make_pod(cpu="1", memory="2Gi")), node)
    assert status is not None and status.reasons == ("Insufficient memory",)


def test_init_container_request_counts() -> None:
    pod = make_pod(cpu="100m")
    init = pod.spec.init_containers.add(name="init")
    init.resources.requests["cpu"].value = "3"
    status = filters.node_resources_fit(ctx(pod), node_info(make_node(cpu="2")))
    assert status is not None and status.reasons == ("Insufficient cpu",)


def test_too_many_pods() -> None:
    node = node_info(make_node(pods="2"), [make_pod("a", node_name="node-1"),
                                           make_pod("b", node_name="node-1")])
    status = filters.node_resources_fit(ctx(make_pod()), node)
    assert status is not None and status.reasons == ("Too many pods",)
    status = filters.node_resources_fit(ctx(make_pod(cpu="8")), node)
    assert status is not None and status.reasons == ("Too many pods", "Insufficient cpu")


def test_node_without_pod_capacity_takes_no_pods() -> None:
    node = make_node()
    del node.status.allocatable["pods"]
    del node.status.capacity["pods"]
    status = filters.node_resources_fit(ctx(make_pod()), node_info(node))
    assert status is not None and status.reasons == ("Too many pods",)


def test_best_effort_pod_fits_a_full_node() -> None:
    node = node_info(make_node(cpu="1"), [make_pod("old", cpu="1", node_name="node-1")])
    assert filters.node_resources_fit(ctx(make_pod()), node) is None
    assert filters.node_resources_fit(ctx(make_pod(cpu="0")), node) is None


def test_extended_resource() -> None:
    pod = make_pod(extra={"example.com/gpu": "1"})
    status = filters.node_resources_fit(ctx(pod), node_info(make_node()))
    assert status is not None and status.reasons == ("Insufficient example.com/gpu",)
    node = node_info(make_node(extra={"example.com/gpu": "1"}))
    assert filters.node_resources_fit(ctx(pod), node) is None


# -- order: the first failing filter decides -------------------------------------------------
def test_first_failing_filter_is_reported() -> None:
    node = node_info(make_node(cpu="1", unschedulable=True, taints=[("a", "b", "NoSchedule")]))
    status = filters.run_filters(ctx(make_pod(cpu="2")), node)
    assert status is not None and status.plugin == "NodeUnschedulable"
    node.node.spec.unschedulable = False  # type: ignore[union-attr]
    status = filters.run_filters(ctx(make_pod(cpu="2")), node)
    assert status is not None and status.plugin == "TaintToleration"
    node.node.spec.ClearField("taints")  # type: ignore[union-attr]
    status = filters.run_filters(ctx(make_pod(cpu="2")), node)
    assert status is not None and status.plugin == "NodeResourcesFit"
    assert filters.run_filters(ctx(make_pod(cpu="1")), node) is None
