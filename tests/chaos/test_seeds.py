"""A fixed list of seeds, each a full experiment on a fresh cluster: faults while the
invariants are watched, then convergence, final checks, acknowledged writes and etcd values.

A failing seed prints its report with the command that replays it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runner import Options, run_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

# (seed, control planes): together they draw every node and cluster fault.
SEEDS = [(3, 2), (10, 2), (4, 1)]


@pytest.mark.parametrize(("seed", "control_planes"), SEEDS)
async def test_seed(seed: int, control_planes: int, tmp_path: Path) -> None:
    report = await run_experiment(Options(seed=seed, workdir=tmp_path, nodes=4,
                                          control_planes=control_planes, duration=20.0))
    print(report.describe())
    assert report.ok, report.describe()
    assert report.acknowledged_writes > 0 and report.samples > 0
