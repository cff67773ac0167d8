"""How fast DaemonSets follow the nodes: joins and relabels, on real kubelet processes.

- joins: a DaemonSet exists; ``--joins`` kubelets join one after another. Per join: kubelet
  process start → Node in the API, Node in the API → daemon pod created, → bound, → Running
  (every moment observed by a watch of this benchmark).
- relabels: a DaemonSet with ``nodeSelector bench/daemon=yes``; the label is put on each node in
  turn (→ its daemon pod created, → Running) and taken off again (→ the pod's deletion starts,
  → the pod is gone).

    python -m bench.daemonset_reaction [--joins 20] [--profile fast]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.cluster import BenchCluster, Watcher, pod_template
from bench.common import add_event_loop_option, load_note, run_benchmark, summary, table, write_result
from controlplane.controllers.daemonset.template import target_node_name
from kemu.v1 import apps_pb2, core_pb2

NAMESPACE = "bench-ds"
LABEL = "bench/daemon"


def _daemonset(name: str, selector: dict[str, str] | None = None) -> apps_pb2.DaemonSet:
    ds = apps_pb2.DaemonSet()
    ds.metadata.name = name
    ds.metadata.namespace = NAMESPACE
    ds.spec.selector.match_labels["app"] = name
    ds.spec.template.CopyFrom(pod_template({"app": name}))
    ds.spec.template.spec.node_selector.update(selector or {})
    return ds


class DaemonPods:
    """Per (DaemonSet, node): when its pod was created, bound, Running, terminating, gone."""

    def __init__(self) -> None:
        self.moments: dict[tuple[str, str], dict[str, float]] = {}
        self.nodes_seen: dict[str, float] = {}

    def on_pod(self, kind: str, pod: core_pb2.Pod, now: float) -> None:
        owner = pod.metadata.labels.get("app", "")
        node = pod.spec.node_name or target_node_name(pod) or ""
        moments = self.moments.setdefault((owner, node), {})
        moments.setdefault("created", now)
        if pod.spec.node_name:
            moments.setdefault("bound", now)
        if pod.status.phase == "Running":
            moments.setdefault("running", now)
        if pod.metadata.deletion_timestamp or kind == "DELETED":
            # A pod the kubelet removes at once may be gone before its deletion was seen.
            moments.setdefault("terminating", now)
        if kind == "DELETED":
            moments.setdefault("gone", now)

    def on_node(self, kind: str, node: core_pb2.Node, now: float) -> None:
        self.nodes_seen.setdefault(node.metadata.name, now)

    def get(self, owner: str, node: str) -> dict[str, float]:
        return self.moments.get((owner, node), {})

    def reset(self, owner: str, node: str) -> None:
        self.moments.pop((owner, node), None)


def _spans(samples: list[dict[str, float]], spans: list[tuple[str, str, str]]) -> dict[str, Any]:
    """p50/p99 of each named span (from, to) over the samples that have both moments."""
    out: dict[str, Any] = {}
    for name, start, end in spans:
        values = [s[end] - s[start] for s in samples if start in s and end in s]
        out[name] = summary(values)
    return out


async def joins(cluster: BenchCluster, watch_pods: Watcher, pods: DaemonPods,
                count: int) -> dict[str, Any]:
    await cluster.api.create(_daemonset("every-node"))
    samples: list[dict[str, float]] = []
    for i in range(count):
        name = f"join-{i:03d}"
        spawned = time.monotonic()
        cluster.add_nodes([name])
        ok = await watch_pods.wait(lambda n=name: "running" in pods.get("every-node", n),  # type: ignore[misc]
                                   timeout=60)
        if not ok:
            raise TimeoutError(f"the daemon pod of {name} was not Running after 60 s")
        sample = {"spawned": spawned, "node": pods.nodes_seen.get(name, spawned),
                  **pods.get("every-node", name)}
        samples.append(sample)
    return _spans(samples, [("spawn_to_node", "spawned", "node"),
                            ("node_to_created", "node", "created"),
                            ("node_to_bound", "node", "bound"),
                            ("node_to_running", "node", "running"),
                            ("spawn_to_running", "spawned", "running")])


async def relabels(cluster: BenchCluster, watch_pods: Watcher, pods: DaemonPods,
                   nodes: list[str]) -> dict[str, Any]:
    await cluster.api.create(_daemonset("labelled", {LABEL: "yes"}))
    on: list[dict[str, float]] = []
    off: list[dict[str, float]] = []
    for name in nodes:
        pods.reset("labelled", name)
        started = time.monotonic()
        await cluster.api.patch(core_pb2.Node, name, "", {"metadata": {"labels": {LABEL: "yes"}}})
        if not await watch_pods.wait(lambda n=name: "running" in pods.get("labelled", n),  # type: ignore[misc]
                                     timeout=60):
            raise TimeoutError(f"no daemon pod Running on {name} 60 s after labelling it")
        on.append({"labelled": started, **pods.get("labelled", name)})
        started = time.monotonic()
        await cluster.api.patch(core_pb2.Node, name, "", {"metadata": {"labels": {LABEL: None}}})
        if not await watch_pods.wait(lambda n=name: "gone" in pods.get("labelled", n),  # type: ignore[misc]
                                     timeout=60):
            raise TimeoutError(f"the daemon pod on {name} still there 60 s after unlabelling")
        off.append({"unlabelled": started, **pods.get("labelled", name)})
    return {**_spans(on, [("label_to_created", "labelled", "created"),
                          ("label_to_running", "labelled", "running")]),
            **_spans(off, [("unlabel_to_terminating", "unlabelled", "terminating"),
                           ("unlabel_to_gone", "unlabelled", "gone")])}


async def _main(options: argparse.Namespace) -> dict[str, Any]:
    load = load_note()
    cluster = BenchCluster(profile=options.profile)
    pods = DaemonPods()
    with cluster:
        try:
            await cluster.ensure_namespace(NAMESPACE)
            watch_pods = Watcher(cluster.api, core_pb2.Pod, NAMESPACE, pods.on_pod)
            watch_nodes = Watcher(cluster.api, core_pb2.Node, "", pods.on_node)
            await watch_pods.start()
            await watch_nodes.start()
            join = await joins(cluster, watch_pods, pods, options.joins)
            names = sorted(cluster.local.nodes)
            relabel = await relabels(cluster, watch_pods, pods, names)
            await watch_pods.stop()
            await watch_nodes.stop()
        finally:
            await cluster.close()
    return {"profile": options.profile, "joins": options.joins, "join": join,
            "relabel": relabel, **load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--profile", choices=("fast", "default"), default="fast")
    add_event_loop_option(parser)
    options = parser.parse_args()
    data = run_benchmark(_main(options), options.event_loop)
    rows = [{"span": name, "count": s["count"], "p50_s": s["p50"], "p99_s": s["p99"],
             "max_s": s["max"]} for part in ("join", "relabel") for name, s in data[part].items()]
    print(table(rows, ["span", "count", "p50_s", "p99_s", "max_s"]))
    print(f"profile {options.profile}; load before: {data['load1']}")
    path = write_result("daemonset_reaction", {"options": vars(options), "rows": rows, **data})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
