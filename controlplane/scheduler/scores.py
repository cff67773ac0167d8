"""The default Score plugins and their weights. Each returns one normalized score (0-100) per
feasible node, or None when it has nothing to say about this pod (kube-scheduler's Skip); the
scheduler adds the scores up, weighted, and takes the best node.

| plugin                          | weight | prefers                                           |
| NodeResourcesFit (LeastAllocated) | 1    | nodes with the most CPU and memory left           |
| NodeResourcesBalancedAllocation | 1      | nodes whose CPU and memory use stay in proportion |
| NodeAffinity                    | 2      | nodes matching more preferred terms (by weight)   |
| TaintToleration                 | 3      | nodes with fewer untolerated PreferNoSchedule taints |
| PodTopologySpread               | 2      | nodes and zones with fewer pods of the workload   |
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from controlplane.scheduler.cache import NodeInfo
from controlplane.scheduler.framework import PodContext
from controlplane.scheduler.spreading import HOSTNAME_LABEL, has_topology_keys
from kemu.api import taints

MAX_NODE_SCORE = 100

SpreadCounts = Callable[[PodContext], Mapping[str, int] | None]


def default_normalize(scores: list[int], reverse: bool) -> list[int]:
    """helper.DefaultNormalizeScore: scale to 0-100 by the highest score (reversed: 100 - that)."""
    highest = max(scores, default=0)
    if highest == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else scores
    out = []
    for score in scores:
        scaled = MAX_NODE_SCORE * score // highest
        out.append(MAX_NODE_SCORE - scaled if reverse else scaled)
    return out


# -- NodeResourcesFit (LeastAllocated) and NodeResourcesBalancedAllocation ---------------------
def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(ctx: PodContext, nodes: Sequence[NodeInfo]) -> list[int] | None:
    """Counts a container without requests as 100m CPU and 200Mi memory, as Kubernetes does."""
    out = []
    for info in nodes:
        total = weights = 0
        for capacity, requested in (
                (info.allocatable.milli_cpu, info.non_zero_cpu + ctx.non_zero_cpu),
                (info.allocatable.memory, info.non_zero_memory + ctx.non_zero_memory)):
            if capacity == 0:
                continue
            total += least_requested_score(requested, capacity)
            weights += 1
        out.append(total // weights if weights else 0)
    return out


def balanced_allocation(ctx: PodContext, nodes: Sequence[NodeInfo]) -> list[int] | None:
    out = []
    for info in nodes:
        fractions = []
        for capacity, requested in (
                (info.allocatable.milli_cpu, info.requested.milli_cpu + ctx.requests.milli_cpu),
                (info.allocatable.memory, info.requested.memory + ctx.requests.memory)):
            if capacity == 0:
                continue
            fractions.append(min(1.0, requested / capacity))
        deviation = 0.0
        if len(fractions) == 2:
            deviation = abs((fractions[0] - fractions[1]) / 2)
        out.append(int((1 - deviation) * MAX_NODE_SCORE))
    return out


# -- NodeAffinity (preferred terms) -------------------------------------------------------
def node_affinity(ctx: PodContext, nodes: Sequence[NodeInfo]) -> list[int] | None:
    if not ctx.preferred:
        return None
    raw = [sum(p.weight for p in ctx.preferred if p.term.matches(info.labels, info.name))
           for info in nodes]
    return default_normalize(raw, reverse=False)


# -- TaintToleration (PreferNoSchedule) ---------------------------------------------------
def taint_toleration(ctx: PodContext, nodes: Sequence[NodeInfo]) -> list[int] | None:
    tolerations = [t for t in ctx.tolerations
                   if t.effect in ("", taints.PREFER_NO_SCHEDULE)]
    raw = []
    for info in nodes:
        assert info.node is not None
        raw.append(sum(1 for taint in info.node.spec.taints
                       if taint.effect == taints.PREFER_NO_SCHEDULE
                       and not taints.tolerated(tolerations, taint)))
    return default_normalize(raw, reverse=True)


# -- PodTopologySpread (system-default constraints) ---------------------------------------
def topology_normalizing_weight(size: int) -> float:
    return math.log(size + 2)


def _round_half_away(value: float) -> int:
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


@dataclass
class SpreadInput:
    """What spreading needs beyond the feasible nodes: every node, and for each of the pod's
    ScheduleAnyway constraints the matching pods per node."""

    all_nodes: Sequence[NodeInfo]
    per_node: Sequence[Mapping[str, int]]


def topology_spread(ctx: PodContext, nodes: Sequence[NodeInfo],
                    spread: SpreadInput | None) -> list[int] | None:
    constraints = ctx.soft_spread
    if spread is None or not constraints:
        return None
    # The system defaults spread over nodes without a zone label too; a pod's own constraints
    # ignore nodes that lack one of their keys.
    require_all = ctx.own_spread
    ignored = {info.name for info in nodes
               if require_all and not has_topology_keys(info.labels, constraints)}
    # Topology domains among the feasible nodes (for the defaults a missing label is "").
    domain_counts: list[dict[str, int]] = [{} for _ in constraints]
    for info in nodes:
        if info.name in ignored:
            continue
        for i, c in enumerate(constraints):
            if c.topology_key != HOSTNAME_LABEL:
                domain_counts[i].setdefault(info.labels.get(c.topology_key, ""), 0)
    weights = []
    for i, c in enumerate(constraints):
        size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME_LABEL \
            else len(domain_counts[i])
        weights.append(topology_normalizing_weight(size))
    # Matching pods per domain, over every node the pod's required affinity allows.
    if any(domain_counts):
        for info in spread.all_nodes:
            if info.node is None:
                continue
            if require_all and not has_topology_keys(info.labels, constraints):
                continue
            if not ctx.required.is_empty() and not ctx.required.matches(info.node, info.labels):
                continue
            for i, c in enumerate(constraints):
                count = spread.per_node[i].get(info.name, 0)
                if not count or c.topology_key == HOSTNAME_LABEL:
                    continue
                domain = info.labels.get(c.topology_key, "")
                if domain in domain_counts[i]:
                    domain_counts[i][domain] += count
    raw: list[int | None] = []
    for info in nodes:
        if info.name in ignored:
            raw.append(None)
            continue
        node_labels = info.labels
        score = 0.0
        for i, c in enumerate(constraints):
            own = node_labels.get(c.topology_key)
            if own is None:
                continue
            count = spread.per_node[i].get(info.name, 0) if c.topology_key == HOSTNAME_LABEL \
                else domain_counts[i][own]
            score += count * weights[i] + (c.max_skew - 1)
        raw.append(_round_half_away(score))
    scored = [s for s in raw if s is not None]
    highest, lowest = max(scored, default=0), min(scored, default=0)
    out = []
    for s in raw:
        if s is None:
            out.append(0)
        elif highest == 0:
            out.append(MAX_NODE_SCORE)
        else:
            out.append(MAX_NODE_SCORE * (highest + lowest - s) // highest)
    return out


ScoreFunc = Callable[[PodContext, Sequence[NodeInfo]], "list[int] | None"]

SCORERS: tuple[tuple[str, ScoreFunc, int], ...] = (
    ("TaintToleration", taint_toleration, 3),
    ("NodeAffinity", node_affinity, 2),
    ("NodeResourcesFit", least_allocated, 1),
    ("NodeResourcesBalancedAllocation", balanced_allocation, 1),
)
SPREAD_WEIGHT = 2


def total_scores(ctx: PodContext, nodes: Sequence[NodeInfo],
                 spread: SpreadInput | None) -> list[int]:
    totals = [0] * len(nodes)
    for _, scorer, weight in SCORERS:
        scores = scorer(ctx, nodes)
        if scores is not None:
            for i, s in enumerate(scores):
                totals[i] += s * weight
    spread_scores = topology_spread(ctx, nodes, spread)
    if spread_scores is not None:
        for i, s in enumerate(spread_scores):
            totals[i] += s * SPREAD_WEIGHT
    return totals
