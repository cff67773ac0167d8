"""Failure detection and recovery on a local cluster of N kubelet processes (fast profile).

For each cluster size it measures, on real processes:

- detection: ``kill -9`` of a kubelet until its Node shows Ready=Unknown (the node lifecycle
  controller, after node_monitor_grace_period without lease renewals);
- recovery: the kubelet started again until its Node is Ready=True;
- DaemonSet convergence: a new node's kubelet started until the DaemonSet's pod on it is Ready
  (registration, scheduling by the DaemonSet controller and the scheduler, the fake runtime).

    python -m bench.failure_detection [--nodes 10,50] [--rounds 3]

Prints a table, writes ``bench/results/failure_detection.json`` with the machine and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import add_event_loop_option, run_benchmark, summary, table, write_result
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_paths
from kemu.timing import FAST
from kemu.v1 import apps_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.manifests import SHARED

DAEMONSET = SHARED / "kia2" / "Chapter17" / "ds.demo.yaml"
POLL = 0.02


def _ready(node: core_pb2.Node) -> str:
    return next((c.status for c in node.status.conditions if c.type == "Ready"), "")


async def _until(check: Any, timeout: float = 120.0) -> float:
    """Seconds until ``await check()`` is true (polled every 20 ms)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if await check():
                return time.monotonic() - started
        except ApiError:
            pass
        await asyncio.sleep(POLL)
    raise TimeoutError(f"condition not met within {timeout}s")


async def _node_ready(client: GrpcClient, name: str, value: str) -> bool:
    return _ready(await client.get(core_pb2.Node, name)) == value


async def _daemon_pod_ready(client: GrpcClient, node: str) -> bool:
    pods = await client.list(core_pb2.Pod, "bench", field_selector=f"spec.nodeName={node}")
    return any(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
               for p in pods.items)


async def _converged(client: GrpcClient, nodes: int) -> bool:
    ds = await client.get(apps_pb2.DaemonSet, "demo", "bench")
    return ds.status.number_available == nodes == ds.status.desired_number_scheduled


async def measure(nodes: int, rounds: int, workdir: Path) -> dict[str, Any]:
    cluster = LocalCluster(workdir, timing_profile="fast", log_level="warning")
    try:
        await asyncio.to_thread(cluster.start_control_plane)
        for i in range(nodes):
            cluster.add_node(f"node-{i}")
        async with GrpcClient(cluster.address, timeout=30) as client:
            namespace = core_pb2.Namespace()
            namespace.metadata.name = "bench"
            await client.create(namespace)
            for manifest in load_paths([str(DAEMONSET)]):
                manifest.obj.metadata.namespace = "bench"
                await client.create(manifest.obj)
            startup = await _until(lambda: _converged(client, nodes), timeout=300)
            detection, recovery, joins = [], [], []
            for r in range(rounds):
                victim = f"node-{(r * 7) % nodes}"
                cluster.kill_node(victim)
                detection.append(await _until(lambda v=victim: _node_ready(client, v, "Unknown")))
                started = time.monotonic()
                await asyncio.to_thread(cluster.restart_node, victim)
                await _until(lambda v=victim: _node_ready(client, v, "True"))
                recovery.append(time.monotonic() - started)
                await _until(lambda n=nodes + r: _converged(client, n))
                joiner = f"joiner-{r}"
                started = time.monotonic()
                cluster.add_node(joiner)
                await _until(lambda j=joiner: _daemon_pod_ready(client, j))
                joins.append(time.monotonic() - started)
                await _until(lambda n=nodes + r + 1: _converged(client, n))
        return {"nodes": nodes, "startup_converged_s": startup, "detection": summary(detection),
                "recovery": summary(recovery), "daemonset_join": summary(joins)}
    finally:
        await asyncio.to_thread(cluster.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="10,50")
    parser.add_argument("--rounds", type=int, default=3)
    add_event_loop_option(parser)
    options = parser.parse_args()
    load_before = os.getloadavg()
    results = []
    for size in [int(n) for n in options.nodes.split(",")]:
        with tempfile.TemporaryDirectory(prefix=f"kemu-bench-fd-{size}-") as tmp:
            results.append(run_benchmark(measure(size, options.rounds, Path(tmp)), options.event_loop))
            results[-1]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    rows = []
    for result in results:
        for what in ("detection", "recovery", "daemonset_join"):
            stats = result[what]
            rows.append({"nodes": result["nodes"], "measure": what, "count": stats["count"],
                         "p50_s": stats["p50"], "max_s": stats["max"], "mean_s": stats["mean"]})
    print(table(rows, ["nodes", "measure", "count", "p50_s", "mean_s", "max_s"]))
    timing = {k: getattr(FAST, k) for k in ("node_monitor_grace_period", "node_monitor_period",
                                            "node_lease_renew_interval", "node_lease_duration")}
    path = write_result("failure_detection", {
        "load_before": [round(x, 2) for x in load_before], "timing_fast": timing,
        "results": results})
    print(f"\nload average before: {load_before[0]:.2f}; written to {path}")


if __name__ == "__main__":
    main()
