"""What every benchmark shares: the machine description, percentiles, tables and JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from launcher import eventloop, grpc_io

T = TypeVar("T")

RESULTS = Path(__file__).resolve().parent / "results"


def add_event_loop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-loop", choices=eventloop.LOOPS, default=eventloop.DEFAULT_LOOP,
                        help="event loop of the benchmark and of every kemu process it starts "
                             "(default: %(default)s)")


def run_benchmark(main: Coroutine[Any, Any, T], loop: str) -> T:
    """Runs ``main`` on the event loop ``loop``; the control planes and kubelets it starts
    inherit the choice (KEMU_EVENT_LOOP), so one flag compares the loops end to end."""
    os.environ["KEMU_EVENT_LOOP"] = loop
    return eventloop.run(main, loop)


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare figures: CPU model, cores, memory, Python, etcd."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%d"),
        "git": _git_revision(),
        "event_loop": os.environ.get("KEMU_EVENT_LOOP", eventloop.DEFAULT_LOOP),
        "grpc_io": grpc_io.describe(),
    }


def _git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return ""


def load_note() -> dict[str, float]:
    """The machine's load averages now: every figure is reported with them."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        one = five = fifteen = 0.0
    return {"load1": round(one, 2), "load5": round(five, 2), "load15": round(fifteen, 2)}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else 0.0,
        "mean": statistics.fmean(values) if values else 0.0,
    }


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2))
    return path
