"""What a client and the node lifecycle controller see while the control plane is saturated.

A cluster of ``--nodes`` kubelets takes a Deployment of ``--replicas`` pods (the fast profile's
2 s node grace period is the sensitive part). Every ``--interval`` seconds this lists the node
Leases (a consistent List: served from the watch cache once it has caught up with etcd, else
from etcd after 3 s), notes how old the newest-stored renewal of each node is, and counts the
Nodes that are not Ready. A List that takes seconds while every stored lease is fresh means the
control plane's view runs behind etcd; Nodes going NotReady then are the control plane's
fault, not the kubelets'.

    python -m bench.overload [--replicas 5000] [--nodes 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.cluster import BenchCluster, deployment, node_ready, pod_capacity
from bench.common import add_event_loop_option, load_note, run_benchmark, summary, table, write_result
from kemu.api.meta import parse_time
from kemu.v1 import coordination_pb2, core_pb2

NAMESPACE = "bench-overload"


async def run(replicas: int, nodes: int, seconds: float, interval: float) -> list[dict[str, Any]]:
    cluster = BenchCluster(profile="fast", capacity=pod_capacity(replicas, nodes))
    samples: list[dict[str, Any]] = []
    with cluster:
        try:
            names = [f"node-{i:03d}" for i in range(nodes)]
            cluster.add_nodes(names)
            await cluster.wait_nodes_ready(names, timeout=120 + 2 * nodes)
            await cluster.ensure_namespace(NAMESPACE)
            await cluster.api.create(deployment("overload", NAMESPACE, replicas))
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                asked = time.monotonic()
                leases = await cluster.api.list(coordination_pb2.Lease, "kube-node-lease")
                took = time.monotonic() - asked
                now = time.time()
                oldest = max((now - parse_time(lease.spec.renew_time) for lease in leases.items
                              if lease.spec.renew_time), default=0.0)
                listed = await cluster.api.list(core_pb2.Node)
                samples.append({"t": asked - started, "list_s": took, "oldest_renewal_s": oldest,
                                "not_ready": sum(not node_ready(n) for n in listed.items)})
                await asyncio.sleep(interval)
        finally:
            await cluster.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.5)
    add_event_loop_option(parser)
    options = parser.parse_args()
    load = load_note()
    samples = run_benchmark(run(options.replicas, options.nodes, options.seconds, options.interval),
                            options.event_loop)
    lists = summary([s["list_s"] for s in samples])
    oldest = summary([s["oldest_renewal_s"] for s in samples])
    rows = [{"measure": "Lease List latency (s)", **lists},
            {"measure": "oldest stored renewal (s)", **oldest},
            {"measure": "Nodes not Ready", "count": len(samples),
             "max": float(max((s["not_ready"] for s in samples), default=0))}]
    print(table(rows, ["measure", "count", "p50", "p99", "max"]))
    path = write_result("overload", {"options": vars(options), "rows": rows,
                                     "samples": samples, **load})
    print(f"\nload before: {load['load1']}; written to {path}")


if __name__ == "__main__":
    main()
