"""The suite can fail: deliberate violations made during a run are reported and fail it.

Two kinds of damage, made behind the controllers' and the writer's backs while the run goes on:
a second pod of the DaemonSet bound to a node that already runs one (created with the
DaemonSet's controller ownerReference, as a split-brain controller would), and an acknowledged
write deleted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runner import NAMESPACE, Experiment, Options, run_experiment
from kemu.v1 import apps_pb2, core_pb2
from tests.support.waiting import eventually

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


async def second_daemon_pod(experiment: Experiment) -> None:
    ds = await experiment.clients.call("get", apps_pb2.DaemonSet, "demo", NAMESPACE)
    pod = core_pb2.Pod()
    pod.metadata.name = "demo-intruder"
    pod.metadata.namespace = NAMESPACE
    pod.metadata.labels.update(ds.spec.template.metadata.labels)
    pod.metadata.owner_references.add(api_version="apps/v1", kind="DaemonSet",
                                      name=ds.metadata.name, uid=ds.metadata.uid,
                                      controller=True, block_owner_deletion=True)
    pod.spec.CopyFrom(ds.spec.template.spec)
    pod.spec.node_name = "node-1"
    await experiment.clients.call("create", pod)


async def delete_an_acknowledged_write(experiment: Experiment) -> None:
    await eventually(lambda: len(experiment.writes.acknowledged) >= 5, what="five writes")
    name = sorted(experiment.writes.acknowledged)[2]
    await experiment.clients.call("delete", core_pb2.ConfigMap, name, NAMESPACE)


async def test_injected_violations_fail_the_run(tmp_path: Path) -> None:
    report = await run_experiment(Options(
        seed=1, workdir=tmp_path, nodes=2, duration=4.0, faults=0,
        sabotage=(second_daemon_pod, delete_an_acknowledged_write)))
    print(report.describe())
    assert not report.ok
    assert any(v.startswith("DaemonSet demo had 2 active pods on node node-1 at revision ")
               and "demo-intruder" in v for v in report.violations), report.violations
    assert "acknowledged write chaos/ack-000002 is lost" in report.violations
    assert "FAIL" in report.describe() and "replay with: python -m chaos --seed 1" in \
        report.describe()
