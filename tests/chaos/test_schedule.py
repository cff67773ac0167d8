"""Seeded schedules: the same seed and shape give the same faults; the constraints hold."""

from __future__ import annotations

import itertools

import pytest

from chaos.runner import Options
from chaos.schedule import CLUSTER_FAULTS, DELETE_NODE_MIN_HOLD, NODE_FAULTS, Shape, make_schedule

pytestmark = pytest.mark.unit

SHAPE = Shape(nodes=("node-1", "node-2", "node-3", "node-4"), control_planes=("cp-1", "cp-2"),
              duration=60.0, faults=16)


def test_the_same_seed_gives_the_same_schedule() -> None:
    for seed in range(20):
        assert make_schedule(seed, SHAPE) == make_schedule(seed, SHAPE)


def test_different_seeds_give_different_schedules() -> None:
    schedules = {tuple(make_schedule(seed, SHAPE)) for seed in range(20)}
    assert len(schedules) == 20


def test_every_kind_of_fault_is_drawn() -> None:
    drawn = {step.fault for seed in range(20) for step in make_schedule(seed, SHAPE)}
    assert drawn == set(NODE_FAULTS) | set(CLUSTER_FAULTS)


def test_constraints_hold() -> None:
    for seed in range(50):
        steps = make_schedule(seed, SHAPE)
        assert steps == sorted(steps, key=lambda s: s.at)
        assert all(0 <= s.at <= SHAPE.duration * 0.8 for s in steps)
        cluster = [s for s in steps if s.fault in CLUSTER_FAULTS]
        for a, b in itertools.pairwise(cluster):
            assert b.at - a.at >= SHAPE.cluster_gap
        node_steps = [s for s in steps if s.fault in NODE_FAULTS]
        for step in node_steps:
            end = step.at + step.hold + 2.0
            overlapping = [o for o in node_steps if o is not step and o.at < end and
                           step.at < o.at + o.hold + 2.0]
            assert step.target not in {o.target for o in overlapping}
            # Half the nodes at most (2 of 4) are impaired at once.
            at_start = [o for o in node_steps if o.at <= step.at < o.at + o.hold + 2.0]
            assert len(at_start) <= 2
            if step.fault == "delete-node":
                assert step.hold >= DELETE_NODE_MIN_HOLD
            if step.fault == "restart":
                assert step.hold == 0


def test_restricted_fault_lists_are_respected() -> None:
    shape = Shape(nodes=("node-1", "node-2"), duration=30.0, node_faults=("partition",),
                  cluster_faults=())
    assert {s.fault for seed in range(10) for s in make_schedule(seed, shape)} == {"partition"}


def test_the_replay_command_carries_the_shape(tmp_path: object) -> None:
    options = Options(seed=7, workdir=tmp_path, nodes=5, control_planes=2,  # type: ignore[arg-type]
                      duration=40, hold=(1.0, 3.0), cluster_faults=("kill-leader",))
    assert options.replay() == ("python -m chaos --seed 7 --nodes 5 --control-planes 2 "
                                "--duration 40 --faults 8 --hold 1,3 --cluster-faults kill-leader")
