"""One scheduling attempt end to end over the cache: feasibility, choice, spreading, rotation."""

from __future__ import annotations

import collections
import random

import pytest

from controlplane.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from controlplane.scheduler.cache import SchedulerCache
from controlplane.scheduler.framework import PodContext
from controlplane.scheduler.scores import SpreadInput
from controlplane.scheduler.spreading import SelectorCounts
from kemu.api.labels import Operator, Requirement, Selector
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

    def spread(ctx: PodContext) -> SpreadInput | None:
        return SpreadInput(cache.node_list(), counts.counts("default", selector))

    algorithm = Algorithm(cache, spread)
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
