"""Kubernetes in Action, 2nd edition, chapter 17 ("Deploying per-node workloads with
DaemonSets"), with the book's unchanged manifests on real nodes shaped like the book's kind
cluster: ``kind-control-plane`` (labelled and tainted as a control-plane node), ``kind-worker``
and ``kind-worker2``. Nodes are added, killed, relabelled and tainted as the book does (and as a
real cluster would), with ``kemuctl`` in place of ``kubectl``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest

from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from tests.e2e.kit import (
    TIMING,
    WAIT,
    Cluster,
    PodTimeline,
    eventually,
    eventually_ready,
    gone,
    manifest,
    new_namespace,
    owner,
    pods,
    running_cluster,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CONTROL_PLANE, WORKER, WORKER2 = "kind-control-plane", "kind-worker", "kind-worker2"
NODES = {
    CONTROL_PLANE: {"labels": {"node-role.kubernetes.io/control-plane": ""},
                    "taints": ["node-role.kubernetes.io/control-plane:NoSchedule"]},
    WORKER: {},
    WORKER2: {},
}
WORKERS = {WORKER, WORKER2}
CH17 = "kia2/Chapter17"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("kia2-ds"), NODES) as running:
        yield running


@pytest.fixture
async def ns(cluster: Cluster, api: GrpcClient) -> AsyncIterator[str]:
    """A namespace per test; the nodes are put back as they were afterwards."""
    yield await new_namespace(api, "kiada")
    for name in (WORKER, WORKER2):
        node = await api.get(core_pb2.Node, name)
        custom = [t.key for t in node.spec.taints if not t.key.startswith("node.kubernetes.io/")]
        for key in custom:
            await cluster.kemuctl("taint", "nodes", name, f"{key}-", ok=False)
        if "gpu" in node.metadata.labels:
            await cluster.kemuctl("label", "node", name, "gpu-", ok=False)
    await eventually_ready(api, list(NODES))


def path(name: str) -> str:
    return manifest(f"{CH17}/{name}")


async def daemon_pods(api: GrpcClient, ns: str, name: str = "demo") -> dict[str, core_pb2.Pod]:
    """{node: pod} of the DaemonSet's live pods (one per node is checked)."""
    found: dict[str, core_pb2.Pod] = {}
    for pod in await pods(api, ns, live=True):
        if owner(pod) == ("DaemonSet", name):
            assert pod.spec.node_name not in found, f"two daemon pods on {pod.spec.node_name}"
            found[pod.spec.node_name] = pod
    return found


async def until_pods_on(api: GrpcClient, ns: str, nodes: set[str], *, name: str = "demo",
                        ver: str | None = None, timeout: float = WAIT) -> dict[str, core_pb2.Pod]:
    """Wait until the DaemonSet runs exactly one ready pod on each of ``nodes`` and none
    elsewhere (with label ver=``ver`` if given)."""
    async def check() -> dict[str, core_pb2.Pod]:
        found = await daemon_pods(api, ns, name)
        assert set(found) == nodes, sorted(found)
        for node, pod in found.items():
            ready = next((c.status for c in pod.status.conditions if c.type == "Ready"), "")
            assert pod.status.phase == "Running" and ready == "True", f"{node}: not ready"
            if ver is not None:
                assert pod.metadata.labels.get("ver") == ver, f"{node}: {dict(pod.metadata.labels)}"
        return found
    result: dict[str, core_pb2.Pod] = await eventually(
        check, timeout=timeout, what=f"{name} pods on {sorted(nodes)}")
    return result


async def status(api: GrpcClient, ns: str, name: str = "demo") -> apps_pb2.DaemonSetStatus:
    ds = await api.get(apps_pb2.DaemonSet, name, ns)
    assert ds.status.observed_generation == ds.metadata.generation, "status not caught up"
    return ds.status


