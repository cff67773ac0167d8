"""Seeded fault schedules: the same seed always yields the same faults at the same offsets.

A schedule is a list of steps ``(at_seconds, fault, target, hold_seconds)``. Constraints keep a
run meaningful: at most ``max_down`` nodes impaired at once, control-plane and etcd faults
spaced out, every impairment healed after its hold time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NODE_FAULTS = ("kill", "freeze", "restart", "partition")
CLUSTER_FAULTS = ("restart-controlplane", "kill-leader", "restart-etcd")


@dataclass(frozen=True)
class Step:
    at: float
    fault: str
    target: str
    hold: float

    def __str__(self) -> str:
        hold = f" for {self.hold:.1f}s" if self.hold else ""
        return f"t+{self.at:5.1f}s {self.fault:<20} {self.target}{hold}"


def make_schedule(seed: int, nodes: list[str], duration: float, *, faults: int = 8,
                  max_down: int = 1, cluster_faults: tuple[str, ...] = CLUSTER_FAULTS,
                  hold: tuple[float, float] = (2.0, 6.0)) -> list[Step]:
    rng = random.Random(seed)
    steps: list[Step] = []
    busy_until: dict[str, float] = {}
    last_cluster = -1e9
    for _ in range(faults * 4):
        if len(steps) >= faults:
            break
        at = round(rng.uniform(0.0, duration * 0.8), 1)
        use_cluster = bool(cluster_faults) and rng.random() < 0.25 and at - last_cluster > 10.0
        if use_cluster:
            steps.append(Step(at, rng.choice(cluster_faults), "cluster", 0.0))
            last_cluster = at
            continue
        target = rng.choice(nodes)
        fault = rng.choice(NODE_FAULTS)
        # A killed node is started again after its hold (a crash and a reboot); a restart is
        # immediate; a freeze or a partition ends after its hold.
        length = 0.0 if fault == "restart" else round(rng.uniform(*hold), 1)
        down = [n for n, until in busy_until.items() if until > at]
        if target in down or len(down) >= max_down:
            continue
        busy_until[target] = at + max(length, 1.0)
        steps.append(Step(at, fault, target, length))
    return sorted(steps, key=lambda s: s.at)
