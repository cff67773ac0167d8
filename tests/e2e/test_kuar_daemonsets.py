"""Kubernetes: Up and Running, chapter 11 ("DaemonSets"), examples 11-1 (fluentd on every node)
and 11-2 (nginx on the nodes labelled ssd=true), unchanged, on real nodes, with ``kemuctl`` in
place of ``kubectl``: the commands the chapter types and what it says happens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from tests.e2e.kit import (
    Cluster,
    eventually,
    gone,
    is_ready_pod,
    manifest,
    new_namespace,
    owner,
    pods,
    running_cluster,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NODES = ["node-1", "node-2", "node-3"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("kuar"), NODES) as running:
        yield running


async def placement(api: GrpcClient, ns: str, selector: str) -> dict[str, str]:
    """{node: pod name} of the live pods matching ``selector`` (one per node is checked)."""
    found: dict[str, str] = {}
    for pod in await pods(api, ns, selector, live=True):
        assert pod.spec.node_name not in found, f"two pods on {pod.spec.node_name}"
        found[pod.spec.node_name] = pod.metadata.name
    return found


async def until_on(api: GrpcClient, ns: str, selector: str, nodes: set[str]) -> dict[str, str]:
    async def check() -> dict[str, str]:
        found = await placement(api, ns, selector)
        assert set(found) == nodes, sorted(found)
        for pod in await pods(api, ns, selector, live=True):
            assert is_ready_pod(pod), f"{pod.metadata.name} not ready"
        return found
    result: dict[str, str] = await eventually(check, what=f"{selector} on {sorted(nodes)}")
    return result


async def test_fluentd_runs_on_every_node_including_new_ones(cluster: Cluster,
                                                             api: GrpcClient) -> None:
    ns = await new_namespace(api, "kuar-fluentd")
    fluentd = manifest("kuar/11-1-fluentd.yaml")
    created = await cluster.kemuctl("apply", "-f", fluentd, "-n", ns)
    assert created.stdout.strip() == "daemonset.apps/fluentd created"
    await until_on(api, ns, "app=fluentd", set(NODES))
    status = await cluster.kemuctl("rollout", "status", "daemonSets", "fluentd", "-n", ns)
    assert status.lines[-1] == 'daemon set "fluentd" successfully rolled out'
    described = (await cluster.kemuctl("describe", "daemonset", "fluentd", "-n", ns)).stdout
    for line in ("Desired Number of Nodes Scheduled: 3", "Current Number of Nodes Scheduled: 3",
                 "Number of Nodes Scheduled with Up-to-date Pods: 3",
                 "Number of Nodes Scheduled with Available Pods: 3",
                 "Number of Nodes Misscheduled: 0",
                 "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed"):
        assert line in described, described
    wide = (await cluster.kemuctl("get", "pods", "-l", "app=fluentd", "-o", "wide",
                                  "-n", ns)).table()
    assert sorted(row["NODE"] for row in wide) == NODES
    assert {row["STATUS"] for row in wide} == {"Running"}

    # "If a new node is added to the cluster, then the DaemonSet controller notices that it is
    # missing a Pod and adds the Pod to the new node."
    cluster.local.add_node("node-4")
    try:
        await until_on(api, ns, "app=fluentd", {*NODES, "node-4"})
        moved = (await placement(api, ns, "app=fluentd"))["node-4"]
    finally:
        cluster.local.stop_node("node-4")
        await cluster.kemuctl("delete", "node", "node-4", ok=False)
        cluster.local.nodes.pop("node-4", None)
    await gone(api, core_pb2.Pod, moved, ns)
    await until_on(api, ns, "app=fluentd", set(NODES))

    # Deleting the DaemonSet deletes its Pods.
    deleted = await cluster.kemuctl("delete", "-f", fluentd, "-n", ns)
    assert deleted.stdout.strip() == 'daemonset.apps "fluentd" deleted'

    async def none_left() -> bool:
        assert not await pods(api, ns, "app=fluentd"), "fluentd pods left"
        return True
    await eventually(none_left, what="fluentd pods deleted")


async def test_nginx_fast_storage_follows_the_ssd_label(cluster: Cluster,
                                                        api: GrpcClient) -> None:
    ns = await new_namespace(api, "kuar-ssd")
    labelled = await cluster.kemuctl("label", "nodes", "node-2", "ssd=true")
    assert labelled.stdout.strip() == "node/node-2 labeled"
    try:
        selected = (await cluster.kemuctl("get", "nodes", "--selector", "ssd=true")).table()
        assert [(row["NAME"], row["STATUS"]) for row in selected] == [("node-2", "Ready")]
        created = await cluster.kemuctl("apply", "-f", manifest("kuar/11-2-nginx-fast-storage.yaml"),
                                        "-n", ns)
        assert created.stdout.strip() == "daemonset.apps/nginx-fast-storage created"
        [only] = (await until_on(api, ns, "app=nginx", {"node-2"})).values()
        wide = (await cluster.kemuctl("get", "pods", "-l", "app=nginx", "-o", "wide",
                                      "-n", ns)).table()
        assert [(row["NAME"], row["NODE"]) for row in wide] == [(only, "node-2")]
        ds = await api.get(apps_pb2.DaemonSet, "nginx-fast-storage", ns)
        assert owner(await api.get(core_pb2.Pod, only, ns)) == ("DaemonSet", ds.metadata.name)

        # "Adding the ssd=true label to additional nodes will cause the nginx-fast-storage Pod
        # to be deployed on those nodes."
        await cluster.kemuctl("label", "nodes", "node-3", "ssd=true")
        await until_on(api, ns, "app=nginx", {"node-2", "node-3"})
        # "The inverse is also true: if a required label is removed from a node, the Pod will be
        # removed by the DaemonSet controller."
        await cluster.kemuctl("label", "nodes", "node-2", "ssd-")
        await gone(api, core_pb2.Pod, only, ns)
        await until_on(api, ns, "app=nginx", {"node-3"})
    finally:
        await cluster.kemuctl("label", "nodes", "node-2", "ssd-", ok=False)
        await cluster.kemuctl("label", "nodes", "node-3", "ssd-", ok=False)