async def until_status(api: GrpcClient, ns: str, name: str = "demo", **expected: int) -> None:
    async def check() -> bool:
        current = await status(api, ns, name)
        actual = {field: getattr(current, field) for field in expected}
        assert actual == expected, actual
        return True
    await eventually(check, what=f"{name} status {expected}")


async def ds_row(cluster: Cluster, ns: str, name: str = "demo") -> dict[str, str]:
    [row] = (await cluster.kemuctl("get", "ds", name, "-n", ns)).table()
    return row


def counts(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[c] for c in ("DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                                  "NODE SELECTOR"))


async def test_one_demo_pod_per_worker_node_and_one_for_each_node_added(
        cluster: Cluster, api: GrpcClient, ns: str) -> None:
    created = await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    assert created.stdout.strip() == "daemonset.apps/demo created"
    # The control-plane node's taint keeps the demo pod off it: two pods, not three.
    placed = await until_pods_on(api, ns, WORKERS)
    await until_status(api, ns, desired_number_scheduled=2, number_available=2)
    assert counts(await ds_row(cluster, ns)) == ("2", "2", "2", "2", "2", "<none>")

    # What the controller adds to each pod: its node, as required node affinity, and the
    # daemon tolerations.
    pod = placed[WORKER]
    assert pod.metadata.generate_name == "demo-"
    [term] = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms
    assert [(f.key, f.operator, list(f.values)) for f in term.match_fields] == \
        [("metadata.name", "In", [WORKER])]
    tolerations = {(t.key, t.effect, t.HasField("toleration_seconds")) for t in pod.spec.tolerations}
    assert tolerations == {
        ("node.kubernetes.io/not-ready", "NoExecute", False),
        ("node.kubernetes.io/unreachable", "NoExecute", False),
        ("node.kubernetes.io/disk-pressure", "NoSchedule", False),
        ("node.kubernetes.io/memory-pressure", "NoSchedule", False),
        ("node.kubernetes.io/pid-pressure", "NoSchedule", False),
        ("node.kubernetes.io/unschedulable", "NoSchedule", False)}

    # A deleted daemon pod is replaced on the same node.
    await cluster.kemuctl("delete", "pod", pod.metadata.name, "-n", ns)
    again = await until_pods_on(api, ns, WORKERS)
    assert again[WORKER].metadata.name != pod.metadata.name

    # A node that joins gets a pod; a node that is removed takes its pod away.
    cluster.local.add_node("kind-worker3")
    try:
        await until_pods_on(api, ns, WORKERS | {"kind-worker3"})
        await until_status(api, ns, desired_number_scheduled=3, number_ready=3)
        extra = (await daemon_pods(api, ns))["kind-worker3"]
        cluster.local.stop_node("kind-worker3")
        await cluster.kemuctl("delete", "node", "kind-worker3")
        await gone(api, core_pb2.Pod, extra.metadata.name, ns)
        await until_status(api, ns, desired_number_scheduled=2, number_ready=2)
    finally:
        cluster.local.stop_node("kind-worker3")
        cluster.local.nodes.pop("kind-worker3", None)


async def test_a_dead_node_keeps_its_daemon_pod(cluster: Cluster, api: GrpcClient,
                                                ns: str) -> None:
    await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    placed = await until_pods_on(api, ns, WORKERS)
    cluster.local.kill_node(WORKER2)
    try:
        # Unreachable: its NoSchedule taint means "should not run a new one here", so the node
        # no longer counts as desired and its pod as misscheduled; the pod tolerates the
        # NoExecute taint for ever and stays (marked not ready), as in Kubernetes.
        await until_status(api, ns, desired_number_scheduled=1, current_number_scheduled=1,
                           number_misscheduled=1, number_ready=1)
        async def no_execute() -> bool:
            node = await api.get(core_pb2.Node, WORKER2)
            assert ("node.kubernetes.io/unreachable", "NoExecute") in \
                {(t.key, t.effect) for t in node.spec.taints}
            return True
        await eventually(no_execute, what="the NoExecute taint")
        await until_status(api, ns, desired_number_scheduled=1, number_misscheduled=1)
        kept = (await daemon_pods(api, ns))[WORKER2]
        assert kept.metadata.uid == placed[WORKER2].metadata.uid
    finally:
        cluster.local.restart_node(WORKER2)
    await eventually_ready(api, [WORKER2])
    after = await until_pods_on(api, ns, WORKERS)
    assert after[WORKER2].metadata.uid == placed[WORKER2].metadata.uid
    await until_status(api, ns, desired_number_scheduled=2, number_misscheduled=0,
                       number_ready=2)


async def test_a_node_selector_picks_the_nodes_by_label(cluster: Cluster, api: GrpcClient,
                                                        ns: str) -> None:
    await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    placed = await until_pods_on(api, ns, WORKERS)
    # The same DaemonSet, now only for nodes labelled gpu=cuda: none is, so its pods go.
    configured = await cluster.kemuctl("apply", "-f", path("ds.demo.nodeSelector.yaml"), "-n", ns)
    assert configured.stdout.strip() == "daemonset.apps/demo configured"
    for pod in placed.values():
        await gone(api, core_pb2.Pod, pod.metadata.name, ns)
    await until_status(api, ns, desired_number_scheduled=0, current_number_scheduled=0)
    assert counts(await ds_row(cluster, ns)) == ("0", "0", "0", "0", "0", "gpu=cuda")

    labelled = await cluster.kemuctl("label", "node", WORKER2, "gpu=cuda")
    assert labelled.stdout.strip() == f"node/{WORKER2} labeled"
    await until_pods_on(api, ns, {WORKER2})
    await cluster.kemuctl("label", "node", WORKER, "gpu=cuda")
    both = await until_pods_on(api, ns, WORKERS)
    # Relabelling a node away from the selector removes its pod.
    await cluster.kemuctl("label", "node", WORKER2, "gpu-")
    await gone(api, core_pb2.Pod, both[WORKER2].metadata.name, ns)
    await until_pods_on(api, ns, {WORKER})
    await until_status(api, ns, desired_number_scheduled=1, number_ready=1)

    # kubernetes.io/arch: every node with the architecture label amd64 (the kubelet sets it
    # from the machine it runs on); the control-plane node's taint still applies.
    await cluster.kemuctl("apply", "-f", path("ds.demo.amd64.yaml"), "-n", ns)
    nodes = (await api.list(core_pb2.Node)).items
    amd64 = {n.metadata.name for n in nodes if n.metadata.labels["kubernetes.io/arch"] == "amd64"}
    await until_pods_on(api, ns, amd64 & WORKERS)

    # nodeName in the template: that node only, whatever its labels.
    await cluster.kemuctl("apply", "-f", path("ds.demo.nodeName.yaml"), "-n", ns)
    [only] = (await until_pods_on(api, ns, {WORKER2})).values()
    assert only.spec.node_name == WORKER2
    await until_status(api, ns, desired_number_scheduled=1, number_ready=1)


async def test_taints_decide_which_nodes_keep_and_get_daemon_pods(
        cluster: Cluster, api: GrpcClient, ns: str) -> None:
    await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    placed = await until_pods_on(api, ns, WORKERS)
    # A NoSchedule taint: the existing pod stays, but the node is no longer "desired".
    tainted = await cluster.kemuctl("taint", "nodes", WORKER, "dedicated=gpu:NoSchedule")
    assert tainted.stdout.strip() == f"node/{WORKER} tainted"
    await until_status(api, ns, desired_number_scheduled=1, number_misscheduled=1)
    assert (await daemon_pods(api, ns))[WORKER].metadata.uid == placed[WORKER].metadata.uid
    # A NoExecute taint the pod does not tolerate: the pod goes, none comes back.
    await cluster.kemuctl("taint", "nodes", WORKER2, "maintenance=now:NoExecute")
    await gone(api, core_pb2.Pod, placed[WORKER2].metadata.name, ns)
    await until_pods_on(api, ns, {WORKER})

    # Tolerating every taint: a pod on every node, the control plane included.
    await cluster.kemuctl("apply", "-f", path("ds.demo.tolerateAllTaints.yaml"), "-n", ns)
    await until_pods_on(api, ns, set(NODES))
    await until_status(api, ns, desired_number_scheduled=3, number_ready=3,
                       number_misscheduled=0)
    assert counts(await ds_row(cluster, ns))[:3] == ("3", "3", "3")

    # Untainted again, the plain manifest is back to the two workers.
    await cluster.kemuctl("taint", "nodes", WORKER, "dedicated:NoSchedule-")
    await cluster.kemuctl("taint", "nodes", WORKER2, "maintenance-")
    await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    await until_pods_on(api, ns, WORKERS, timeout=90)


async def test_rolling_update_then_on_delete_then_readiness(cluster: Cluster, api: GrpcClient,
                                                            ns: str) -> None:
    await cluster.kemuctl("apply", "-f", path("ds.demo.yaml"), "-n", ns)
    v1 = await until_pods_on(api, ns, WORKERS)
    min_ready = 30 * TIMING.scale

    # As in the book, the pods have been running a while: longer than the new minReadySeconds
    # (an old pod not yet available under it would be replaced at once, as in Kubernetes).
    async def settled() -> bool:
        for pod in (await daemon_pods(api, ns)).values():
            ready = next(c for c in pod.status.conditions if c.type == "Ready")
            # The stamp has one-second precision.
            assert time.time() - parse_time(ready.last_transition_time) > min_ready + 1.0
        return True
    await eventually(settled, interval=0.1, what="the demo pods ready for a while")

    # RollingUpdate, maxSurge 0, maxUnavailable 1, minReadySeconds 30: one node at a time;
    # the next old pod goes only after the new one has been ready for minReadySeconds.
    async with PodTimeline(api, ns) as timeline:
        await cluster.kemuctl("apply", "-f", path("ds.demo.v2.rollingUpdate.yaml"), "-n", ns)
        await until_pods_on(api, ns, WORKERS, ver="v2", timeout=90)
    rolled = await cluster.kemuctl("rollout", "status", "ds/demo", "-n", ns)
    assert rolled.lines[-1] == 'daemon set "demo" successfully rolled out'
    first_new_ready: float | None = None
    second_old_deleted: float | None = None
    for moment, snapshot in timeline.snapshots:
        old_up = [p for p in snapshot if p.uid in {v.metadata.uid for v in v1.values()}
                  and not p.deleting]
        new_ready = [p for p in snapshot if p.labels.get("ver") == "v2" and p.ready]
        # Never both nodes without a ready daemon pod.
        covered = {p.node for p in old_up if p.ready} | {p.node for p in new_ready}
        assert len(covered) >= 1, f"at {moment:.2f}s no node had a ready demo pod: {snapshot}"
        assert len(old_up) + len([p for p in snapshot if p.labels.get("ver") == "v2"
                                  and not p.deleting]) <= 2, "a surge pod with maxSurge 0"
        if new_ready and first_new_ready is None:
            first_new_ready = moment
        if len(old_up) == 0 and second_old_deleted is None:
            second_old_deleted = moment
    assert first_new_ready is not None and second_old_deleted is not None
    waited = second_old_deleted - first_new_ready
    print(f"\nrolling update: second old pod deleted {waited:.2f}s after the first new pod "
          f"was ready (minReadySeconds {min_ready:.2f}s)")
    assert waited >= min_ready - 0.1
    history = await cluster.kemuctl("rollout", "history", "ds/demo", "-n", ns)
    assert [line.split() for line in history.lines[1:] if line.strip()] == \
        [["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "<none>"]]

    # OnDelete: the new template waits until someone deletes a pod.
    await cluster.kemuctl("apply", "-f", path("ds.demo.v3.onDelete.yaml"), "-n", ns)
    await until_status(api, ns, updated_number_scheduled=0, number_ready=2)
    v2 = await until_pods_on(api, ns, WORKERS, ver="v2")
    row = await ds_row(cluster, ns)
    assert (row["DESIRED"], row["UP-TO-DATE"]) == ("2", "0")
    await cluster.kemuctl("delete", "pod", v2[WORKER].metadata.name, "-n", ns)
    mixed = await until_pods_on(api, ns, WORKERS)
    assert mixed[WORKER].metadata.labels["ver"] == "v3"
    assert mixed[WORKER2].metadata.uid == v2[WORKER2].metadata.uid
    await until_status(api, ns, updated_number_scheduled=1)

    # A readiness probe (exec, every second): back to RollingUpdate, each new pod counts once
    # its probe has passed.
    await cluster.kemuctl("apply", "-f", path("ds.demo.readinessProbe.yaml"), "-n", ns)

    async def probed() -> bool:
        found = await until_pods_on(api, ns, WORKERS)
        for pod in found.values():
            assert "ver" not in pod.metadata.labels
            [container] = pod.status.container_statuses
            assert container.ready and container.started
        return True
    await eventually(probed, timeout=90, what="probed pods")
    await until_status(api, ns, updated_number_scheduled=2, number_available=2)


async def test_node_agents_with_host_network_and_host_ports(cluster: Cluster, api: GrpcClient,
                                                           ns: str) -> None:
    await cluster.kemuctl("apply", "-f", path("ds.node-agent.yaml"), "-n", ns)
    agents = await until_pods_on(api, ns, WORKERS, name="node-agent")
    described = (await cluster.kemuctl("describe", "pod", agents[WORKER].metadata.name,
                                       "-n", ns)).stdout
    assert "NODE_NAME:   (v1:spec.nodeName)" in described or f"NODE_NAME:  {WORKER}" in \
        described.replace("   ", "  "), described
    nodes = {n.metadata.name: n for n in (await api.list(core_pb2.Node)).items}

    def node_ip(name: str) -> str:
        return next(a.address for a in nodes[name].status.addresses if a.type == "InternalIP")

    # The pod network: each pod its own IP from its node's pod CIDR.
    for name, pod in agents.items():
        assert pod.status.pod_ip != node_ip(name) and pod.status.host_ip == node_ip(name)

    # hostNetwork: the pod uses the node's network, hence its IP.
    await cluster.kemuctl("apply", "-f", path("ds.node-agent.hostNetwork.yaml"), "-n", ns)

    async def on_host_network() -> bool:
        found = await until_pods_on(api, ns, WORKERS, name="node-agent")
        for name, pod in found.items():
            assert pod.spec.host_network and pod.status.pod_ip == node_ip(name), name
        return True
    await eventually(on_host_network, timeout=90, what="agents on the host network")

    # hostPort: port 11559 of each node forwards to its agent.
    await cluster.kemuctl("apply", "-f", path("ds.node-agent.hostPort.yaml"), "-n", ns)

    async def on_host_port() -> bool:
        found = await until_pods_on(api, ns, WORKERS, name="node-agent")
        for name, pod in found.items():
            assert not pod.spec.host_network, name
            assert [p.host_port for p in pod.spec.containers[0].ports] == [11559], name
            assert pod.status.pod_ip != node_ip(name)
        return True
    await eventually(on_host_port, timeout=90, what="agents on a host port")
    deleted = await cluster.kemuctl("delete", "ds", "node-agent", "-n", ns)
    assert deleted.stdout.strip() == 'daemonset.apps "node-agent" deleted'

    async def no_agents() -> bool:
        assert not await pods(api, ns), [p.metadata.name for p in await pods(api, ns)]
        return True
    await eventually(no_agents, what="the agents deleted with their DaemonSet")
