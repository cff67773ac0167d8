"""How many kubelet processes one machine holds with the default heartbeat intervals.

The cluster grows step by step (``--steps 50,100,200,...``): at each size every Node must be
Ready, then for ``--seconds`` an API probe (bench.api_latency) runs while the CPU of the control
plane, etcd and the kubelets is metered. The run stops at the first size where mutating API
calls miss Kubernetes' SLO (p99 ≤ 1 s), a Node is not Ready, or the machine's available memory
falls under ``--min-free-gib``. Reported per size: join time, API latency per verb, cores busy
per process kind, control-plane and etcd memory, and one kubelet's memory (RSS, PSS and USS —
the private pages one more node costs).

    python -m bench.scale [--steps 50,100,200,300,400,500,600,800,1000] [--seconds 60]
                          [--launcher fork|exec]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from bench.api_latency import NAMESPACE, probe
from bench.cluster import BenchCluster, node_ready
from bench.common import RESULTS, add_event_loop_option, load_note, run_benchmark, table, write_result
from bench.procstat import CpuMeter, Memory, available_memory_mib, memory
from bench.profiling import Profiler, top
from kemu.v1 import core_pb2

SLO_SECONDS = 1.0
SAMPLED_KUBELETS = 12


def _kubelet_memory(cluster: BenchCluster) -> dict[str, float]:
    """Median memory of a sample of kubelets, and the PSS of all of them together."""
    pids = list(cluster.node_pids().values())
    step = max(1, len(pids) // SAMPLED_KUBELETS)
    sample = [memory(pid) for pid in pids[::step]]
    total_pss = sum(memory(pid).pss_kib for pid in pids) / 1024
    return {"kubelet_rss_mib": statistics.median(m.rss_kib for m in sample) / 1024,
            "kubelet_pss_mib": statistics.median(m.pss_kib for m in sample) / 1024,
            "kubelet_uss_mib": statistics.median(m.uss_kib for m in sample) / 1024,
            "kubelets_total_pss_mib": total_pss}


def _plane_memory(cluster: BenchCluster) -> dict[str, float]:
    pids = cluster.pids()
    plane = memory(pids["controlplane"])
    etcd = memory(pids["etcd"]) if "etcd" in pids else Memory()
    return {"controlplane_rss_mib": plane.rss_kib / 1024,
            "controlplane_uss_mib": plane.uss_kib / 1024, "etcd_rss_mib": etcd.rss_kib / 1024}


async def _not_ready(cluster: BenchCluster) -> int:
    nodes = await cluster.api.list(core_pb2.Node)
    return sum(1 for n in nodes.items if not node_ready(n))


async def step(cluster: BenchCluster, size: int, options: argparse.Namespace) -> dict[str, Any]:
    load = load_note()
    have = len(cluster.local.nodes)
    names = [f"node-{i:04d}" for i in range(have, size)]
    started = time.monotonic()
    cluster.add_nodes(names)
    spawned = time.monotonic() - started
    await cluster.wait_nodes_ready([f"node-{i:04d}" for i in range(size)],
                                   timeout=options.join_timeout + size)
    joined = time.monotonic() - started
    await asyncio.sleep(options.warmup)
    meter = CpuMeter({**cluster.pids(), **cluster.node_pids()})
    spy = Profiler(cluster.pids()["controlplane"], RESULTS / f"profile-scale-{size}.txt")
    spying = options.spy and spy.start()
    meter.start()
    latency = await probe(cluster.api, options.seconds, options.rate)
    cpu = meter.stop()
    if spying and (path := spy.stop()) is not None:
        print(f"control-plane profile at {size} nodes:\n{top(path, 15)}", flush=True)
    not_ready = await _not_ready(cluster)
    mutating = latency["mutating"]
    row: dict[str, Any] = {
        "nodes": size, "spawn_s": spawned, "join_s": joined,
        "join_per_s": len(names) / joined if joined else 0.0,
        "mutating_p50_ms": mutating["p50"] * 1000, "mutating_p99_ms": mutating["p99"] * 1000,
        "get_p99_ms": latency.get("get", {}).get("p99", 0.0) * 1000,
        "list_p99_ms": latency.get("list", {}).get("p99", 0.0) * 1000,
        "list_nodes_p99_ms": latency.get("list_nodes", {}).get("p99", 0.0) * 1000,
        "api_errors": sum(latency["errors"].values()), "not_ready": not_ready,
        "cpu_controlplane": cpu.get("controlplane", 0.0), "cpu_etcd": cpu.get("etcd", 0.0),
        "cpu_kubelets": sum(v for k, v in cpu.items() if k.startswith("node-")),
        **_plane_memory(cluster), **_kubelet_memory(cluster),
        "available_mib": available_memory_mib(), "latency": latency, **load,
    }
    return row


def _verdict(row: dict[str, Any], options: argparse.Namespace) -> str:
    if row["mutating_p99_ms"] > SLO_SECONDS * 1000:
        return f"mutating p99 {row['mutating_p99_ms']:.0f} ms > {SLO_SECONDS * 1000:.0f} ms"
    if row["not_ready"]:
        return f"{row['not_ready']} nodes not Ready"
    if row["api_errors"]:
        return f"{row['api_errors']} API errors"
    if row["available_mib"] < options.min_free_gib * 1024:
        return f"available memory {row['available_mib']:.0f} MiB < {options.min_free_gib} GiB"
    return ""


COLUMNS = ["nodes", "join_s", "mutating_p50_ms", "mutating_p99_ms", "get_p99_ms",
           "list_nodes_p99_ms", "cpu_controlplane", "cpu_etcd", "cpu_kubelets",
           "controlplane_rss_mib", "kubelet_rss_mib", "kubelet_uss_mib", "available_mib", "load1"]


async def _main(options: argparse.Namespace) -> tuple[list[dict[str, Any]], str]:
    sizes = [int(s) for s in options.steps.split(",") if s]
    rows: list[dict[str, Any]] = []
    stopped = "all sizes passed"
    cluster = BenchCluster(profile="default", launcher=options.launcher)
    with cluster:
        try:
            await cluster.ensure_namespace(NAMESPACE)
            for size in sizes:
                try:
                    row = await step(cluster, size, options)
                except TimeoutError as exc:
                    stopped = f"{size} nodes: {exc}"
                    break
                rows.append(row)
                print(table([row], COLUMNS), flush=True)
                verdict = _verdict(row, options)
                if verdict:
                    stopped = f"{size} nodes: {verdict}"
                    break
        finally:
            await cluster.close()
    return rows, stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="50,100,200,300,400,500,600,800,1000")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the API probe at each size")
    parser.add_argument("--rate", type=float, default=10.0, help="probe rounds per second")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds after all nodes are Ready before measuring")
    parser.add_argument("--join-timeout", type=float, default=120.0)
    parser.add_argument("--min-free-gib", type=float, default=2.0)
    parser.add_argument("--spy", action="store_true",
                        help="profile the control plane with py-spy during each probe")
    parser.add_argument("--launcher", choices=("fork", "exec"), default="fork",
                        help="kubelets forked from a preloaded zygote, or each a fresh "
                             "interpreter (LocalCluster kubelet_launcher)")
    add_event_loop_option(parser)
    options = parser.parse_args()
    rows, stopped = run_benchmark(_main(options), options.event_loop)
    print()
    print(table(rows, COLUMNS))
    passed = [r["nodes"] for r in rows if not _verdict(r, options)]
    print(f"\nlargest size within the SLO: {max(passed) if passed else 0} kubelets; "
          f"stopped: {stopped}")
    path = write_result("scale", {"options": vars(options), "rows": rows, "stopped": stopped,
                                  "largest_within_slo": max(passed) if passed else 0})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
