"""kemu under docker compose: the module's project starts with three kubelet containers, and the
tests walk it through what a user of compose does, in order: look at the nodes, run the book's
DaemonSet (Kubernetes in Action 2nd ed. ch. 17) with kemuctl against the published port, scale
the kubelet service to five, ``docker kill`` one kubelet, and stop and start the control plane.

Each test builds on the state the previous one left (one cluster per module keeps the run
short); each asserts its own starting point so that a failure says where things went wrong.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from kemu.api.errors import ApiError
from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, coordination_pb2, core_pb2
from tests.compose.project import ComposeProject
from tests.support.manifests import SHARED
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.compose]

DAEMONSET = SHARED / "kia2" / "Chapter17" / "ds.demo.yaml"
DAEMONSET_WITH_NODE_SELECTOR = SHARED / "kia2" / "Chapter17" / "ds.demo.nodeSelector.yaml"
NS = "default"
# Generous: the machine is small and shared; the fast profile needs a few seconds for each.
WAIT = 90.0


# -- helpers --------------------------------------------------------------------------------
def kemuctl(project: ComposeProject, *args: str) -> str:
    """kemuctl as a user runs it, against the API port compose published."""
    result = subprocess.run([sys.executable, "-m", "kemuctl", "--server", project.server, *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kemuctl {' '.join(args)}: {result.stderr}"
    return result.stdout


def ready_status(node: core_pb2.Node) -> str:
    return next((c.status for c in node.status.conditions if c.type == "Ready"), "")


async def nodes(client: GrpcClient) -> dict[str, core_pb2.Node]:
    try:
        return {n.metadata.name: n for n in (await client.list(core_pb2.Node)).items}
    except ApiError as exc:  # the API is down or restarting: keep waiting
        raise AssertionError(f"listing nodes: {exc}") from None


async def daemon_pods(client: GrpcClient) -> list[core_pb2.Pod]:
    try:
        return list((await client.list(core_pb2.Pod, NS, label_selector="app=demo")).items)
    except ApiError as exc:
        raise AssertionError(f"listing pods: {exc}") from None


def running_on(pods: list[core_pb2.Pod]) -> dict[str, str]:
    """node name -> pod name, for the Running pods not being deleted."""
    return {p.spec.node_name: p.metadata.name for p in pods
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp}


def kubelet_nodes(project: ComposeProject) -> list[str]:
    return [project.node_name(c) for c in project.containers("kubelet")]


async def wait_ready_nodes(client: GrpcClient, expected: set[str]) -> None:
    async def check() -> bool:
        ready = {name for name, n in (await nodes(client)).items() if ready_status(n) == "True"}
        assert expected <= ready, f"not Ready yet: {sorted(expected - ready)}"
        return True

    await eventually(check, timeout=WAIT, interval=0.5, what=f"{len(expected)} Ready nodes")


async def wait_daemon_pods_on(client: GrpcClient, expected: set[str]) -> None:
    async def check() -> bool:
        placed = running_on(await daemon_pods(client))
        assert set(placed) == expected, f"Running daemon pods on {sorted(placed)}"
        return True

    await eventually(check, timeout=WAIT, interval=0.5,
                     what=f"a Running daemon pod on each of {sorted(expected)}")


@pytest.fixture
async def client(compose_cluster: ComposeProject) -> AsyncIterator[GrpcClient]:
    api = GrpcClient(compose_cluster.server, timeout=10.0)
    yield api
    await api.close()


# -- the walk-through -----------------------------------------------------------------------
async def test_each_kubelet_container_is_a_ready_node(compose_cluster: ComposeProject,
                                                      client: GrpcClient) -> None:
    names = kubelet_nodes(compose_cluster)
    assert len(set(names)) == 3
    await wait_ready_nodes(client, set(names))
    assert set(await nodes(client)) == set(names)
    listed = kemuctl(compose_cluster, "get", "nodes").splitlines()
    assert listed[0].split()[:2] == ["NAME", "STATUS"]
    assert {tuple(row.split()[:2]) for row in listed[1:]} == {(n, "Ready") for n in names}


def test_containers_carry_roles_run_under_init_and_publish_only_the_api(
        compose_cluster: ComposeProject) -> None:
    project = compose_cluster
    containers = project.containers()
    assert len(containers) == 5  # etcd, controlplane, 3 kubelets
    internal, api = f"{project.name}_cluster", f"{project.name}_api"
    assert project.inspect(internal)["Internal"] is True
    assert project.inspect(api)["Options"]["com.docker.network.bridge.enable_ip_masquerade"] \
        == "false"
    for container in containers:
        details = project.inspect(container)
        service = details["Config"]["Labels"]["com.docker.compose.service"]
        assert details["Config"]["Labels"]["io.kemu.role"] == service
        assert details["HostConfig"]["Init"] is True
        assert details["State"]["Health"]["Status"] in {"starting", "healthy"}
        networks = set(details["NetworkSettings"]["Networks"])
        bindings = details["HostConfig"]["PortBindings"] or {}
        if service == "controlplane":
            assert bindings == {"6443/tcp": [{"HostIp": "127.0.0.1",
                                              "HostPort": project.settings["KEMU_API_PORT"]}]}
            assert networks == {internal, api}
        else:
            assert bindings == {}, f"{service} publishes {bindings}"
            assert networks == {internal}


async def test_the_books_daemonset_runs_a_pod_on_every_node(compose_cluster: ComposeProject,
                                                            client: GrpcClient) -> None:
    names = set(kubelet_nodes(compose_cluster))
    out = kemuctl(compose_cluster, "apply", "-f", str(DAEMONSET))
    assert out.strip() == "daemonset.apps/demo created"
    await wait_daemon_pods_on(client, names)


async def test_scaling_the_kubelet_service_to_five_adds_nodes_and_daemon_pods(
        compose_cluster: ComposeProject, client: GrpcClient) -> None:
    before = compose_cluster.containers("kubelet")
    assert len(before) == 3
    compose_cluster.compose("up", "-d", "--scale", "kubelet=5")
    after = compose_cluster.containers("kubelet")
    assert len(after) == 5
    assert set(before) <= set(after), "scaling up recreated running kubelets"
    names = set(kubelet_nodes(compose_cluster))
    assert len(names) == 5
    await wait_ready_nodes(client, names)
    await wait_daemon_pods_on(client, names)

    async def counted() -> bool:
        ds = await client.get(apps_pb2.DaemonSet, "demo", NS)
        status = (ds.status.desired_number_scheduled, ds.status.current_number_scheduled)
        assert status == (5, 5), ds.status
        return True

    await eventually(counted, timeout=WAIT, interval=0.5, what="the DaemonSet's status")


async def test_a_killed_kubelet_leaves_its_node_unknown_and_its_daemon_pod_bound(
        compose_cluster: ComposeProject, client: GrpcClient) -> None:
    victim = compose_cluster.containers("kubelet")[-1]
    node = compose_cluster.node_name(victim)
    [pod] = [p for p in await daemon_pods(client) if p.spec.node_name == node]
    compose_cluster.docker("kill", victim)
    state = compose_cluster.inspect(victim)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)

    async def unknown() -> bool:
        n = (await nodes(client))[node]
        assert ready_status(n) == "Unknown", f"Ready is {ready_status(n)}"
        taints = {(t.key, t.effect) for t in n.spec.taints}
        assert ("node.kubernetes.io/unreachable", "NoExecute") in taints, taints
        return True

    await eventually(unknown, timeout=WAIT, interval=0.5, what=f"node {node} Unknown")

    async def marked_not_ready() -> core_pb2.Pod:
        current = await client.get(core_pb2.Pod, pod.metadata.name, NS)
        ready = next((c.status for c in current.status.conditions if c.type == "Ready"), "")
        assert ready == "False", f"pod Ready is {ready!r}"
        return current

    # The node lifecycle controller marked the pod not Ready and tainted the node NoExecute;
    # a daemon pod tolerates that taint, so it stays bound to its node and is not deleted.
    current = await eventually(marked_not_ready, timeout=WAIT, interval=0.5,
                               what="the pod on the dead node marked not Ready")
    assert current.metadata.uid == pod.metadata.uid
    assert current.spec.node_name == node
    assert not current.metadata.deletion_timestamp
    live = set(kubelet_nodes(compose_cluster))
    assert node not in live and len(live) == 4
    assert set(running_on(await daemon_pods(client))) >= live


async def test_control_plane_restart_keeps_every_object_and_controllers_resume(
        compose_cluster: ComposeProject, client: GrpcClient) -> None:
    project = compose_cluster
    live = set(kubelet_nodes(project))
    assert len(live) == 4
    all_nodes = await nodes(client)
    dead = (set(all_nodes) - live).pop()
    uids_before = {
        "nodes": {name: n.metadata.uid for name, n in all_nodes.items()},
        "pods": {p.metadata.name: p.metadata.uid for p in await daemon_pods(client)},
        "daemonset": (await client.get(apps_pb2.DaemonSet, "demo", NS)).metadata.uid,
    }
    [controlplane] = project.containers("controlplane")

    project.compose("stop", "controlplane")
    state = project.inspect(controlplane)["State"]
    # Exit code 0: SIGTERM reached kemu through the init and it stopped by itself within
    # compose's timeout (after 10 s Docker would have sent SIGKILL: exit code 137).
    assert (state["Status"], state["ExitCode"]) == ("exited", 0), state
    restarted = time.time()
    project.compose("start", "controlplane")

    async def same_objects() -> bool:
        uids = {
            "nodes": {name: n.metadata.uid for name, n in (await nodes(client)).items()},
            "pods": {p.metadata.name: p.metadata.uid for p in await daemon_pods(client)},
            "daemonset": (await client.get(apps_pb2.DaemonSet, "demo", NS)).metadata.uid,
        }
        assert uids == uids_before
        return True

    await eventually(same_objects, timeout=WAIT, interval=0.5, what="the API back, unchanged")

    async def rejoined() -> bool:
        current = await nodes(client)
        for name in live:
            lease = await client.get(coordination_pb2.Lease, name, "kube-node-lease")
            assert parse_time(lease.spec.renew_time) > restarted, f"{name} has not renewed"
            assert ready_status(current[name]) == "True", f"{name} is not Ready"
        assert ready_status(current[dead]) == "Unknown"
        return True

    await eventually(rejoined, timeout=WAIT, interval=0.5, what="the kubelets renewing again")

    # The controllers run again: a changed DaemonSet and a relabelled node are acted on.
    out = kemuctl(project, "apply", "-f", str(DAEMONSET_WITH_NODE_SELECTOR))
    assert out.strip() == "daemonset.apps/demo configured"
    await wait_daemon_pods_on(client, set())
    chosen = sorted(live)[0]
    kemuctl(project, "label", "node", chosen, "gpu=cuda")
    await wait_daemon_pods_on(client, {chosen})
    [pod] = [p for p in await daemon_pods(client) if p.spec.node_name == chosen
             and not p.metadata.deletion_timestamp]
    assert pod.metadata.uid not in uids_before["pods"].values()
