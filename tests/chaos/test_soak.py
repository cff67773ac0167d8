"""Long runs on demand: ``pytest -m soak`` (or ``python -m chaos --seed N --duration 600``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaos.runner import Options, run_experiment

pytestmark = [pytest.mark.soak, pytest.mark.chaos, pytest.mark.integration]

DURATION = float(os.environ.get("KEMU_SOAK_DURATION", "600"))


@pytest.mark.timeout(DURATION * 2 + 300)
@pytest.mark.parametrize("control_planes", [1, 2])
async def test_soak(control_planes: int, tmp_path: Path) -> None:
    seed = int(os.environ.get("KEMU_SOAK_SEED", "1000")) + control_planes
    report = await run_experiment(Options(
        seed=seed, workdir=tmp_path, nodes=6, control_planes=control_planes,
        duration=DURATION, faults=int(DURATION / 4), hold=(2.0, 25.0)))
    print(report.describe())
    assert report.ok, report.describe()
