"""Every Score plugin and its normalization, with numbers worked out by hand from Kubernetes'
formulas."""

from __future__ import annotations

import math

import pytest

from controlplane.scheduler import scores
from controlplane.scheduler.cache import NodeInfo
from controlplane.scheduler.framework import PodContext
from controlplane.scheduler.scores import SpreadInput
from kemu.api.labels import Operator, Requirement, Selector
from tests.unit.scheduler.objects import make_node, make_pod, node_info

WEB = Selector((Requirement("app", Operator.EQUALS, ("web",)),))


def spread(nodes: list[NodeInfo], per_node: dict[str, int], count: int = 2) -> SpreadInput:
    return SpreadInput(nodes, [per_node] * count)

pytestmark = pytest.mark.unit


def test_default_normalize() -> None:
    assert scores.default_normalize([15, 5, 0], reverse=False) == [100, 33, 0]
    assert scores.default_normalize([2, 1, 0], reverse=True) == [0, 50, 100]
    assert scores.default_normalize([0, 0], reverse=True) == [100, 100]
    assert scores.default_normalize([0, 0], reverse=False) == [0, 0]


def test_least_allocated_prefers_the_emptier_node() -> None:
    busy = node_info(make_node("busy", cpu="4", memory="8Gi"),
                     [make_pod("old", cpu="1", memory="2Gi", node_name="busy")])
    empty = node_info(make_node("empty", cpu="4", memory="8Gi"))
    ctx = PodContext.of(make_pod(cpu="1", memory="2Gi"))
    # busy: cpu (4000-2000)*100/4000 = 50, memory 50; empty: 75 and 75.
    assert scores.least_allocated(ctx, [busy, empty]) == [50, 75]


def test_least_allocated_counts_best_effort_pods_as_defaults() -> None:
    node = node_info(make_node(cpu="1", memory="1000Mi"),
                     [make_pod("old", node_name="node-1")])
    ctx = PodContext.of(make_pod())
    # cpu: 100m + 100m of 1000m -> 80; memory: 200Mi + 200Mi of 1000Mi -> 60; mean 70.
    assert scores.least_allocated(ctx, [node]) == [70]


