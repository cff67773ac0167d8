"""Kubelets forked from the zygote (LocalCluster kubelet_launcher="fork"): still one process
per node, each its own session, managed like exec'd ones (kill, freeze, restart, stop)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import condition, node_ready, pod_on, wait_node, wait_pod
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(make_cluster: Callable[..., LocalCluster]) -> AsyncIterator[LocalCluster]:
    c = make_cluster(controllers="", kubelet_launcher="fork")
    c.start_control_plane()
    yield c


async def test_forked_kubelets_are_nodes_of_their_own(cluster: LocalCluster) -> None:
    cluster.add_node("forked-a")
    cluster.add_node("forked-b", labels={"zone": "b"})
    a, b = cluster.nodes["forked-a"], cluster.nodes["forked-b"]
    assert a.pid != b.pid and a.pid != os.getpid()
    assert os.getsid(a.pid) == a.pid and os.getsid(b.pid) == b.pid
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "forked-a", node_ready, "Ready")
        node_b = await wait_node(client, "forked-b", node_ready, "Ready")
        assert node_b.metadata.labels["zone"] == "b"
        await client.create(pod_on("forked-a", "on-forked"))
        await wait_pod(client, "on-forked",
                       lambda p: p.status.phase == "Running" and condition(p, "Ready") == "True",
                       "Running and Ready")
    log = (cluster.workdir / "logs" / "forked-a.log").read_text()
    assert "forked-a" in log
    # The zygote chose gRPC's I/O path before it imported gRPC, so its children have it too.
    assert "gRPC I/O: I/O manager" in log


async def test_forked_kubelets_die_freeze_and_restart_like_any_process(
        cluster: LocalCluster) -> None:
    cluster.add_node("forked-c")
    async with GrpcClient(cluster.address) as client:
        before = await wait_node(client, "forked-c", node_ready, "Ready")
        pid = cluster.nodes["forked-c"].pid
        cluster.freeze_node("forked-c")
        await eventually(lambda: _state(pid) == "T", timeout=10, what="frozen")
        cluster.thaw_node("forked-c")
        await eventually(lambda: _state(pid) != "T", timeout=10, what="thawed")
        old_pid = cluster.nodes["forked-c"].pid
        cluster.kill_node("forked-c")
        assert not cluster.nodes["forked-c"].alive()
        cluster.restart_node("forked-c")
        assert cluster.nodes["forked-c"].alive() and cluster.nodes["forked-c"].pid != old_pid
        after = await wait_node(
            client, "forked-c",
            lambda n: node_ready(n) and n.status.node_info.boot_id != before.status.node_info.boot_id,
            "Ready again with a new boot ID")
        assert after.metadata.uid == before.metadata.uid
    cluster.stop_node("forked-c")
    assert not cluster.nodes["forked-c"].alive()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]
