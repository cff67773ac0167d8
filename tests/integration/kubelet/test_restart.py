"""A kubelet process restarting: it takes its pods over instead of running them again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import (
    condition,
    main_status,
    node_ready,
    pod_on,
    wait_gone,
    wait_node,
    wait_pod,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def cluster(make_cluster: Callable[..., LocalCluster]) -> AsyncIterator[LocalCluster]:
    c = make_cluster(controllers="")
    c.start_control_plane()
    yield c


def running_and_ready(pod: core_pb2.Pod) -> bool:
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True"


async def test_restarted_kubelet_keeps_healthy_pods_untouched(cluster: LocalCluster) -> None:
    cluster.add_node("steady")
    async with GrpcClient(cluster.address) as client:
        node = await wait_node(client, "steady", node_ready, "Ready")
        probed = pod_on("steady", "probed", annotations={"kemu.io/ready-after": "10"})
        probed.spec.containers[0].readiness_probe.http_get.path = "/"
        probed.spec.containers[0].readiness_probe.http_get.port.int_value = 8080
        probed.spec.containers[0].readiness_probe.period_seconds = 5
        plain = pod_on("steady", "plain")
        for pod in (probed, plain):
            await client.create(pod)
        before = {p.metadata.name: await wait_pod(client, p.metadata.name, running_and_ready,
                                                  "Running and Ready")
                  for p in (probed, plain)}
        lost_readiness: list[str] = []
        since = str(max(int(p.metadata.resource_version) for p in before.values()))

        async def watch_readiness() -> None:
            async for event in client.watch(core_pb2.Pod, "default",
                                            field_selector="spec.nodeName=steady",
                                            resource_version=since):
                pod = event.object
                if pod is not None and condition(pod, "Ready") != "True":
                    lost_readiness.append(f"{pod.metadata.name}: {pod.status}")

        watcher = asyncio.create_task(watch_readiness())
        try:
            cluster.restart_node("steady")
            await wait_node(client, "steady",
                            lambda n: n.status.node_info.boot_id != node.status.node_info.boot_id,
                            "registered by the new process")
            # Give the new process time to sync its pods (dozens of its sync intervals).
            await asyncio.sleep(3)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        assert lost_readiness == []
        for name, old in before.items():
            now = await client.get(core_pb2.Pod, name, "default")
            assert now.metadata.resource_version == old.metadata.resource_version, \
                f"{name} was written to: {now.status}"
            assert main_status(now).state.running.started_at == \
                main_status(old).state.running.started_at
            assert main_status(now).container_id == main_status(old).container_id
            assert main_status(now).restart_count == 0
            assert now.status.pod_ip == old.status.pod_ip


async def test_restarted_kubelet_finishes_what_ran_before(cluster: LocalCluster) -> None:
    cluster.add_node("finisher")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "finisher", node_ready, "Ready")
        await client.create(pod_on("finisher", "batch", command=["sleep", "60"],
                                   restart_policy="Never"))
        running = await wait_pod(client, "batch", running_and_ready, "Running")
        cluster.restart_node("finisher")
        # 60 s scaled is 3 s from its first start; the new process ends it on that schedule.
        done = await wait_pod(client, "batch", lambda p: p.status.phase == "Succeeded",
                              "Succeeded", timeout=30)
        assert main_status(done).state.terminated.started_at == \
            main_status(running).state.running.started_at
        assert main_status(done).restart_count == 0


async def test_pods_deleted_or_created_while_the_kubelet_was_down(cluster: LocalCluster) -> None:
    cluster.add_node("napper")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "napper", node_ready, "Ready")
        await client.create(pod_on("napper", "doomed"))
        await wait_pod(client, "doomed", running_and_ready, "Running")
        cluster.stop_node("napper")
        deleted = await client.delete(core_pb2.Pod, "doomed", "default")
        assert deleted.metadata.deletion_timestamp, "a running pod is deleted gracefully"
        await client.create(pod_on("napper", "newcomer"))
        await asyncio.sleep(0.5)
        assert (await client.get(core_pb2.Pod, "doomed", "default")).metadata.deletion_timestamp
        cluster.restart_node("napper")
        await wait_gone(client, "doomed")
        await wait_pod(client, "newcomer", running_and_ready, "Running")


async def test_recreated_pod_with_the_same_name_is_a_new_pod(cluster: LocalCluster) -> None:
    cluster.add_node("recycler")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "recycler", node_ready, "Ready")
        first = await client.create(pod_on("recycler", "same", command=["sleep", "infinity"]))
        old = await wait_pod(client, "same", running_and_ready, "Running")
        await client.delete(core_pb2.Pod, "same", "default", grace_period_seconds=0)
        second = await client.create(pod_on("recycler", "same", restart_policy="Never",
                                            command=["sh", "-c", "sleep 1; exit 7"]))
        assert second.metadata.uid != first.metadata.uid
        done = await wait_pod(client, "same", lambda p: p.status.phase == "Failed", "Failed")
        assert done.metadata.uid == second.metadata.uid
        terminated = main_status(done).state.terminated
        assert terminated.exit_code == 7
        assert terminated.container_id != main_status(old).container_id
        assert main_status(done).restart_count == 0
