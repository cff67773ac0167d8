"""A kubelet across a restart of its only control plane: it must keep acting on its pods.

While the control plane is down, the kubelet's calls fail and its client drops the channel;
closing a channel cancels every call still running on it, the pod watch included. That must
end in an error the watch loop retries, not in a silently cancelled task that leaves the node
heartbeating but deaf to its pods (found with docker compose: ``docker-compose stop
controlplane`` then ``start``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import condition, node_ready, pod_on, wait_gone, wait_node, wait_pod

pytestmark = pytest.mark.integration


def running_and_ready(pod: core_pb2.Pod) -> bool:
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True"


async def test_pods_created_and_deleted_after_a_control_plane_restart_are_acted_on(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="", external_etcd=True)
    cluster.start_control_plane()
    cluster.add_node("steady")
    async with GrpcClient(cluster.address) as client:
        await wait_node(client, "steady", node_ready, "Ready")
        await client.create(pod_on("steady", "before"))
        await wait_pod(client, "before", running_and_ready, "Running and Ready")
    cluster.restart_control_plane()
    async with GrpcClient(cluster.address) as client:
        await client.create(pod_on("steady", "after"))
        await wait_pod(client, "after", running_and_ready, "Running and Ready", timeout=60)
        await client.delete(core_pb2.Pod, "before", "default")
        await wait_gone(client, "before", timeout=60)
        await wait_node(client, "steady", node_ready, "still Ready")