def test_least_allocated_overcommitted_resource_scores_zero() -> None:
    node = node_info(make_node(cpu="1", memory="8Gi"))
    ctx = PodContext.of(make_pod(cpu="2", memory="4Gi"))
    assert scores.least_allocated(ctx, [node]) == [(0 + 50) // 2]


def test_balanced_allocation() -> None:
    node = node_info(make_node(cpu="4", memory="8Gi"),
                     [make_pod("old", cpu="1", memory="1Gi", node_name="node-1")])
    ctx = PodContext.of(make_pod(cpu="1", memory="1Gi"))
    # cpu 2/4 = 0.5, memory 2/8 = 0.25: deviation 0.125, score int(87.5) = 87.
    assert scores.balanced_allocation(ctx, [node]) == [87]
    even = node_info(make_node(cpu="4", memory="4Gi"))
    assert scores.balanced_allocation(PodContext.of(make_pod(cpu="1", memory="1Gi")), [even]) == \
        [100]


def test_preferred_node_affinity_scores_by_weight() -> None:
    pod = make_pod()
    preferred = pod.spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution
    first = preferred.add(weight=5).preference
    first.match_expressions.add(key="disk", operator="In", values=["ssd"])
    second = preferred.add(weight=10).preference
    second.match_expressions.add(key="zone", operator="In", values=["a"])
    nodes = [node_info(make_node("both", labels={"disk": "ssd", "zone": "a"})),
             node_info(make_node("ssd", labels={"disk": "ssd"})),
             node_info(make_node("none"))]
    assert scores.node_affinity(PodContext.of(pod), nodes) == [100, 33, 0]


def test_node_affinity_skips_pods_without_preferences() -> None:
    assert scores.node_affinity(PodContext.of(make_pod()), [node_info(make_node())]) is None


def test_prefer_no_schedule_taints_lower_the_score() -> None:
    nodes = [node_info(make_node("two", taints=[("a", "1", "PreferNoSchedule"),
                                                ("b", "1", "PreferNoSchedule")])),
             node_info(make_node("one", taints=[("a", "1", "PreferNoSchedule"),
                                                ("c", "1", "NoSchedule")])),
             node_info(make_node("none"))]
    assert scores.taint_toleration(PodContext.of(make_pod()), nodes) == [0, 50, 100]
    tolerant = make_pod(tolerations=[{"key": "a", "operator": "Exists",
                                      "effect": "PreferNoSchedule"}])
    assert scores.taint_toleration(PodContext.of(tolerant), nodes) == [0, 100, 100]
    # A toleration for another effect does not count.
    other = make_pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoSchedule"}])
    assert scores.taint_toleration(PodContext.of(other), nodes) == [0, 50, 100]


def test_spreading_over_hostnames() -> None:
    nodes = [node_info(make_node(n)) for n in ("n1", "n2", "n3")]
    ctx = PodContext.of(make_pod(), WEB)
    # weight ln(3 + 2); raw: 2w+2 = 5.2 -> 5, w+2 = 3.6 -> 4, 2; normalized 100*(7-s)/5.
    assert scores.topology_spread(ctx, nodes, spread(nodes, {"n1": 2, "n2": 1})) == [40, 60, 100]


def test_spreading_over_zones_and_hostnames() -> None:
    nodes = [node_info(make_node("n1", labels={"topology.kubernetes.io/zone": "a"})),
             node_info(make_node("n2", labels={"topology.kubernetes.io/zone": "a"})),
             node_info(make_node("n3", labels={"topology.kubernetes.io/zone": "b"}))]
    counts = spread(nodes, {"n1": 2, "n2": 1})
    host, zone = math.log(5), math.log(4)
    raw = [round(2 * host + 2 + 3 * zone + 4), round(host + 2 + 3 * zone + 4), 2 + 4]
    assert raw == [13, 12, 6]
    expected = [100 * (13 + 6 - s) // 13 for s in raw]
    assert scores.topology_spread(PodContext.of(make_pod(), WEB), nodes, counts) == expected


def test_spreading_counts_zones_only_on_nodes_the_pod_may_use() -> None:
    linux = {"kubernetes.io/os": "linux"}
    nodes = [node_info(make_node("n1", labels={"topology.kubernetes.io/zone": "a", **linux})),
             node_info(make_node("n2", labels={"topology.kubernetes.io/zone": "b", **linux}))]
    other = node_info(make_node("n3", labels={"topology.kubernetes.io/zone": "b", "gpu": "1"}))
    pod = make_pod(node_selector=linux)
    # n3's pods do not count for zone b: the pod could not go to n3.
    assert scores.topology_spread(PodContext.of(pod, WEB), nodes,
                                  spread([*nodes, other], {"n3": 5})) == [100, 100]


def test_no_spreading_without_a_selector() -> None:
    nodes = [node_info(make_node())]
    assert scores.topology_spread(PodContext.of(make_pod()), nodes, spread(nodes, {})) is None


def test_own_soft_constraints_replace_the_defaults_and_ignore_unlabelled_nodes() -> None:
    pod = make_pod(labels={"app": "web"})
    constraint = pod.spec.topology_spread_constraints.add(
        max_skew=1, topology_key="rack", when_unsatisfiable="ScheduleAnyway")
    constraint.label_selector.match_labels["app"] = "web"
    ctx = PodContext.of(pod, WEB)
    assert [c.topology_key for c in ctx.soft_spread] == ["rack"] and ctx.own_spread
    nodes = [node_info(make_node("r1a", labels={"rack": "1"})),
             node_info(make_node("r1b", labels={"rack": "1"})),
             node_info(make_node("r2", labels={"rack": "2"})),
             node_info(make_node("loose"))]
    # rack 1 holds 2 matching pods, rack 2 none; weight ln(2 + 2), max skew 1 adds 0.
    result = scores.topology_spread(ctx, nodes, SpreadInput(nodes, [{"r1a": 2}]))
    raw = round(2 * math.log(4))
    assert result == [100 * (raw + 0 - raw) // raw] * 2 + [100, 0]


def test_weights_combine() -> None:
    nodes = [node_info(make_node("tainted", taints=[("a", "1", "PreferNoSchedule")])),
             node_info(make_node("clean"))]
    totals = scores.total_scores(PodContext.of(make_pod()), nodes, None)
    # Identical resources; TaintToleration (weight 3) decides: 0 vs 100.
    assert totals[1] - totals[0] == 300
