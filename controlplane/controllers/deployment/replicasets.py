"""Arithmetic over a Deployment's ReplicaSets: which is new and which are old, how many
replicas each may have during a rollout, and how a scaling event is shared out among them.

Pure functions over plain objects (no API calls), so each rule can be tested on its own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from controlplane.controllers.deployment import strategy
from controlplane.controllers.replicaset import desired_replicas
from kemu.api.meta import parse_time
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

POD_TEMPLATE_HASH = "pod-template-hash"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"

ReplicaSet = apps_pb2.ReplicaSet


def spec_replicas(rs: ReplicaSet) -> int:
    return desired_replicas(rs)


def _created(rs: ReplicaSet) -> float:
    return parse_time(rs.metadata.creation_timestamp)


def by_creation(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Oldest first; equal timestamps by name."""
    return sorted(rss, key=lambda rs: (_created(rs), rs.metadata.name))


def _older_first(a: ReplicaSet, b: ReplicaSet) -> int:
    key_a, key_b = (_created(a), a.metadata.name), (_created(b), b.metadata.name)
    return -1 if key_a < key_b else 1 if key_a > key_b else 0


def by_size_newer(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first; equal sizes newest first (the order for scaling up)."""
    def compare(a: ReplicaSet, b: ReplicaSet) -> int:
        if spec_replicas(a) != spec_replicas(b):
            return spec_replicas(b) - spec_replicas(a)
        return _older_first(b, a)
    return sorted(rss, key=functools.cmp_to_key(compare))


def by_size_older(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first; equal sizes oldest first (the order for scaling down)."""
    def compare(a: ReplicaSet, b: ReplicaSet) -> int:
        if spec_replicas(a) != spec_replicas(b):
            return spec_replicas(b) - spec_replicas(a)
        return _older_first(a, b)
    return sorted(rss, key=functools.cmp_to_key(compare))


def active(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    """ReplicaSets that want at least one replica."""
    return [rs for rs in rss if rs is not None and spec_replicas(rs) > 0]


def present(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    return [rs for rs in rss if rs is not None]


def replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    """Sum of spec.replicas."""
    return sum(spec_replicas(rs) for rs in present(rss))


def replica_upper_bound(rss: Iterable[ReplicaSet | None]) -> int:
    """Pods that may exist now: a ReplicaSet just scaled down may still have the pods it is
    about to delete (its status says so), one just scaled up may not have its pods yet."""
    return sum(max(spec_replicas(rs), rs.status.replicas) for rs in present(rss))


def actual_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.replicas for rs in present(rss))


def ready_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.ready_replicas for rs in present(rss))


def available_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.available_replicas for rs in present(rss))


def settled_available_count(rss: Iterable[ReplicaSet | None]) -> int:
    """Available replicas as they will be once each ReplicaSet has reached its size: a
    ReplicaSet just scaled down still reports the pods it is about to delete, and counting
    them would let a rollout remove more old pods than maxUnavailable allows."""
    return sum(min(rs.status.available_replicas, spec_replicas(rs)) for rs in present(rss))


def equal_ignore_hash(a: core_pb2.PodTemplateSpec, b: core_pb2.PodTemplateSpec) -> bool:
    """Two pod templates are the same apart from the pod-template-hash label."""
    if a.metadata.labels.get(POD_TEMPLATE_HASH) == b.metadata.labels.get(POD_TEMPLATE_HASH):
        return a == b
    a, b = clone(a), clone(b)
    a.metadata.labels.pop(POD_TEMPLATE_HASH, None)
    b.metadata.labels.pop(POD_TEMPLATE_HASH, None)
    return a == b


