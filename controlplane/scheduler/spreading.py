"""Spreading pods over nodes and zones (PodTopologySpread).

A pod's own ``topologySpreadConstraints`` are used when it has any: ``DoNotSchedule`` ones
filter, ``ScheduleAnyway`` ones score. A pod without any gets the system defaults (hostname, max
skew 3; zone, max skew 5; both ScheduleAnyway) over its *default selector*: the selectors of the
Services that select it, merged with the selector of its controlling ReplicationController,
ReplicaSet or StatefulSet. A pod with none of these is not spread.

Counting matching pods per node for every scheduling attempt would cost O(all pods);
``SelectorCounts`` instead keeps, for each selector recently asked about, the count of matching
pods per node up to date as pods come and go.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from controlplane.scheduler.cache import NodeInfo, PodInfo, SchedulerCache
from controlplane.scheduler.nodeaffinity import RequiredAffinity
from kemu.api import labels
from kemu.api.labels import Operator, Requirement, Selector, SelectorError
from kemu.api.meta import controller_of
from kemu.v1 import apps_pb2, core_pb2

HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"


DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"


@dataclass(frozen=True)
class Constraint:
    topology_key: str
    max_skew: int
    selector: Selector


def system_default_constraints(selector: Selector) -> tuple[Constraint, ...]:
    return (Constraint(HOSTNAME_LABEL, 3, selector), Constraint(ZONE_LABEL, 5, selector))


def pod_constraints(pod: core_pb2.Pod, when_unsatisfiable: str) -> tuple[Constraint, ...]:
    """The pod's own constraints of one kind; a selector that does not parse matches nothing."""
    found = []
    for c in pod.spec.topology_spread_constraints:
        if c.when_unsatisfiable != when_unsatisfiable:
            continue
        try:
            selector = labels.from_label_selector(c.label_selector) \
                if c.HasField("label_selector") else Selector.nothing()
        except SelectorError:
            selector = Selector.nothing()
        found.append(Constraint(c.topology_key, c.max_skew, selector))
    return tuple(found)

OwnerLookup = Callable[[str, str, str], object | None]


def _canonical(requirements: Iterable[Requirement]) -> Selector:
    unique = sorted(set(requirements), key=lambda r: (r.key, r.operator.value, r.values))
    return Selector(tuple(unique))


def default_selector(pod: core_pb2.Pod, services: Iterable[core_pb2.Service],
                     owner: OwnerLookup) -> Selector:
    """Kubernetes' ``helper.DefaultSelector``; ``owner(kind, namespace, name)`` finds the
    controlling object in an informer cache."""
    label_set: dict[str, str] = {}
    pod_labels = pod.metadata.labels
    for service in services:
        selector = service.spec.selector
        if selector and all(pod_labels.get(k) == v for k, v in selector.items()):
            label_set.update(selector)
    extra: list[Requirement] = []
    ref = controller_of(pod)
    if ref is not None:
        group = ref.api_version.rpartition("/")[0]
        found = owner(ref.kind, pod.metadata.namespace, ref.name)
        if ref.kind == "ReplicationController" and group == "" and \
                isinstance(found, core_pb2.ReplicationController):
            label_set.update(found.spec.selector)
        elif ref.kind in ("ReplicaSet", "StatefulSet") and group == "apps" and \
                isinstance(found, apps_pb2.ReplicaSet | apps_pb2.StatefulSet):
            with contextlib.suppress(SelectorError):
                extra.extend(labels.from_label_selector(found.spec.selector).requirements)
    requirements = [Requirement(k, Operator.EQUALS, (v,)) for k, v in label_set.items()]
    return _canonical([*requirements, *extra])


CountsFunc = Callable[[str, Selector], Mapping[str, int]]


def has_topology_keys(labels: Mapping[str, str], constraints: Iterable[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


@dataclass
class FilterState:
    """PodTopologySpread's PreFilter state: matching pods per topology domain, per constraint,
    over the nodes the pod's required affinity allows that carry every constraint's key."""

    constraints: tuple[Constraint, ...]
    match_num: list[dict[str, int]]

    def min_match(self, index: int) -> int:
        counts = self.match_num[index]
        return min(counts.values()) if counts else 0


def filter_state(namespace: str, required: RequiredAffinity, constraints: tuple[Constraint, ...],
                 nodes: Sequence[NodeInfo], counts: CountsFunc) -> FilterState:
    per_node = [counts(namespace, c.selector) for c in constraints]
    match_num: list[dict[str, int]] = [{} for _ in constraints]
    for info in nodes:
        node = info.node
        if node is None or not has_topology_keys(info.labels, constraints):
            continue
        if not required.is_empty() and not required.matches(node, info.labels):
            continue
        for i, c in enumerate(constraints):
            value = info.labels[c.topology_key]
            match_num[i][value] = match_num[i].get(value, 0) + per_node[i].get(info.name, 0)
    return FilterState(constraints, match_num)


class _Tracker:
    __slots__ = ("counts", "namespace", "selector")

    def __init__(self, namespace: str, selector: Selector):
        self.namespace = namespace
        self.selector = selector
        self.counts: collections.Counter[str] = collections.Counter()

    def counted(self, info: PodInfo) -> bool:
        return info.namespace == self.namespace and not info.terminating and \
            self.selector.matches(info.pod.metadata.labels)


class SelectorCounts:
    """Per-node counts of the non-terminating pods of one namespace that match a selector."""

    def __init__(self, cache: SchedulerCache, capacity: int = 256):
        self.cache = cache
        self.capacity = capacity
        self._trackers: collections.OrderedDict[tuple[str, Selector], _Tracker] = \
            collections.OrderedDict()
        self._by_namespace: dict[str, set[tuple[str, Selector]]] = collections.defaultdict(set)
        cache.on_pod_added.append(self._added)
        cache.on_pod_removed.append(self._removed)

    def counts(self, namespace: str, selector: Selector) -> collections.Counter[str]:
        key = (namespace, selector)
        tracker = self._trackers.get(key)
        if tracker is not None:
            self._trackers.move_to_end(key)
            return tracker.counts
        tracker = _Tracker(namespace, selector)
        for info in self.cache.pods_in(namespace):
            if tracker.counted(info):
                tracker.counts[info.node_name] += 1
        self._trackers[key] = tracker
        self._by_namespace[namespace].add(key)
        while len(self._trackers) > self.capacity:
            old_key, _ = self._trackers.popitem(last=False)
            group = self._by_namespace[old_key[0]]
            group.discard(old_key)
            if not group:
                del self._by_namespace[old_key[0]]
        return tracker.counts

    def __len__(self) -> int:
        return len(self._trackers)

    def _added(self, info: PodInfo) -> None:
        for key in self._by_namespace.get(info.namespace, ()):
            tracker = self._trackers[key]
            if tracker.counted(info):
                tracker.counts[info.node_name] += 1

    def _removed(self, info: PodInfo) -> None:
        for key in self._by_namespace.get(info.namespace, ()):
            tracker = self._trackers[key]
            if tracker.counted(info):
                tracker.counts[info.node_name] -= 1
                if tracker.counts[info.node_name] <= 0:
                    del tracker.counts[info.node_name]
