"""API call latency, per verb, as a client outside the control plane sees it.

A probe runs a steady mix of calls for a while: create, get, update and delete of a small
ConfigMap (single-object mutating and read calls, the objects of Kubernetes' API-call SLO:
p99 ≤ 1 s for mutating calls and single-object reads), a namespaced list of a few ConfigMaps and
a cluster-wide list of Nodes (the largest list a cluster of many nodes serves). ``scale`` runs it
at each size; run alone it measures a cluster of ``--nodes`` kubelets with the default timing:

    python -m bench.api_latency [--nodes 200] [--seconds 60] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import defaultdict
from typing import Any

from bench.cluster import BenchCluster
from bench.common import add_event_loop_option, load_note, run_benchmark, summary, table, write_result
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2

NAMESPACE = "bench-api"
MUTATING = ("create", "update", "delete")


async def probe(client: GrpcClient, seconds: float, rate: float = 10.0) -> dict[str, Any]:
    """Run ``rate`` rounds per second for ``seconds``; each round is one create, get, update,
    list and delete of its own ConfigMap, plus a Node list every tenth round.
    Returns per-verb latency summaries (seconds) and the errors seen."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    counter = itertools.count()

    async def timed(verb: str, call: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await call
        except ApiError as exc:
            errors[f"{verb}:{exc.reason or exc.code.name}"] += 1
            return None
        latencies[verb].append(time.perf_counter() - started)
        return result

    async def round_trip(i: int) -> None:
        config = core_pb2.ConfigMap()
        config.metadata.name = f"probe-{i:06d}"
        config.metadata.namespace = NAMESPACE
        config.data["value"] = str(i)
        created = await timed("create", client.create(config))
        if created is None:
            return
        await timed("get", client.get(core_pb2.ConfigMap, config.metadata.name, NAMESPACE))
        created.data["value"] = f"{i}-updated"
        await timed("update", client.update(created))
        await timed("list", client.list(core_pb2.ConfigMap, NAMESPACE))
        if i % 10 == 0:
            await timed("list_nodes", client.list(core_pb2.Node))
        await timed("delete", client.delete(core_pb2.ConfigMap, config.metadata.name, NAMESPACE))

    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        task = asyncio.create_task(round_trip(next(counter)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(1.0 / rate)
    if tasks:
        await asyncio.gather(*tasks)
    result: dict[str, Any] = {verb: summary(values) for verb, values in sorted(latencies.items())}
    mutating = [v for verb in MUTATING for v in latencies.get(verb, [])]
    result["mutating"] = summary(mutating)
    result["errors"] = dict(errors)
    return result


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"verb": verb, "count": s["count"], "p50_ms": s["p50"] * 1000,
             "p99_ms": s["p99"] * 1000, "max_ms": s["max"] * 1000}
            for verb, s in result.items() if isinstance(s, dict) and "p99" in s]


async def _main(options: argparse.Namespace) -> dict[str, Any]:
    load = load_note()
    cluster = BenchCluster(profile=options.profile, launcher=options.launcher)
    with cluster:
        try:
            names = [f"node-{i:04d}" for i in range(options.nodes)]
            cluster.add_nodes(names)
            took = await cluster.wait_nodes_ready(names, timeout=300 + options.nodes)
            await cluster.ensure_namespace(NAMESPACE)
            # One full heartbeat interval first, so renewals are spread as in a steady state.
            await asyncio.sleep(options.warmup)
            result = await probe(cluster.api, options.seconds, options.rate)
        finally:
            await cluster.close()
    return {"nodes": options.nodes, "profile": options.profile, "nodes_ready_s": took,
            "latency": result, **load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--profile", choices=("fast", "default"), default="default")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10.0, help="rounds of calls per second")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--launcher", choices=("fork", "exec"), default="fork")
    add_event_loop_option(parser)
    options = parser.parse_args()
    data = run_benchmark(_main(options), options.event_loop)
    print(table(rows_of(data["latency"]), ["verb", "count", "p50_ms", "p99_ms", "max_ms"]))
    print(f"errors: {data['latency']['errors']}; load before: {data['load1']}")
    path = write_result("api_latency", {"options": vars(options), **data})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
