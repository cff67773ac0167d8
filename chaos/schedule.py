"""Seeded fault schedules: the same seed and shape always yield the same faults at the same offsets.

A schedule is a list of steps ``(at, fault, target, hold)``: ``at`` seconds after the faults
begin, do ``fault`` to ``target`` and undo it ``hold`` seconds later. The draw depends only on
the seed and the ``Shape`` (node names, control planes, duration, fault count, hold range), so a
failing run replays exactly from its seed. Constraints keep a run meaningful: at most
``max_down`` nodes impaired at once, cluster-wide faults at least ``cluster_gap`` apart, and
every impairment undone after its hold.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# kill -9 and start again after the hold (a crash and a reboot); SIGSTOP then SIGCONT (a frozen
# node); SIGTERM and start at once (a kubelet restart); cut off by its proxy for the hold; kill -9
# and delete its Node object, start again after the hold (pod GC of a vanished node).
NODE_FAULTS = ("kill", "freeze", "restart", "partition", "delete-node")
# SIGTERM a control plane and start it again; kill -9 the leader (the Lease holder) and start it
# again after the hold; SIGSTOP the leader for the hold (it wakes up having lost its lease);
# restart etcd.
CLUSTER_FAULTS = ("restart-controlplane", "kill-leader", "freeze-leader", "restart-etcd")
# A deleted node's pods go after pod GC's quarantine (2 s in the fast profile) plus its period:
# hold the node down long enough for that to happen before the kubelet registers it again.
DELETE_NODE_MIN_HOLD = 5.0


@dataclass(frozen=True)
class Step:
    at: float
    fault: str
    target: str
    hold: float

    def __str__(self) -> str:
        hold = f" for {self.hold:.1f}s" if self.hold else ""
        return f"t+{self.at:5.1f}s {self.fault:<20} {self.target}{hold}"


@dataclass(frozen=True)
class Shape:
    """Everything besides the seed that a schedule depends on."""

    nodes: tuple[str, ...]
    control_planes: tuple[str, ...] = ("cp-1",)
    duration: float = 30.0
    faults: int = 8
    node_faults: tuple[str, ...] = NODE_FAULTS
    cluster_faults: tuple[str, ...] = CLUSTER_FAULTS
    max_down: int = 0  # 0: half the nodes (at least one)
    hold: tuple[float, float] = (2.0, 6.0)
    cluster_gap: float = 10.0
    cluster_share: float = 0.25


def make_schedule(seed: int, shape: Shape) -> list[Step]:
    """``shape.faults`` steps (fewer if the constraints leave no room), sorted by time."""
    rng = random.Random(seed)
    steps: list[Step] = []
    # When each node fault keeps its node impaired: (start, end, node).
    impaired: list[tuple[float, float, str]] = []
    low, high = shape.hold
    max_down = shape.max_down or max(1, len(shape.nodes) // 2)
    for _ in range(shape.faults):
        # The fault is drawn first and then placed, so the mix of faults follows the draw and
        # not which faults happen to fit (short ones fit more often).
        cluster = bool(shape.cluster_faults) and (not shape.node_faults or
                                                  rng.random() < shape.cluster_share)
        if not cluster and not shape.node_faults:
            break
        fault = rng.choice(shape.cluster_faults if cluster else shape.node_faults)
        if cluster:
            hold = 0.0 if fault in ("restart-controlplane", "restart-etcd") else \
                round(rng.uniform(2.0, 5.0), 1)
        else:
            hold = 0.0 if fault == "restart" else round(rng.uniform(low, high), 1)
            if fault == "delete-node":
                hold = max(hold, DELETE_NODE_MIN_HOLD)
        for _attempt in range(20):
            # Faults start in the first 80 % of the run so the last ones end before it does.
            at = round(rng.uniform(0.0, shape.duration * 0.8), 1)
            if cluster:
                if any(abs(at - s.at) < shape.cluster_gap for s in steps
                       if s.fault in CLUSTER_FAULTS):
                    continue
                target = rng.choice(shape.control_planes) if fault == "restart-controlplane" \
                    else "etcd" if fault == "restart-etcd" else "leader"
            else:
                target = rng.choice(shape.nodes)
                # Impaired for the hold, plus a couple of seconds to start and report Ready.
                end = at + hold + 2.0
                overlapping = [n for start, until, n in impaired if start < end and at < until]
                if target in overlapping or len(overlapping) >= max_down:
                    continue
                impaired.append((at, end, target))
            steps.append(Step(at, fault, target, hold))
            break
    return sorted(steps, key=lambda s: (s.at, s.fault, s.target))
