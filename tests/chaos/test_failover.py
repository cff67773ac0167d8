"""Two control planes on one etcd: the leader dies or freezes while pods are being created.

The other control plane takes over within the lease duration (plus a retry period), and at no
revision does the ReplicaSet have more active pods than its spec asks for, nor the DaemonSet
two pods on a node: the ledger sees every pod event, across the failover.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.observer import LeaseWrite
from chaos.runner import NAMESPACE, Experiment, Options, run_experiment
from kemu.api.errors import ApiError, Code
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import apps_pb2
from tests.support.waiting import eventually

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

# Taking over needs the lease to stay unrenewed for a whole lease duration after the candidate
# last saw it change (at most a retry period before the kill), then the candidate's next retry.
TAKEOVER_BOUND = FAST.leader_lease_duration + FAST.leader_retry_period
SLACK = 1.5  # a loaded 2-core machine delays the candidate's loop


async def scale(experiment: Experiment, replicas: int) -> None:
    """Set spec.replicas, retrying when a controller's write got in first."""
    while True:
        rs = await experiment.clients.call("get", apps_pb2.ReplicaSet, "whoami-web", NAMESPACE)
        changed = clone(rs)
        changed.spec.replicas = replicas
        try:
            await experiment.clients.call("update", changed)
            return
        except ApiError as exc:
            if exc.code != Code.ABORTED:
                raise


def active_replicas(experiment: Experiment) -> int:
    ledger = experiment.observer.ledger
    return sum(len(uids) for (kind, _, _), uids in ledger.members.items() if kind == "ReplicaSet")


async def takeover(experiment: Experiment, since: float, old: str) -> LeaseWrite:
    found: LeaseWrite = await eventually(
        lambda: experiment.observer.first_lease_write(since, other_than=old), timeout=30,
        what=f"another control plane taking the lease from {old}")
    return found


def options(tmp_path: Path, scenario: Any) -> Options:
    return Options(seed=0, workdir=tmp_path, nodes=3, control_planes=2, duration=1.0,
                   faults=0, sabotage=(scenario,))


async def test_killing_the_leader_during_a_scale_up(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def kill_leader_while_scaling(experiment: Experiment) -> None:
        leader = await experiment.leader()
        await scale(experiment, 12)
        await eventually(lambda: active_replicas(experiment) > 3, what="the scale-up starting")
        killed = time.time()
        experiment.cluster.control_planes[leader].kill()
        seen["old"], seen["new"] = leader, await takeover(experiment, killed, leader)
        seen["took"] = seen["new"].renewed - killed
        await eventually(lambda: active_replicas(experiment) == 12, timeout=30,
                         what="twelve replicas under the new leader")

    report = await run_experiment(options(tmp_path, kill_leader_while_scaling))
    print(report.describe())
    print(f"leader {seen.get('old')} killed; {seen['new'].holder} took over after "
          f"{seen['took']:.2f}s (bound {TAKEOVER_BOUND:.2f}s)")
    assert report.ok, report.describe()
    assert seen["new"].holder != seen["old"]
    assert seen["took"] < TAKEOVER_BOUND + SLACK


async def test_a_frozen_leader_does_not_write_on_stale_state_when_it_wakes(
        tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def freeze_leader_then_scale_down(experiment: Experiment) -> None:
        leader = await experiment.leader()
        plane = experiment.cluster.control_planes[leader]
        await scale(experiment, 12)
        await eventually(lambda: active_replicas(experiment) == 12, timeout=30,
                         what="twelve replicas")
        frozen = time.time()
        plane.signal(signal.SIGSTOP)
        try:
            new = await takeover(experiment, frozen, leader)
            seen["took"] = new.renewed - frozen
            # The new leader scales down to 4 while the old one sleeps; waking, the old one's
            # informers deliver the deleted pods before (or without) the new spec: on its stale
            # state it would create eight pods again.
            await scale(experiment, 4)
            await eventually(lambda: active_replicas(experiment) == 4, timeout=30,
                             what="the scale-down to 4")
        finally:
            plane.signal(signal.SIGCONT)
        await eventually(lambda: "stopped leading" in plane.log_path.read_text(), timeout=30,
                         what=f"{leader} noticing it lost the lease")

    report = await run_experiment(options(tmp_path, freeze_leader_then_scale_down))
    print(report.describe())
    print(f"took over after {seen['took']:.2f}s")
    assert report.ok, report.describe()
    assert seen["took"] < TAKEOVER_BOUND + SLACK
