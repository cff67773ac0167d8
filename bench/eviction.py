"""From a killed node to its pods running elsewhere: detection, eviction and replacement.

A cluster of ``--nodes`` kubelets runs two Deployments spread over every node: ``intolerant``
pods tolerate the ``unreachable``/``not-ready`` NoExecute taints for 0 s (evicted as soon as the
node is tainted) and ``default`` pods carry the 300 s tolerations every pod gets by default
(times the profile's scale: 15 s in the fast profile). Then ``--kills`` kubelets are killed
(SIGKILL), one after another; after each, measured from the kill (all moments observed by a
watch of this benchmark):

- Node Ready → Unknown (the node monitor grace period plus a monitor period at most);
- the NoExecute ``unreachable`` taint on the Node;
- every ``intolerant`` pod of that node terminating (evicted), and the replacements Running;
- the same for the ``default`` pods (after their tolerationSeconds).

Only eviction and replacement are timed here; the chaos suite owns broader failure scenarios.

    python -m bench.eviction [--nodes 10] [--kills 3] [--pods-per-node 3]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.cluster import BenchCluster, Watcher
from bench.cluster import deployment as bench_deployment
from bench.common import add_event_loop_option, load_note, run_benchmark, summary, table, write_result
from kemu.timing import PROFILES
from kemu.v1 import apps_pb2, core_pb2

NAMESPACE = "bench-failure"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def _deployment(name: str, replicas: int, tolerate_seconds: int | None) -> apps_pb2.Deployment:
    deployment = bench_deployment(name, NAMESPACE, replicas)
    if tolerate_seconds is not None:
        for key in (UNREACHABLE, NOT_READY):
            deployment.spec.template.spec.tolerations.add(
                key=key, operator="Exists", effect="NoExecute",
                toleration_seconds=tolerate_seconds)
    return deployment


class World:
    """What the watches saw: node readiness and taints, pods per node and their state."""

    def __init__(self) -> None:
        self.ready: dict[str, str] = {}
        self.tainted: dict[str, float] = {}
        self.unknown: dict[str, float] = {}
        self.pods: dict[str, core_pb2.Pod] = {}
        self.terminating: dict[str, float] = {}
        self.running_at: dict[str, float] = {}

    def on_node(self, kind: str, node: core_pb2.Node, now: float) -> None:
        name = node.metadata.name
        status = next((c.status for c in node.status.conditions if c.type == "Ready"), "")
        if status != self.ready.get(name) and status == "Unknown":
            self.unknown[name] = now
        self.ready[name] = status
        if any(t.key == UNREACHABLE and t.effect == "NoExecute" for t in node.spec.taints):
            self.tainted.setdefault(name, now)
        else:
            self.tainted.pop(name, None)

    def on_pod(self, kind: str, pod: core_pb2.Pod, now: float) -> None:
        uid = pod.metadata.uid
        if kind == "DELETED":
            self.pods.pop(uid, None)
            self.terminating.setdefault(uid, now)
            return
        self.pods[uid] = pod
        if pod.metadata.deletion_timestamp:
            self.terminating.setdefault(uid, now)
        if pod.status.phase == "Running":
            self.running_at.setdefault(uid, now)

    def live(self, app: str) -> list[core_pb2.Pod]:
        return [p for p in self.pods.values() if p.metadata.labels.get("app") == app
                and not p.metadata.deletion_timestamp]

    def running(self, app: str) -> int:
        return sum(1 for p in self.live(app) if p.metadata.uid in self.running_at)


async def kill_one(cluster: BenchCluster, world: World, watcher: Watcher, node: str,
                   replicas: dict[str, int], timeout: float) -> dict[str, float]:
    victims = {app: [p.metadata.uid for p in world.live(app) if p.spec.node_name == node]
               for app in replicas}
    killed = time.monotonic()
    cluster.local.kill_node(node)
    moments: dict[str, float] = {"killed": killed}

    def settled(app: str) -> bool:
        gone = all(uid in world.terminating for uid in victims[app])
        return gone and world.running(app) >= replicas[app]

    ok = await watcher.wait(lambda: node in world.unknown and world.unknown[node] > killed,
                            timeout)
    if not ok:
        raise TimeoutError(f"{node} not Unknown {timeout:.0f} s after it was killed")
    moments["unknown"] = world.unknown[node]
    for app in replicas:
        if not await watcher.wait(lambda a=app: settled(a), timeout):  # type: ignore[misc]
            raise TimeoutError(f"{app} pods of {node} not replaced after {timeout:.0f} s")
        evicted = [world.terminating[uid] for uid in victims[app]]
        if evicted:
            moments[f"{app}_evicted"] = max(evicted)
        moments[f"{app}_replaced"] = time.monotonic()
    if node in world.tainted:
        moments["tainted"] = world.tainted[node]
    return {name: moment - killed for name, moment in moments.items() if name != "killed"}


async def _main(options: argparse.Namespace) -> dict[str, Any]:
    load = load_note()
    timing = PROFILES[options.profile]
    cluster = BenchCluster(profile=options.profile)
    world = World()
    samples: list[dict[str, float]] = []
    replicas = {"intolerant": options.nodes * options.pods_per_node,
                "default": options.nodes * options.pods_per_node}
    with cluster:
        try:
            names = [f"node-{i:03d}" for i in range(options.nodes)]
            cluster.add_nodes(names)
            await cluster.wait_nodes_ready(names, timeout=120 + 2 * options.nodes)
            await cluster.ensure_namespace(NAMESPACE)
            nodes = Watcher(cluster.api, core_pb2.Node, "", world.on_node)
            pods = Watcher(cluster.api, core_pb2.Pod, NAMESPACE, world.on_pod)
            await nodes.start()
            await pods.start()
            await cluster.api.create(_deployment("intolerant", replicas["intolerant"], 0))
            await cluster.api.create(_deployment("default", replicas["default"], None))
            if not await pods.wait(lambda: all(world.running(a) >= n for a, n in replicas.items()),
                                   timeout=120):
                raise TimeoutError("the Deployments did not become Running")
            # Long enough for the default tolerations (300 s x scale) plus detection.
            timeout = 300 * timing.scale + 4 * timing.node_monitor_grace_period + 60
            for node in names[: options.kills]:
                samples.append(await kill_one(cluster, world, pods, node, replicas, timeout))
            await nodes.stop()
            await pods.stop()
        finally:
            await cluster.close()
    spans = sorted({k for s in samples for k in s})
    return {"profile": options.profile, "nodes": options.nodes, "kills": options.kills,
            "node_monitor_grace_period": timing.node_monitor_grace_period,
            "default_toleration_s": 300 * timing.scale,
            "spans": {name: summary([s[name] for s in samples if name in s]) for name in spans},
            "samples": samples, **load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--pods-per-node", type=int, default=3,
                        help="pods of each Deployment per node")
    parser.add_argument("--profile", choices=("fast", "default"), default="fast")
    add_event_loop_option(parser)
    options = parser.parse_args()
    data = run_benchmark(_main(options), options.event_loop)
    rows = [{"after_kill": name, "count": s["count"], "p50_s": s["p50"], "max_s": s["max"]}
            for name, s in data["spans"].items()]
    print(table(rows, ["after_kill", "count", "p50_s", "max_s"]))
    print(f"profile {options.profile}: node monitor grace {data['node_monitor_grace_period']} s, "
          f"default toleration {data['default_toleration_s']} s; load before: {data['load1']}")
    path = write_result("eviction", {"options": vars(options), "rows": rows, **data})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
