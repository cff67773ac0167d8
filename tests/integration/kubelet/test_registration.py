"""Real kubelet processes registering with a real control plane: the Node, its Lease, flags."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from controlplane.etcd_process import free_port
from kemu.api.errors import ApiError, Code
from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import coordination_pb2, core_pb2
from kubelet.node import go_arch
from launcher.cluster import LocalCluster, ManagedProcess
from tests.integration.kubelet.helpers import node_ready, wait_node
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(make_cluster: Callable[..., LocalCluster]) -> AsyncIterator[LocalCluster]:
    c = make_cluster(controllers="")
    c.start_control_plane()
    yield c


async def test_registration_labels_taints_capacity_and_status(cluster: LocalCluster) -> None:
    cluster.add_node("node-a", labels={"zone": "eu-1", "example.com/tier": "gold"},
                     taints=["dedicated=gpu:NoSchedule", "spot:PreferNoSchedule"],
                     capacity={"cpu": "8", "memory": "16Gi"})
    async with GrpcClient(cluster.address) as client:
        node = await wait_node(client, "node-a", node_ready, "Ready")
        node = await wait_node(client, "node-a", lambda n: len(n.status.addresses) == 2,
                               "an InternalIP")
    labels = dict(node.metadata.labels)
    assert labels["zone"] == "eu-1" and labels["example.com/tier"] == "gold"
    assert labels["kubernetes.io/hostname"] == "node-a"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == go_arch()
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        ("dedicated", "gpu", "NoSchedule"), ("spot", "", "PreferNoSchedule")]
    capacity = {k: v.value for k, v in node.status.capacity.items()}
    assert capacity == {"cpu": "8", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    assert {k: v.value for k, v in node.status.allocatable.items()} == capacity
    conditions = {c.type: (c.status, c.reason, c.message) for c in node.status.conditions}
    assert conditions == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory",
                           "kubelet has sufficient memory available"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
    }
    assert node.spec.pod_cidr.endswith("/24") and list(node.spec.pod_cidrs) == [node.spec.pod_cidr]
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["Hostname"] == "node-a" and addresses["InternalIP"].startswith("172.")
    info = node.status.node_info
    assert info.kubelet_version == "v1.32.0-kemu"
    assert info.container_runtime_version == "kemu://0.1.0"
    assert info.operating_system == "linux" and info.architecture == go_arch()
    assert info.machine_id and info.system_uuid and info.boot_id and info.kernel_version
    assert info.os_image


async def test_nodes_get_distinct_pod_cidrs_and_addresses(cluster: LocalCluster) -> None:
    names = [f"many-{i}" for i in range(4)]
    for name in names:
        cluster.add_node(name)
    async with GrpcClient(cluster.address) as client:
        nodes = [await wait_node(client, n, lambda n: len(n.status.addresses) == 2,
                                 "registered with an InternalIP") for n in names]
    assert len({n.spec.pod_cidr for n in nodes}) == 4
    assert len({n.status.addresses[0].address for n in nodes}) == 4


async def test_lease_is_renewed(cluster: LocalCluster) -> None:
    cluster.add_node("leased")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "leased", node_ready, "Ready")

        async def lease() -> coordination_pb2.Lease | None:
            try:
                return await client.get(coordination_pb2.Lease, "leased", "kube-node-lease")
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    return None  # not renewed for the first time yet
                raise

        first = await eventually(lease, what="the node lease")
        node = await client.get(core_pb2.Node, "leased")
        assert first.spec.holder_identity == "leased"
        assert first.spec.lease_duration_seconds == 2  # 40 s in the fast profile
        assert [(o.kind, o.name, o.uid) for o in first.metadata.owner_references] == [
            ("Node", "leased", node.metadata.uid)]

        async def renewed_twice() -> bool:
            current = await lease()
            assert current is not None
            return parse_time(current.spec.renew_time) >= parse_time(first.spec.renew_time) + 0.9

        # Renewed every 0.5 s (10 s scaled): two renewals within a generous margin.
        await eventually(renewed_twice, timeout=10, what="lease renewals")


async def test_api_set_labels_survive_a_kubelet_restart(cluster: LocalCluster) -> None:
    cluster.add_node("relabelled", labels={"zone": "a"}, taints=["dedicated=db:NoSchedule"])
    async with GrpcClient(cluster.address) as client:
        node = await wait_node(client, "relabelled", node_ready, "Ready")
        boot = node.status.node_info.boot_id
        await client.patch(core_pb2.Node, "relabelled", "", {
            "metadata": {"labels": {"zone": "b", "team": "blue"}},
            "spec": {"taints": []}})
        cluster.restart_node("relabelled")
        node = await wait_node(client, "relabelled",
                               lambda n: n.status.node_info.boot_id not in ("", boot),
                               "registered again by a new kubelet process")
        labels = dict(node.metadata.labels)
        assert labels["zone"] == "b" and labels["team"] == "blue"
        assert labels["kubernetes.io/hostname"] == "relabelled"
        # --taints applies to a new Node only (like --register-with-taints).
        assert list(node.spec.taints) == []


async def test_deleted_node_registers_again(cluster: LocalCluster) -> None:
    cluster.add_node("phoenix")
    async with GrpcClient(cluster.address) as client:
        node = await wait_node(client, "phoenix", node_ready, "Ready")
        await client.delete(core_pb2.Node, "phoenix")
        again = await wait_node(client, "phoenix",
                                lambda n: n.metadata.uid != node.metadata.uid and node_ready(n),
                                "re-created by its kubelet", timeout=30)
        assert again.status.node_info.boot_id == node.status.node_info.boot_id


async def test_thawed_kubelet_reports_ready_again(cluster: LocalCluster) -> None:
    cluster.add_node("sleeper")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "sleeper", node_ready, "Ready")
        cluster.freeze_node("sleeper")
        try:
            # What the node lifecycle controller does to a node whose lease expired.
            node = await client.get(core_pb2.Node, "sleeper")
            for c in node.status.conditions:
                if c.type == "Ready":
                    c.status, c.reason = "Unknown", "NodeStatusUnknown"
                    c.last_transition_time = "2024-01-01T00:00:00Z"
            await client.update_status(node)
            await asyncio.sleep(2)  # frozen past two lease renewals (0.5 s each)
        finally:
            cluster.thaw_node("sleeper")
        # Well before the 15 s (scaled) report frequency would have refreshed it.
        node = await wait_node(client, "sleeper", node_ready, "Ready again", timeout=6)
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.reason == "KubeletReady"
        assert ready.last_transition_time > "2024-01-01T00:00:00Z"


async def test_kubelet_is_configured_from_the_environment(cluster: LocalCluster,
                                                          tmp_path: Path) -> None:
    env = {**os.environ, "KEMU_NODE_NAME": "from-env", "KEMU_SERVER": cluster.address,
           "KEMU_LABELS": "source=env", "KEMU_TAINTS": "env=yes:NoExecute",
           "KEMU_CAPACITY": "pods=20", "KEMU_TIMING_PROFILE": "fast",
           "KEMU_EVENT_LOOP": "asyncio"}
    process = ManagedProcess("from-env", [sys.executable, "-m", "launcher.main", "kubelet"],
                             tmp_path / "from-env.log", env)
    process.start()
    try:
        async with GrpcClient(cluster.address) as client:
            node = await wait_node(client, "from-env", node_ready, "Ready")
        assert node.metadata.labels["source"] == "env"
        assert [(t.key, t.effect) for t in node.spec.taints] == [("env", "NoExecute")]
        assert node.status.capacity["pods"].value == "20"
        assert "event loop: asyncio." in process.log_path.read_text()
    finally:
        process.stop()


async def test_kubelet_stops_on_sigterm_and_keeps_its_node(cluster: LocalCluster) -> None:
    process = cluster.add_node("stopping")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "stopping", node_ready, "Ready")
        started = time.monotonic()
        cluster.stop_node("stopping")
        assert time.monotonic() - started < 5, "the kubelet did not stop promptly on SIGTERM"
        assert process.process is not None and process.process.returncode == 0
        assert "kubelet stopped" in process.log_tail()
        log = process.log_path.read_text()
        assert "event loop: uvloop.Loop" in log
        assert "gRPC I/O: I/O manager" in log
        node = await client.get(core_pb2.Node, "stopping")
        assert node.metadata.name == "stopping"


async def test_kubelet_serves_metrics(cluster: LocalCluster) -> None:
    port = free_port()
    cluster.add_node("measured", extra_args=["--metrics-listen", f"127.0.0.1:{port}"])
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "measured", node_ready, "Ready")

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text: str = reply.read().decode()
        except OSError:
            return ""
        return text if 'kemu_kubelet_lease_renewals_total{node="measured"}' in text else ""

    text = await eventually(lambda: asyncio.to_thread(scrape), what="kubelet metrics")
    assert 'kemu_kubelet_running_pods{node="measured"} 0.0' in text
    assert 'kemu_kubelet_registrations_total{node="measured"} 1.0' in text


@pytest.mark.parametrize(("flag", "value", "complaint"), [
    ("--taints", "dedicated=gpu:NoSchedul", "effect 'NoSchedul' is not one of NoSchedule"),
    ("--taints", "dedicated=gpu", "'dedicated=gpu' has no effect"),
    ("--labels", "zone", "'zone' is not key=value"),
    ("--capacity", "memory=8GB", "memory='8GB': quantities must match"),
    ("--server", "localhost", "server 'localhost' is not host:port"),
    ("--node-name", "Not_A_Name", "node name 'Not_A_Name'"),
    ("--event-loop", "tokio", "'tokio' is not one of 'uvloop', 'asyncio'"),
    ("--timing", "node_agent_call_timeout=-1", "node_agent_call_timeout: '-1' must be a number"),
    ("--timing", "replicaset_status_batch_period=soon",
     "replicaset_status_batch_period: 'soon' is not a number of seconds"),
    ("--timing", "no_such_interval=1", "unknown timing setting 'no_such_interval'"),
])
def test_bad_flags_are_refused_naming_the_wrong_part(flag: str, value: str,
                                                     complaint: str) -> None:
    result = subprocess.run([sys.executable, "-m", "launcher.main", "kubelet", "--node-name",
                             "ok", "--server", "127.0.0.1:1", flag, value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{flag}'" in result.stderr
    assert complaint in result.stderr
