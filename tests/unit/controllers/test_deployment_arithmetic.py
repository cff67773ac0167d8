"""Deployment arithmetic on plain objects: fenceposts, rollout steps, proportional scaling."""

from __future__ import annotations

import pytest

from controlplane.controllers.deployment import strategy
from controlplane.controllers.deployment.replicasets import (
    MAX_REPLICAS,
    find_active_or_latest,
    is_saturated,
    new_rs_new_replicas,
    proportional_sizes,
    round_half_away,
    settled_available_count,
)
from controlplane.controllers.deployment.rolling import max_scale_down
from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2

pytestmark = pytest.mark.unit


def deployment(replicas: int, surge: int | str | None = None,
               unavailable: int | str | None = None, kind: str = "") -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name = "web"
    d.spec.replicas = replicas
    if kind:
        d.spec.strategy.type = kind
    for value, target in ((surge, "max_surge"), (unavailable, "max_unavailable")):
        if value is None:
            continue
        field = getattr(d.spec.strategy.rolling_update, target)
        if isinstance(value, int):
            field.int_value = value
        else:
            field.string_value = value
    return d


def replica_set(name: str, replicas: int, *, available: int = 0, created: float = 0.0,
                max_replicas: int | None = None) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = name
    rs.metadata.uid = f"uid-{name}"
    rs.metadata.creation_timestamp = now_rfc3339(1_700_000_000 + created)
    rs.spec.replicas = replicas
    rs.status.replicas = replicas
    rs.status.available_replicas = available
    if max_replicas is not None:
        rs.metadata.annotations[MAX_REPLICAS] = str(max_replicas)
    return rs


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 10, (3, 2)),     # surge rounds up, unavailable rounds down
    ("25%", "25%", 1, (1, 0)),
    ("10%", "10%", 5, (1, 0)),
    (0, "24%", 4, (0, 1)),          # both resolve to 0: maxUnavailable becomes 1
    ("0%", "0%", 10, (0, 1)),
    (2, 3, 10, (2, 3)),
])
def test_resolve_fenceposts(surge: int | str, unavailable: int | str, desired: int,
                            expected: tuple[int, int]) -> None:
    assert strategy.resolve_fenceposts(surge, unavailable, desired) == expected


def test_a_string_that_is_not_a_percentage_is_refused() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        strategy.resolve_fenceposts("5", 1, 10)


def test_defaults_and_limits() -> None:
    d = deployment(10)
    assert (strategy.max_surge(d), strategy.max_unavailable(d)) == (3, 2)
    assert strategy.revision_history_limit(d) == 10
    assert strategy.progress_deadline_seconds(d) == 600
    assert strategy.max_unavailable(deployment(3, unavailable=5)) == 3
    recreate = deployment(3, kind="Recreate")
    assert (strategy.max_surge(recreate), strategy.max_unavailable(recreate)) == (0, 0)
    assert strategy.max_unavailable(deployment(0)) == 0


def test_new_replica_set_grows_within_max_surge() -> None:
    d = deployment(10)  # maxSurge 3
    new = replica_set("new", 0)
    assert new_rs_new_replicas(d, [replica_set("old", 10), new], new) == 3
    new = replica_set("new", 3)
    assert new_rs_new_replicas(d, [replica_set("old", 10), new], new) == 3
    assert new_rs_new_replicas(d, [replica_set("old", 7), new], new) == 6
    # An old ReplicaSet scaled to 7 that still reports 10 pods leaves no room yet.
    still_shrinking = replica_set("old", 7)
    still_shrinking.status.replicas = 10
    assert new_rs_new_replicas(d, [still_shrinking, new], new) == 3
    assert new_rs_new_replicas(d, [replica_set("old", 0), replica_set("n", 9)],
                               replica_set("n", 9)) == 10
    assert new_rs_new_replicas(deployment(4, kind="Recreate"), [], replica_set("n", 0)) == 4


def test_old_replicas_may_go_only_as_far_as_availability_allows() -> None:
    d = deployment(10)  # maxUnavailable 2: at least 8 available
    old = replica_set("old", 10, available=10)
    new = replica_set("new", 3, available=0)
    # 13 replicas, 8 must stay available, 3 new ones are not available yet.
    assert max_scale_down(d, [old, new], new) == 2
    new = replica_set("new", 3, available=3)
    assert max_scale_down(d, [old, new], new) == 5


def test_a_replica_set_just_scaled_down_counts_only_the_pods_it_keeps() -> None:
    # Its status still reports 4 available, but 1 of them is about to be deleted.
    stale = replica_set("old", 3, available=4)
    new = replica_set("new", 2, available=1)
    assert settled_available_count([stale, new]) == 4


def test_scaling_during_a_rollout_is_proportional() -> None:
    # Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout
    # in progress with 8 old and 5 new replicas; scaled to 15, the old ReplicaSet gets 3 more
    # and the new one 2.
    d = deployment(15, surge=3, unavailable=2)
    d.status.replicas = 13
    old = replica_set("old", 8, created=0, max_replicas=13)
    new = replica_set("new", 5, created=60, max_replicas=13)
    ordered, sizes = proportional_sizes(d, [old, new])
    assert sizes == {"old": 11, "new": 7}
    assert [rs.metadata.name for rs in ordered] == ["old", "new"]


def test_scaling_down_during_a_rollout_takes_leftovers_from_the_largest() -> None:
    d = deployment(5, surge=1, unavailable=0)
    old = replica_set("old", 7, created=0, max_replicas=11)
    new = replica_set("new", 4, created=60, max_replicas=11)
    _, sizes = proportional_sizes(d, [old, new])
    # Allowed 6 of 11: old 7*6/11 = 3.8 -> 4, new 4*6/11 = 2.2 -> 2.
    assert sizes == {"old": 4, "new": 2}
    assert sum(sizes.values()) == 6


def test_scaling_to_zero_empties_every_replica_set() -> None:
    d = deployment(0)
    _, sizes = proportional_sizes(d, [replica_set("old", 3, max_replicas=6),
                                      replica_set("new", 2, created=5, max_replicas=6)])
    assert sizes == {"old": 0, "new": 0}


def test_rounding_is_half_away_from_zero() -> None:
    from fractions import Fraction

    assert [round_half_away(Fraction(n, 2)) for n in (1, 3, 5, -1, -3)] == [1, 2, 3, -1, -2]


def test_active_or_latest_and_saturation() -> None:
    old = replica_set("old", 0, created=0)
    newer_old = replica_set("newer-old", 0, created=30)
    assert find_active_or_latest(None, [old, newer_old]) is newer_old
    new = replica_set("new", 3, created=60)
    assert find_active_or_latest(new, [old]) is new
    assert find_active_or_latest(new, [replica_set("busy", 1)]) is None
    d = deployment(3)
    new.status.available_replicas = 3
    assert not is_saturated(d, new)  # no desired-replicas annotation yet
    new.metadata.annotations["deployment.kubernetes.io/desired-replicas"] = "3"
    assert is_saturated(d, new)