def find_new(d: apps_pb2.Deployment, rss: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template is the Deployment's."""
    for rs in by_creation(rss):
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            return rs
    return None


def find_old(d: apps_pb2.Deployment,
             rss: Sequence[ReplicaSet]) -> tuple[list[ReplicaSet], list[ReplicaSet]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    new = find_new(d, rss)
    olds = [rs for rs in rss if new is None or rs.metadata.uid != new.metadata.uid]
    return [rs for rs in olds if spec_replicas(rs) != 0], olds


def find_active_or_latest(new: ReplicaSet | None, olds: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The only ReplicaSet with replicas, or the newest if none has any; None if several do."""
    if new is None and not olds:
        return None
    newest_first = list(reversed(by_creation(olds)))
    running = active([*newest_first, new])
    if not running:
        return new if new is not None else newest_first[0]
    if len(running) == 1:
        return running[0]
    return None


def _int_annotation(rs: ReplicaSet, name: str) -> int | None:
    raw = rs.metadata.annotations.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def desired_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def max_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS)


def replicas_annotations_need_update(rs: ReplicaSet, desired: int, maximum: int) -> bool:
    annotations = rs.metadata.annotations
    return (annotations.get(DESIRED_REPLICAS) != str(desired)
            or annotations.get(MAX_REPLICAS) != str(maximum))


def set_replicas_annotations(rs: ReplicaSet, desired: int, maximum: int) -> bool:
    changed = replicas_annotations_need_update(rs, desired, maximum)
    rs.metadata.annotations[DESIRED_REPLICAS] = str(desired)
    rs.metadata.annotations[MAX_REPLICAS] = str(maximum)
    return changed


def is_saturated(d: apps_pb2.Deployment, rs: ReplicaSet | None) -> bool:
    """The ReplicaSet has, wants and annotates exactly the Deployment's replicas, all available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    if desired is None:
        return False
    want = strategy.replicas(d)
    return (spec_replicas(rs) == want and desired == want
            and rs.status.available_replicas == want)


def new_rs_new_replicas(d: apps_pb2.Deployment, all_rss: Sequence[ReplicaSet | None],
                        new: ReplicaSet) -> int:
    """How many replicas the new ReplicaSet may have now."""
    want = strategy.replicas(d)
    kind = strategy.strategy_type(d)
    if kind == strategy.RECREATE:
        return want
    if kind != strategy.ROLLING_UPDATE:
        raise ValueError(f"deployment type {kind} isn't supported")
    surge, _ = strategy.surge_and_unavailable_settings(d)
    max_total = want + strategy.scaled_value(surge, want, round_up=True)
    current = replica_upper_bound(all_rss)
    if current >= max_total:
        return spec_replicas(new)
    scale_up = min(max_total - current, want - spec_replicas(new))
    return spec_replicas(new) + scale_up


def round_half_away(value: Fraction) -> int:
    """Go's math.Round: halves round away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def replica_set_fraction(rs: ReplicaSet, d: apps_pb2.Deployment) -> int:
    """How many replicas ``rs`` gains (or loses) when the Deployment is scaled."""
    want = strategy.replicas(d)
    if want == 0:
        return -spec_replicas(rs)
    deployment_max = want + strategy.max_surge(d)
    before = max_replicas_annotation(rs)
    if before is None or before == 0:
        before = d.status.replicas
    if before <= 0:
        return 0
    size = Fraction(spec_replicas(rs) * deployment_max, before)
    return round_half_away(size) - spec_replicas(rs)


def proportion(rs: ReplicaSet | None, d: apps_pb2.Deployment, to_add: int, added: int) -> int:
    """The share of ``to_add`` for ``rs``, given ``added`` already given to others."""
    if rs is None or spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(d: apps_pb2.Deployment,
                       running: Sequence[ReplicaSet]) -> tuple[list[ReplicaSet], dict[str, int]]:
    """Kubernetes' proportional scaling of a rolling Deployment across its active ReplicaSets:
    the ReplicaSets in the order they are written, and each one's new size by name."""
    want = strategy.replicas(d)
    allowed_size = want + strategy.max_surge(d) if want > 0 else 0
    to_add = allowed_size - replica_count(running)
    if to_add > 0:
        ordered = by_size_newer(running)
    elif to_add < 0:
        ordered = by_size_older(running)
    else:
        ordered = list(running)
    added = 0
    sizes: dict[str, int] = {}
    for rs in ordered:
        if to_add != 0:
            share = proportion(rs, d, to_add, added)
            sizes[rs.metadata.name] = spec_replicas(rs) + share
            added += share
        else:
            sizes[rs.metadata.name] = spec_replicas(rs)
    if ordered and to_add != 0:
        first = ordered[0].metadata.name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return ordered, sizes
