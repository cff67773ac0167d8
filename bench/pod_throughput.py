"""Pod throughput and pod startup latency on a cluster of real kubelet processes.

Two workloads, each on a fresh cluster of ``--nodes`` kubelets (LocalCluster: real etcd, one
control plane, one process per node; the fast timing profile unless ``--profile default``):

- burst: one Deployment of N replicas (``--replicas 1000,5000``); pods/s from the Deployment's
  creation to the last pod Running, and p50/p99 pod startup latency (creation → Running, both
  observed by one watch, as Kubernetes' pod-startup SLO defines it);
- churn (``--churn-rate 20``): bare pods created at a steady rate for ``--churn-seconds``,
  each deleted again ``--churn-lifetime`` seconds after it runs; p50/p99 startup latency.

Every figure is set against the store ceiling (measured just before each run, on a private etcd
with the same fsync setting): the etcd writes each pod costs are counted by replaying etcd's
history for the run, and ``bound = ceiling / writes per pod`` is the pod rate the store alone
would allow. ``--repeat N`` runs each burst size N times and adds the median and range of each
figure: on a shared VM one commit's pods/s can differ twofold between runs.

    python -m bench.pod_throughput [--replicas 1000,5000] [--nodes 20] [--churn-rate 20]
                                   [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections import Counter
from typing import Any

from bench import store_ceiling
from bench.cluster import BenchCluster, PodClock, deployment, pod_capacity, pod_template
from bench.common import (
    RESULTS,
    add_event_loop_option,
    load_note,
    percentile,
    run_benchmark,
    summary,
    table,
    write_result,
)
from bench.procstat import CpuMeter, cpu_seconds
from bench.profiling import Profiler, top
from kemu.api.errors import ApiError
from kemu.v1 import apps_pb2, core_pb2

NAMESPACE = "bench"
# Writes that belong to the workload; leases (node heartbeats, leader election) are background.
WORKLOAD_RESOURCES = ("pods", "events", "replicasets", "deployments", "controllerrevisions")


async def store_ceiling_writes_per_s(writes: int = 5000) -> float:
    """The best concurrent create rate of one Python process on a private etcd (no fsync,
    as LocalCluster runs it)."""
    rows = await store_ceiling._run(writes, [32, 128], fsync=False)
    return max(float(r["writes_per_s"]) for r in rows)


def _capacity(replicas: int, nodes: int) -> dict[str, str]:
    return pod_capacity(replicas, nodes)


def _deployment(name: str, replicas: int) -> apps_pb2.Deployment:
    return deployment(name, NAMESPACE, replicas)


def _writes_row(counts: Counter[str], pods: int) -> dict[str, Any]:
    workload = sum(counts[r] for r in WORKLOAD_RESOURCES)
    return {"writes_total": sum(counts.values()), "writes_workload": workload,
            "writes_per_pod": workload / max(1, pods),
            "writes_by_resource": dict(counts.most_common())}


async def _start(cluster: BenchCluster, nodes: int) -> float:
    names = [f"node-{i:03d}" for i in range(nodes)]
    cluster.add_nodes(names)
    took = await cluster.wait_nodes_ready(names, timeout=120 + 2 * nodes)
    await cluster.ensure_namespace(NAMESPACE)
    return took


async def _event_reasons(cluster: BenchCluster) -> dict[str, int]:
    """Events of the whole cluster by reason (with their counts): what else happened."""
    events = await cluster.api.list(core_pb2.Event, "")
    reasons: Counter[str] = Counter()
    for event in events.items:
        reasons[event.reason] += max(1, event.count)
    return dict(reasons.most_common())


async def burst(replicas: int, nodes: int, profile: str, ceiling: float,
                spy: bool = False) -> dict[str, Any]:
    load = load_note()  # before this run's own processes add to it
    cluster = BenchCluster(profile=profile, capacity=_capacity(replicas, nodes))
    with cluster:
        try:
            await _start(cluster, nodes)
            clock = PodClock(cluster.api, NAMESPACE)
            await clock.start()
            meter = CpuMeter({**cluster.pids(), **cluster.node_pids()})
            bench_cpu = cpu_seconds(_self_pid())
            calls_before = cluster.etcd_calls()
            before = await cluster.revision()
            profilers = _profilers(cluster, f"burst{replicas}") if spy else []
            meter.start()
            started = time.monotonic()
            await cluster.api.create(_deployment("burst", replicas))
            done = await clock.wait(lambda: clock.running_count >= replicas,
                                    timeout=max(180.0, replicas / 4))
            elapsed = time.monotonic() - started
            cpu = meter.stop()
            _report(profilers)
            after = await cluster.revision()
            bench_cpu = cpu_seconds(_self_pid()) - bench_cpu
            await clock.stop()
            # The writes that trail the last Running pod (events, status) belong to the run.
            after = await cluster.settle(after)
            cpu_used = meter.seconds()
            calls = cluster.etcd_calls() - calls_before
            counts = await cluster.count_writes(before, after)
            reasons = await _event_reasons(cluster)
        finally:
            await cluster.close()
    running = sorted(t.running - started for t in clock.pods.values() if t.running)
    # The steady part: from the 10th to the 90th percentile of pods Running.
    low, high = percentile(running, 10), percentile(running, 90)
    steady = (0.8 * len(running)) / (high - low) if high > low else 0.0
    latency = summary(clock.latencies())
    row: dict[str, Any] = {
        "workload": "burst", "profile": profile, "nodes": nodes, "replicas": replicas,
        "completed": done, "running": len(running), "deleted": len(clock.deleted),
        "seconds": elapsed, "pods_per_s": len(running) / elapsed, "pods_per_s_steady": steady,
        "startup_p50_s": latency["p50"], "startup_p99_s": latency["p99"],
        "startup_max_s": latency["max"], **_phase_row(clock),
        **_writes_row(counts, len(running)),
        "ceiling_writes_per_s": ceiling, **_cpu_row(cpu, bench_cpu / elapsed),
        **_cpu_per_pod(cpu_used, len(running)), **_calls_per_pod(calls, len(running)), **load,
        "event_reasons": reasons, "timeline": _timeline(clock, started),
    }
    _bound(row)
    return row


def _timeline(clock: PodClock, started: float) -> dict[str, dict[str, float]]:
    """Seconds from the Deployment's creation until the first, the middle and the last pod
    was created, bound and Running: which stage the burst waits on."""
    stages = {"created": [t.seen for t in clock.pods.values()],
              "bound": [t.bound for t in clock.pods.values() if t.bound],
              "running": [t.running for t in clock.pods.values() if t.running]}
    return {stage: {"first": min(times) - started, "p50": percentile(times, 50) - started,
                    "last": max(times) - started}
            for stage, times in stages.items() if times}


async def churn(rate: float, seconds: float, lifetime: float, nodes: int, profile: str,
                ceiling: float) -> dict[str, Any]:
    load = load_note()
    total = int(rate * seconds)
    cluster = BenchCluster(profile=profile, capacity=_capacity(int(rate * (lifetime + 10)), nodes))
    deletions: set[asyncio.Task[None]] = set()
    with cluster:
        try:
            await _start(cluster, nodes)
            client = cluster.api

            async def delete_later(name: str) -> None:
                await asyncio.sleep(lifetime)
                with contextlib.suppress(ApiError):
                    await client.delete(core_pb2.Pod, name, NAMESPACE)

            def on_event(kind: str, pod: core_pb2.Pod, now: float) -> None:
                if kind != "DELETED" and pod.status.phase == "Running" and \
                        pod.metadata.name not in scheduled:
                    scheduled.add(pod.metadata.name)
                    task = asyncio.create_task(delete_later(pod.metadata.name))
                    deletions.add(task)
                    task.add_done_callback(deletions.discard)

            scheduled: set[str] = set()
            clock = PodClock(client, NAMESPACE, on_event=on_event)
            await clock.start()
            meter = CpuMeter({**cluster.pids(), **cluster.node_pids()})
            calls_before = cluster.etcd_calls()
            before = await cluster.revision()
            meter.start()
            started = time.monotonic()
            creates: list[asyncio.Task[Any]] = []
            lag = 0.0
            for i in range(total):
                due = started + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    lag = max(lag, -delay)
                pod = core_pb2.Pod()
                pod.metadata.name = f"churn-{i:05d}"
                pod.metadata.namespace = NAMESPACE
                template = pod_template({"app": "churn"})
                pod.metadata.labels.update(template.metadata.labels)
                pod.spec.CopyFrom(template.spec)
                creates.append(asyncio.create_task(client.create(pod)))
            await asyncio.gather(*creates, return_exceptions=True)
            done = await clock.wait(lambda: clock.running_count >= total, timeout=120)
            elapsed = time.monotonic() - started
            cpu = meter.stop()
            after = await cluster.revision()
            for task in list(deletions):
                task.cancel()
            await clock.stop()
            cpu_used = meter.seconds()
            calls = cluster.etcd_calls() - calls_before
            counts = await cluster.count_writes(before, after)
        finally:
            await cluster.close()
    latency = summary(clock.latencies())
    row: dict[str, Any] = {
        "workload": "churn", "profile": profile, "nodes": nodes, "rate": rate,
        "replicas": total, "completed": done, "running": clock.running_count,
        "seconds": elapsed, "create_lag_max_s": lag, "pods_per_s": clock.running_count / elapsed,
        "startup_p50_s": latency["p50"], "startup_p99_s": latency["p99"],
        "startup_max_s": latency["max"], "deleted": len(clock.deleted), **_phase_row(clock),
        **_writes_row(counts, total), "ceiling_writes_per_s": ceiling, **_cpu_row(cpu, 0.0),
        **_cpu_per_pod(cpu_used, total), **_calls_per_pod(calls, total), **load,
    }
    _bound(row)
    return row


def _phase_row(clock: PodClock) -> dict[str, float]:
    phases = clock.phases()
    return {"to_bound_p50_s": phases["to_bound"]["p50"], "to_bound_p99_s": phases["to_bound"]["p99"],
            "bound_to_running_p50_s": phases["bound_to_running"]["p50"],
            "bound_to_running_p99_s": phases["bound_to_running"]["p99"]}


def _profilers(cluster: BenchCluster, tag: str) -> list[Profiler]:
    """py-spy on the control plane and on the first kubelet, for the measured interval."""
    chosen = {"controlplane": cluster.pids()["controlplane"]}
    nodes = cluster.node_pids()
    if nodes:
        first = sorted(nodes)[0]
        chosen["kubelet"] = nodes[first]
    profilers = [Profiler(pid, RESULTS / f"profile-pod_throughput-{tag}-{name}.txt")
                 for name, pid in chosen.items()]
    return [p for p in profilers if p.start()]


def _report(profilers: list[Profiler]) -> None:
    for profiler in profilers:
        path = profiler.stop()
        if path is not None:
            print(f"\nprofile {path.name}:\n{top(path, 20)}", flush=True)


def _self_pid() -> int:
    import os

    return os.getpid()


def _cpu_row(cpu: dict[str, float], bench: float) -> dict[str, float]:
    kubelets = sum(v for k, v in cpu.items() if k.startswith("node-"))
    return {"cpu_controlplane": cpu.get("controlplane", 0.0), "cpu_etcd": cpu.get("etcd", 0.0),
            "cpu_kubelets": kubelets, "cpu_bench": bench}


def _cpu_per_pod(used: dict[str, float], pods: int) -> dict[str, float]:
    """CPU milliseconds per pod, up to the end of the trailing writes: the figure that other
    loads on the machine disturb least."""
    pods = max(1, pods)
    kubelets = sum(v for k, v in used.items() if k.startswith("node-"))
    return {"cp_cpu_ms_per_pod": 1000 * used.get("controlplane", 0.0) / pods,
            "etcd_cpu_ms_per_pod": 1000 * used.get("etcd", 0.0) / pods,
            "kubelet_cpu_ms_per_pod": 1000 * kubelets / pods}


def _calls_per_pod(calls: Counter[str], pods: int) -> dict[str, Any]:
    """etcd round trips per pod, as etcd counted them (the bench's own few included)."""
    pods = max(1, pods)
    return {"etcd_reads_per_pod": calls["Range"] / pods, "etcd_txns_per_pod": calls["Txn"] / pods,
            "etcd_calls": dict(calls.most_common())}


def _bound(row: dict[str, Any]) -> None:
    per_pod = row["writes_per_pod"] or 1.0
    row["bound_pods_per_s"] = row["ceiling_writes_per_s"] / per_pod
    row["ratio_to_bound"] = row["pods_per_s"] / row["bound_pods_per_s"]


COLUMNS = ["workload", "replicas", "seconds", "pods_per_s", "pods_per_s_steady",
           "startup_p50_s", "startup_p99_s", "to_bound_p99_s", "bound_to_running_p99_s",
           "writes_per_pod", "bound_pods_per_s",
           "ratio_to_bound", "etcd_reads_per_pod", "etcd_txns_per_pod", "cpu_controlplane",
           "cp_cpu_ms_per_pod", "etcd_cpu_ms_per_pod",
           "kubelet_cpu_ms_per_pod", "load1"]


async def _ceiling() -> float:
    ceiling = await store_ceiling_writes_per_s()
    print(f"store ceiling: {ceiling:.0f} writes/s (no fsync, concurrent creates)", flush=True)
    return ceiling


async def _main(options: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for replicas in [int(r) for r in options.replicas.split(",") if r]:
        for run in range(1, options.repeat + 1):
            # Each run against the ceiling measured just before it: the VM's speed drifts.
            row = await burst(replicas, options.nodes, options.profile, await _ceiling(),
                              options.spy)
            row["run"] = run
            print(table([row], COLUMNS), flush=True)
            rows.append(row)
    if options.churn_rate > 0:
        row = await churn(options.churn_rate, options.churn_seconds, options.churn_lifetime,
                          options.nodes, options.profile, await _ceiling())
        print(table([row], COLUMNS), flush=True)
        rows.append(row)
    return rows


SUMMARY_COLUMNS = ["pods_per_s", "ratio_to_bound", "startup_p99_s", "cp_cpu_ms_per_pod",
                   "etcd_cpu_ms_per_pod", "kubelet_cpu_ms_per_pod", "etcd_txns_per_pod"]


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per burst size over its runs: the median, and the lowest and highest, of each figure."""
    summaries = []
    for replicas in sorted({r["replicas"] for r in rows if r["workload"] == "burst"}):
        runs = [r for r in rows if r["workload"] == "burst" and r["replicas"] == replicas]
        summary: dict[str, Any] = {"replicas": replicas, "runs": len(runs)}
        for column in SUMMARY_COLUMNS:
            values = sorted(float(r[column]) for r in runs)
            summary[column] = (f"{statistics.median(values):.3g} "
                               f"({values[0]:.3g} to {values[-1]:.3g})")
        summaries.append(summary)
    return summaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="1000,5000",
                        help="comma-separated Deployment sizes (one fresh cluster each)")
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--profile", choices=("fast", "default"), default="fast")
    parser.add_argument("--churn-rate", type=float, default=20.0,
                        help="pods created per second in the churn run (0: skip it)")
    parser.add_argument("--churn-seconds", type=float, default=60.0)
    parser.add_argument("--churn-lifetime", type=float, default=10.0,
                        help="seconds a churn pod runs before it is deleted")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each burst size; with more than one, also the median "
                             "and range of each figure (the VM's speed drifts between runs)")
    parser.add_argument("--spy", action="store_true",
                        help="profile the control plane and one kubelet with py-spy")
    add_event_loop_option(parser)
    options = parser.parse_args()
    rows = run_benchmark(_main(options), options.event_loop)
    print()
    print(table(rows, COLUMNS))
    for row in rows:
        print(f"{row['workload']} {row['replicas']}: writes by resource {row['writes_by_resource']}")
        if "event_reasons" in row:
            print(f"{row['workload']} {row['replicas']}: {row['deleted']} pods deleted; "
                  f"events by reason {row['event_reasons']}")
        for stage, moments in row.get("timeline", {}).items():
            print(f"{row['workload']} {row['replicas']}: {stage:8} " + "  ".join(
                f"{name} {seconds:6.2f} s" for name, seconds in moments.items()))
    summaries = summarise(rows) if options.repeat > 1 else []
    if summaries:
        print("\nmedian (lowest to highest) over the runs of each burst size:")
        print(table(summaries, ["replicas", "runs", *SUMMARY_COLUMNS]))
    path = write_result("pod_throughput", {"options": vars(options), "rows": rows,
                                           "summaries": summaries})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
