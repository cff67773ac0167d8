"""Rolling updates: maxUnavailable (delete first) and maxSurge (create first) plans, and the
update strategy with its defaults."""

from __future__ import annotations

import pytest

from controlplane.controllers.daemonset import updatestrategy
from controlplane.controllers.daemonset.rolling import RollingPlan, plan_rolling_update
from kemu.v1 import core_pb2, meta_pb2
from tests.unit.controllers.daemonset_objects import daemonset, manifest, pod

pytestmark = pytest.mark.unit

NOW = 2_000_000.0


def _available(name: str, node: str, revision: str) -> core_pb2.Pod:
    return pod(name, node, revision_hash=revision, ready_since=NOW - 100)


def _plan(node_to_pods: dict[str, list[core_pb2.Pod]], *, surge: int = 0, unavailable: int = 1,
          runs: set[str] | None = None) -> tuple[list[str], list[str]]:
    wanted = runs if runs is not None else set(node_to_pods)
    plan: RollingPlan = plan_rolling_update(node_to_pods, lambda n: n in wanted, len(wanted),
                                            surge, unavailable, "new", None, 0.0, NOW)
    return sorted(p.metadata.name for p in plan.delete), sorted(plan.create_on)


def test_max_unavailable_one_replaces_one_node_at_a_time() -> None:
    pods = {n: [_available(f"old-{n}", n, "old")] for n in ("a", "b", "c")}
    assert _plan(pods) == (["old-a"], [])
    # While a's new pod is not available yet, nothing else goes.
    pods["a"] = [pod("new-a", "a", revision_hash="new")]
    assert _plan(pods) == ([], [])
    pods["a"] = [_available("new-a", "a", "new")]
    assert _plan(pods) == (["old-b"], [])
    # A node whose pod was just deleted (no pod yet) counts as unavailable.
    pods["b"] = []
    assert _plan(pods) == ([], [])


def test_max_unavailable_two_and_unavailable_old_pods_go_anyway() -> None:
    pods = {n: [_available(f"old-{n}", n, "old")] for n in ("a", "b", "c", "d")}
    assert _plan(pods, unavailable=2) == (["old-a", "old-b"], [])
    pods["d"] = [pod("old-d", "d", revision_hash="old")]  # not ready
    assert _plan(pods, unavailable=1) == (["old-d"], [])


def test_surge_creates_first_and_deletes_old_once_new_available() -> None:
    pods = {n: [_available(f"old-{n}", n, "old")] for n in ("a", "b", "c")}
    assert _plan(pods, surge=1, unavailable=0) == ([], ["a"])
    pods["a"].append(pod("new-a", "a", revision_hash="new"))
    assert _plan(pods, surge=1, unavailable=0) == ([], [])
    pods["a"][1] = _available("new-a", "a", "new")
    assert _plan(pods, surge=1, unavailable=0) == (["old-a"], ["b"])
    assert _plan(pods, surge=2, unavailable=0) == (["old-a"], ["b", "c"])


def test_surge_replaces_unavailable_old_pods_at_once() -> None:
    pods = {"a": [pod("old-a", "a", revision_hash="old")],
            "b": [pod("old-b", "b", revision_hash="old")]}
    assert _plan(pods, surge=1, unavailable=0) == ([], ["a", "b"])


def test_surge_leaves_a_node_only_when_enough_pods_are_available_elsewhere() -> None:
    pods = {"a": [_available("old-a", "a", "old")], "b": [_available("new-b", "b", "new")],
            "c": [_available("new-c", "c", "new")]}
    # The daemon should now run on b and c only: a's pod may go, two are available elsewhere.
    assert _plan(pods, surge=1, unavailable=0, runs={"b", "c"}) == (["old-a"], [])
    pods["c"] = [pod("new-c", "c", revision_hash="new")]
    assert _plan(pods, surge=1, unavailable=0, runs={"b", "c"}) == ([], [])


def test_zero_surge_and_zero_unavailable_fall_back_to_one() -> None:
    pods = {n: [_available(f"old-{n}", n, "old")] for n in ("a", "b")}
    assert _plan(pods, surge=0, unavailable=0) == (["old-a"], [])


def _int_or_string(value: int | str) -> meta_pb2.IntOrString:
    return meta_pb2.IntOrString(int_value=value) if isinstance(value, int) \
        else meta_pb2.IntOrString(string_value=value)


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    (3, 10, True, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("100%", 7, True, 7),
    ("0%", 7, True, 0),
])
def test_scaled_values(value: int | str, total: int, up: bool, expected: int) -> None:
    assert updatestrategy.scaled_value(_int_or_string(value), total, up) == expected


def test_bad_percentage_is_an_error() -> None:
    with pytest.raises(updatestrategy.InvalidIntOrPercentError):
        updatestrategy.scaled_value(_int_or_string("ten"), 10, True)


def test_strategy_defaults_and_manifests() -> None:
    plain = manifest("kia2/Chapter17/ds.demo.yaml")
    assert updatestrategy.strategy_type(plain) == "RollingUpdate"
    assert updatestrategy.unavailable_count(plain, 5) == 1
    assert updatestrategy.surge_count(plain, 5) == 0
    assert updatestrategy.revision_history_limit(plain) == 10
    v2 = manifest("kia2/Chapter17/ds.demo.v2.rollingUpdate.yaml")
    assert (updatestrategy.unavailable_count(v2, 3), updatestrategy.surge_count(v2, 3)) == (1, 0)
    on_delete = manifest("kia2/Chapter17/ds.demo.v3.onDelete.yaml")
    assert updatestrategy.strategy_type(on_delete) == "OnDelete"
    assert not updatestrategy.allows_surge(on_delete)
    surging = daemonset({"updateStrategy": {"rollingUpdate": {"maxSurge": "50%"}},
                         "revisionHistoryLimit": 2})
    assert updatestrategy.surge_count(surging, 3) == 2
    assert updatestrategy.allows_surge(surging)
    assert updatestrategy.revision_history_limit(surging) == 2
