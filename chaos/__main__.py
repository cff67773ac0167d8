"""``python -m chaos --seed 7 [--nodes 4] [--duration 30] [--control-planes 2]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from chaos.runner import Options, run_experiment


def main() -> int:
    parser = argparse.ArgumentParser(description="Run seeded chaos experiments on a real cluster.")
    parser.add_argument("--seed", type=int, action="append", required=True,
                        help="repeat for several runs")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--control-planes", type=int, default=1)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--faults", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--log-level", default="warning")
    options = parser.parse_args()
    logging.basicConfig(level=options.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failed = 0
    for seed in options.seed:
        with tempfile.TemporaryDirectory(prefix=f"kemu-chaos-{seed}-") as tmp:
            workdir = options.workdir / f"seed-{seed}" if options.workdir else Path(tmp)
            report = asyncio.run(run_experiment(Options(
                seed=seed, workdir=workdir, nodes=options.nodes,
                control_planes=options.control_planes, duration=options.duration,
                faults=options.faults)))
            print(report.describe(), flush=True)
            failed += not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
