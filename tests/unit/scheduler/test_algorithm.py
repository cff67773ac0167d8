"""One scheduling attempt end to end over the cache: feasibility, choice, spreading, rotation."""

from __future__ import annotations

import collections
import random

import pytest

from controlplane.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from controlplane.scheduler.cache import SchedulerCache
from controlplane.scheduler.diagnosis import failure_message
from controlplane.scheduler.framework import PodContext
from controlplane.scheduler.spreading import SelectorCounts
from kemu.api.labels import Operator, Requirement, Selector
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_node, make_pod

pytestmark = pytest.mark.unit


def test_feasible_node_is_chosen() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("small", cpu="1"))
    cache.set_node(make_node("big", cpu="8"))
    result = Algorithm(cache).schedule(PodContext.of(make_pod(cpu="2")))
    assert result.node_name == "big"
    assert set(result.diagnosis.statuses) == {"small"}


def test_ties_are_broken_at_random() -> None:
    cache = SchedulerCache()
    for name in ("a", "b", "c"):
        cache.set_node(make_node(name))
    algorithm = Algorithm(cache, rng=random.Random(7))
    chosen = {algorithm.schedule(PodContext.of(make_pod())).node_name for _ in range(60)}
    assert chosen == {"a", "b", "c"}


def test_burst_with_assumed_pods_never_overcommits_and_spreads() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache)
    selector = Selector((Requirement("app", Operator.EQUALS, ("web",)),))
    for i in range(5):
        cache.set_node(make_node(f"node-{i}", cpu="2"))

    algorithm = Algorithm(cache, counts.counts)
    placed: collections.Counter[str] = collections.Counter()
    for i in range(25):
        pod = make_pod(f"web-{i}", cpu="500m", labels={"app": "web"})
        result = algorithm.schedule(PodContext.of(pod, selector))
        if result.node_name is None:
            continue
        cache.assume(pod, result.node_name)
        placed[result.node_name] += 1
    assert sum(placed.values()) == 20, "5 nodes x 4 pods of 500m"
    assert set(placed.values()) == {4}


def test_filtering_rotates_through_large_clusters() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(500) == 230
    assert num_feasible_nodes_to_find(5000) == 500
    assert num_feasible_nodes_to_find(10000) == 500
    cache = SchedulerCache()
    for i in range(200):
        cache.set_node(make_node(f"n{i:03}"))
    algorithm = Algorithm(cache)
    algorithm.schedule(PodContext.of(make_pod()))
    assert algorithm.next_start == 100
    algorithm.schedule(PodContext.of(make_pod()))
    assert algorithm.next_start == 0


def spread_pod(name: str, key: str = "kubernetes.io/hostname", skew: int = 1,
               when: str = "DoNotSchedule") -> core_pb2.Pod:
    pod = make_pod(name, labels={"app": "web"})
    constraint = pod.spec.topology_spread_constraints.add(max_skew=skew, topology_key=key,
                                                          when_unsatisfiable=when)
    constraint.label_selector.match_labels["app"] = "web"
    return pod


def test_do_not_schedule_constraint_filters_skewed_nodes() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache)
    for name in ("n1", "n2", "n3"):
        cache.set_node(make_node(name))
    for i, node in enumerate(("n1", "n1", "n2", "n3")):
        cache.assume(make_pod(f"old-{i}", labels={"app": "web"}), node)
    cache.assume(make_pod("other", labels={"app": "db"}), "n2")
    algorithm = Algorithm(cache, counts.counts)
    result = algorithm.schedule(PodContext.of(spread_pod("new")))
    assert result.node_name in ("n2", "n3")
    assert {n: s.reasons for n, s in result.diagnosis.statuses.items()} == \
        {"n1": ("node(s) didn't match pod topology spread constraints",)}


def test_spread_constraint_failures_are_worded_like_kubernetes() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache)
    cache.set_node(make_node("a1", labels={"zone": "a"}))
    cache.set_node(make_node("b1", labels={"zone": "b"}, taints=[("k", "v", "NoSchedule")]))
    cache.set_node(make_node("nolabel"))
    cache.assume(make_pod("x", labels={"app": "web"}), "a1")
    ctx = PodContext.of(spread_pod("new", key="zone", skew=1))
    result = Algorithm(cache, counts.counts).schedule(ctx)
    assert result.node_name is None
    assert failure_message(ctx, result.diagnosis) == (
        "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
        "1 node(s) didn't match pod topology spread constraints (missing required label), "
        "1 node(s) had untolerated taint {k: v}. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")


def test_spread_domains_count_only_nodes_the_pod_may_use() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache)
    cache.set_node(make_node("a1", labels={"zone": "a"}))
    cache.set_node(make_node("b1", labels={"zone": "b"}))
    cache.assume(make_pod("x", labels={"app": "web"}), "a1")
    pod = spread_pod("new", key="zone", skew=1)
    pod.spec.node_selector["zone"] = "a"
    # Only zone a is eligible, so its count is also the minimum: no skew.
    result = Algorithm(cache, counts.counts).schedule(PodContext.of(pod))
    assert result.node_name == "a1"
