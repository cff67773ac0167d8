"""``python -m chaos --seed 7 [--nodes 4] [--duration 30] [--control-planes 2] [--json out.json]``.

Each seed is one experiment on a fresh cluster; the exit status is 1 if any failed. A failing
run prints the command that replays it (the same seed and shape give the same schedule).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
from pathlib import Path

from chaos.runner import Options, run_experiment
from chaos.schedule import CLUSTER_FAULTS, NODE_FAULTS, make_schedule


def _names(text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    if text in ("", "none"):
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown fault(s) {', '.join(unknown)}; known: "
                                         f"{', '.join(known)}")
    return names


def _hold(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos",
                                     description="Run seeded chaos experiments on a real cluster.")
    parser.add_argument("--seed", type=int, action="append", required=True,
                        help="repeat for several runs")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--control-planes", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--duration", type=float, default=30.0,
                        help="seconds of faults (they start in the first 80%%)")
    parser.add_argument("--faults", type=int, default=8)
    parser.add_argument("--hold", type=_hold, default=(2.0, 6.0),
                        help="LOW,HIGH seconds a node stays impaired (default 2,6)")
    parser.add_argument("--node-faults", default=",".join(NODE_FAULTS),
                        type=lambda t: _names(t, NODE_FAULTS))
    parser.add_argument("--cluster-faults", default=",".join(CLUSTER_FAULTS),
                        type=lambda t: _names(t, CLUSTER_FAULTS))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep logs and data here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="write the reports here")
    parser.add_argument("--schedule-only", action="store_true",
                        help="print the schedule each seed gives and exit")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    failed = 0
    reports = []
    for seed in args.seed:
        print(f"chaos seed {seed}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"kemu-chaos-{seed}-") as tmp:
            workdir = args.workdir / f"seed-{seed}" if args.workdir else Path(tmp)
            options = Options(seed=seed, workdir=workdir, nodes=args.nodes,
                              control_planes=args.control_planes, duration=args.duration,
                              faults=args.faults, hold=args.hold, node_faults=args.node_faults,
                              cluster_faults=args.cluster_faults)
            if args.schedule_only:
                for step in make_schedule(seed, options.shape()):
                    print(f"  {step}")
                continue
            report = asyncio.run(run_experiment(options))
            print(report.describe(), flush=True)
            if not report.ok and not args.workdir:
                print("  (rerun with --workdir DIR to keep the processes' logs)")
            reports.append(report.as_dict())
            failed += not report.ok
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
