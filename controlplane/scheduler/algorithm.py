"""One scheduling attempt (kube-scheduler's ``schedulePod``): PreFilter, Filter over the nodes,
Score the feasible ones, pick the best (ties broken at random).

Filtering starts where the previous attempt stopped and, in clusters of 100 nodes or more, stops
once enough feasible nodes are found (``percentageOfNodesToScore``'s adaptive default), so every
node gets its turn and large clusters stay cheap. Everything here is synchronous and reads only
the scheduler cache: the cost per pod is O(nodes).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from controlplane.scheduler.cache import NodeInfo, SchedulerCache
from controlplane.scheduler.diagnosis import Diagnosis
from controlplane.scheduler.filters import pre_filter, run_filters
from controlplane.scheduler.framework import UNRESOLVABLE, PodContext, Status
from controlplane.scheduler.scores import SpreadInput, total_scores
from controlplane.scheduler.spreading import CountsFunc, filter_state

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE = 5


def num_feasible_nodes_to_find(num_all_nodes: int) -> int:
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = max(MIN_FEASIBLE_NODES_PERCENTAGE, 50 - num_all_nodes // 125)
    return max(MIN_FEASIBLE_NODES_TO_FIND, num_all_nodes * percentage // 100)


@dataclass
class Result:
    node_name: str | None
    diagnosis: Diagnosis
    scores: dict[str, int] = field(default_factory=dict)

    @property
    def no_nodes(self) -> bool:
        return self.diagnosis.num_all_nodes == 0


class Algorithm:
    def __init__(self, cache: SchedulerCache, counts: CountsFunc | None = None,
                 rng: random.Random | None = None):
        """``counts(namespace, selector)``: matching pods per node (for spreading)."""
        self.cache = cache
        self.counts = counts
        self.rng = rng or random.Random()
        self.next_start = 0

    def schedule(self, ctx: PodContext) -> Result:
        all_nodes = self.cache.node_list()
        if not all_nodes:
            return Result(None, Diagnosis(0, {}))
        if ctx.hard_spread and self.counts is not None:
            ctx.spread_filter = filter_state(ctx.pod.metadata.namespace, ctx.required,
                                             ctx.hard_spread, all_nodes, self.counts)
        pinned, rejected = pre_filter(ctx)
        if rejected is not None:
            return Result(None, Diagnosis(len(all_nodes), {}, absent=rejected,
                                          prefilter_message=rejected.message()))
        candidates: Sequence[NodeInfo] = all_nodes
        absent: Status | None = None
        if pinned is not None:
            candidates = [info for name in sorted(pinned)
                          if (info := self.cache.nodes.get(name)) is not None
                          and info.node is not None]
            absent = Status(UNRESOLVABLE, ("node(s) didn't satisfy plugin(s) [NodeAffinity]",))
        feasible, statuses = self._filter(ctx, candidates, len(all_nodes))
        diagnosis = Diagnosis(len(all_nodes), statuses, absent=absent)
        if not feasible:
            return Result(None, diagnosis)
        if len(feasible) == 1:
            return Result(feasible[0].name, diagnosis)
        spread = None
        if ctx.soft_spread and self.counts is not None:
            namespace = ctx.pod.metadata.namespace
            spread = SpreadInput(all_nodes, [self.counts(namespace, c.selector)
                                             for c in ctx.soft_spread])
        totals = total_scores(ctx, feasible, spread)
        scores = {info.name: total for info, total in zip(feasible, totals, strict=True)}
        best = max(totals)
        winners = [info.name for info, total in zip(feasible, totals, strict=True) if total == best]
        return Result(self.rng.choice(winners), diagnosis, scores)

    def _filter(self, ctx: PodContext, nodes: Sequence[NodeInfo],
                num_all_nodes: int) -> tuple[list[NodeInfo], dict[str, Status]]:
        wanted = num_feasible_nodes_to_find(len(nodes))
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        count = len(nodes)
        processed = 0
        for i in range(count):
            info = nodes[(self.next_start + i) % count]
            processed += 1
            status = run_filters(ctx, info)
            if status is None:
                feasible.append(info)
                if len(feasible) >= wanted:
                    break
            else:
                statuses[info.name] = status
        if num_all_nodes:
            self.next_start = (self.next_start + processed) % num_all_nodes
        return feasible, statuses
