"""Learn Kubernetes in a Month of Lunches, chapter 6 ("Scaling applications across multiple Pods
with controllers"): the TRY IT NOW exercises with the book's unchanged manifests, on three real
nodes, with ``kemuctl`` where the book types ``kubectl``.

Each test replays one section in its own namespace; what the book says the reader will see is
what is asserted (see docs/e2e.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from tests.e2e.kit import (
    WAIT,
    Cluster,
    eventually,
    gone,
    manifest,
    new_namespace,
    owner,
    pods,
    running_cluster,
    running_pods,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NODES = ["node-1", "node-2", "node-3"]
CH06 = "kiamol/ch06"
# The whoami ReplicaSet's own labels are kiamol=ch06 only: found by name.
WHOAMI = "metadata.name=whoami-web"
OWNERS = ("custom-columns=NAME:{.metadata.name},OWNER:{.metadata.ownerReferences[0].name},"
          "OWNER_KIND:{.metadata.ownerReferences[0].kind}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("kiamol"), NODES) as running:
        yield running


def path(relative: str) -> str:
    return manifest(f"{CH06}/{relative}")


async def rows(cluster: Cluster, *args: str) -> dict[str, dict[str, str]]:
    """``kemuctl get ARGS`` as {NAME: row}."""
    return {row["NAME"]: row for row in (await cluster.kemuctl("get", *args)).table()}


async def counts(cluster: Cluster, ns: str, kind: str, name: str, *columns: str
                 ) -> tuple[str, ...]:
    row = (await rows(cluster, kind, name, "-n", ns))[name]
    return tuple(row[c] for c in columns)


async def replica_sets(cluster: Cluster, ns: str, selector: str) -> dict[str, tuple[str, ...]]:
    """{name: (DESIRED, CURRENT, READY)} of ``kemuctl get rs -l selector`` (or, for
    ``metadata.name=NAME``, of ``kemuctl get rs NAME``)."""
    if selector.startswith("metadata.name="):
        found = await rows(cluster, "rs", selector.split("=", 1)[1], "-n", ns)
    else:
        found = await rows(cluster, "rs", "-l", selector, "-n", ns)
    return {name: (r["DESIRED"], r["CURRENT"], r["READY"]) for name, r in found.items()}


async def until_replica_sets(cluster: Cluster, api: GrpcClient, ns: str, selector: str,
                             expected: dict[str, tuple[int, int, int]] | int,
                             timeout: float = WAIT) -> list[str]:
    """Wait (reading the API) until the ReplicaSets matching ``selector`` have these
    (desired, current, ready) counts, or are this many; then check ``kemuctl get rs`` shows
    the same. Returns their names, oldest first."""
    by_name = selector.startswith("metadata.name=")

    async def check() -> list[str]:
        listed = (await api.list(apps_pb2.ReplicaSet, ns, field_selector=selector) if by_name
                  else await api.list(apps_pb2.ReplicaSet, ns, label_selector=selector)).items
        found = sorted(listed, key=lambda r: (r.metadata.creation_timestamp, r.metadata.name))
        now = {r.metadata.name: (r.spec.replicas, r.status.replicas, r.status.ready_replicas)
               for r in found}
        if isinstance(expected, int):
            assert len(now) == expected, now
        else:
            assert now == expected, now
            for r in found:
                assert r.status.observed_generation == r.metadata.generation, r.metadata.name
        return [r.metadata.name for r in found]
    names: list[str] = await eventually(check, timeout=timeout, what=f"replica sets {expected}")
    if not isinstance(expected, int):
        shown = await replica_sets(cluster, ns, selector)
        if by_name:
            shown = {n: r for n, r in shown.items() if n in expected}
        assert shown == {n: tuple(str(v) for v in c) for n, c in expected.items()}, shown
    return names


async def until_daemon_set(cluster: Cluster, api: GrpcClient, ns: str, name: str,
                           desired: int, selector: str = "<none>") -> None:
    """Wait until the DaemonSet's status shows ``desired`` pods scheduled and ready, then check
    ``kemuctl get ds`` shows the same."""
    async def check() -> bool:
        ds = await api.get(apps_pb2.DaemonSet, name, ns)
        status = ds.status
        assert status.observed_generation == ds.metadata.generation
        assert (status.desired_number_scheduled, status.current_number_scheduled,
                status.number_ready) == (desired, desired, desired), status
        return True
    await eventually(check, what=f"daemon set {name} at {desired}")
    assert await counts(cluster, ns, "ds", name, "DESIRED", "CURRENT", "READY",
                        "NODE SELECTOR") == (str(desired),) * 3 + (selector,)


async def test_a_replicaset_replaces_deleted_pods_and_scales(cluster: Cluster,
                                                             api: GrpcClient) -> None:
    ns = await new_namespace(api, "whoami")
    applied = await cluster.kemuctl("apply", "-f", path("whoami/whoami.yaml"), "-n", ns)
    assert applied.stdout.strip() == "replicaset.apps/whoami-web created"

    await until_replica_sets(cluster, api, ns, WHOAMI, {"whoami-web": (1, 1, 1)})
    [first] = await running_pods(api, ns, "app=whoami-web", 1)

    # "Delete the Pod ... the ReplicaSet creates a replacement".
    deleted = await cluster.kemuctl("delete", "pods", "-l", "app=whoami-web", "-n", ns)
    assert deleted.stdout.strip() == f'pod "{first.metadata.name}" deleted'
    [replacement] = await running_pods(api, ns, "app=whoami-web", 1)
    assert replacement.metadata.name != first.metadata.name
    assert owner(replacement) == ("ReplicaSet", "whoami-web")
    described = (await cluster.kemuctl("describe", "rs", "whoami-web", "-n", ns)).stdout
    for name in (first.metadata.name, replacement.metadata.name):
        assert f"Created pod: {name}" in described, described

    # Scaling up is a change to the spec: three Pods, and three new ones when all are deleted.
    applied = await cluster.kemuctl("apply", "-f", path("whoami/update/whoami-replicas-3.yaml"),
                                    "-n", ns)
    assert applied.stdout.strip() == "replicaset.apps/whoami-web configured"
    three = await running_pods(api, ns, "app=whoami-web", 3)
    assert replacement.metadata.uid in {p.metadata.uid for p in three}
    await until_replica_sets(cluster, api, ns, WHOAMI, {"whoami-web": (3, 3, 3)})
    await cluster.kemuctl("delete", "pods", "-l", "app=whoami-web", "-n", ns)
    again = await running_pods(api, ns, "app=whoami-web", 3)
    assert not {p.metadata.name for p in again} & {p.metadata.name for p in three}
    # The three pods spread over the three nodes.
    assert len({p.spec.node_name for p in again}) == 3

    service = await cluster.kemuctl("apply", "-f", path("whoami/whoami-service.yaml"), "-n", ns)
    assert service.stdout.strip() == "service/whoami-web created"


async def test_a_deployment_scales_its_replicaset_and_rolls_out_new_ones(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "pi")
    applied = await cluster.kemuctl("apply", "-f", path("pi/web/"), "-n", ns)
    assert sorted(applied.lines) == ["deployment.apps/pi-web created", "service/pi-web created"]

    [original] = await until_replica_sets(cluster, api, ns, "app=pi-web", 1)
    assert original.startswith("pi-web-")
    await until_replica_sets(cluster, api, ns, "app=pi-web", {original: (2, 2, 2)})

    # Scaling does not change the pod spec: the same ReplicaSet, scaled.
    await cluster.kemuctl("apply", "-f", path("pi/web/update/web-replicas-3.yaml"), "-n", ns)
    await until_replica_sets(cluster, api, ns, "app=pi-web", {original: (3, 3, 3)})

    # A new pod spec (logging level): a new ReplicaSet; the old one is scaled down to zero.
    await cluster.kemuctl("apply", "-f", path("pi/web/update/web-logging-level.yaml"), "-n", ns)
    [_, updated] = await until_replica_sets(cluster, api, ns, "app=pi-web", 2)
    await until_replica_sets(cluster, api, ns, "app=pi-web",
                             {original: (0, 0, 0), updated: (3, 3, 3)})

    # kubectl scale changes the Deployment (and through it the current ReplicaSet) at once ...
    scaled = await cluster.kemuctl("scale", "--replicas=4", "deploy/pi-web", "-n", ns)
    assert scaled.stdout.strip() == "deployment.apps/pi-web scaled"
    await until_replica_sets(cluster, api, ns, "app=pi-web",
                             {original: (0, 0, 0), updated: (4, 4, 4)})

    # ... and applying the original spec again brings back the original ReplicaSet (same name,
    # same template hash), now at revision 3, at the YAML's 3 replicas.
    await cluster.kemuctl("apply", "-f", path("pi/web/update/web-replicas-3.yaml"), "-n", ns)
    await until_replica_sets(cluster, api, ns, "app=pi-web",
                             {original: (3, 3, 3), updated: (0, 0, 0)})
    revisions = {
        name: (await api.get(apps_pb2.ReplicaSet, name, ns)).metadata.annotations[
            "deployment.kubernetes.io/revision"] for name in (original, updated)}
    assert revisions == {original: "3", updated: "2"}
    history = await cluster.kemuctl("rollout", "history", "deploy/pi-web", "-n", ns)
    assert history.lines[0].rstrip() == "deployment.apps/pi-web"
    assert [line.split() for line in history.lines[1:] if line.strip()] == \
        [["REVISION", "CHANGE-CAUSE"], ["2", "<none>"], ["3", "<none>"]]
    current = await running_pods(api, ns, "app=pi-web", 3)
    assert {owner(p) for p in current} == {("ReplicaSet", original)}


async def test_a_daemonset_runs_one_pod_per_node_follows_labels_and_can_orphan_its_pods(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "proxy")
    await cluster.kemuctl("apply", "-f", path("whoami/whoami.yaml"), "-n", ns)
    await cluster.kemuctl("apply", "-f", path("pi/web/"), "-n", ns)
    # The proxy first runs as a Deployment (then with a hostPath cache, 3 replicas) ...
    applied = await cluster.kemuctl("apply", "-f", path("pi/proxy/"), "-n", ns)
    assert sorted(applied.lines) == ["configmap/pi-proxy-configmap created",
                                     "deployment.apps/pi-proxy created", "service/pi-proxy created"]
    await cluster.kemuctl("apply", "-f", path("pi/proxy/update/nginx-hostPath.yaml"), "-n", ns)
    # The hostPath change is a rollout: three ready pods may still include old ones until it ends.
    await cluster.kemuctl("rollout", "status", "deploy/pi-proxy", "-n", ns)
    deployed = await running_pods(api, ns, "app=pi-proxy", 3)

    # ... then as a DaemonSet with the same selector: it leaves the Deployment's pods alone
    # (they have a controller) and runs its own, one per node.
    await cluster.kemuctl("apply", "-f", path("pi/proxy/daemonset/nginx-ds.yaml"), "-n", ns)
    both = await running_pods(api, ns, "app=pi-proxy", 6)
    by_owner = {p.metadata.name: owner(p) for p in both}
    assert {by_owner[p.metadata.name] for p in deployed} == \
        {("ReplicaSet", owner(deployed[0])[1])}  # type: ignore[index]
    daemon = [p for p in both if by_owner[p.metadata.name] == ("DaemonSet", "pi-proxy")]
    assert sorted(p.spec.node_name for p in daemon) == NODES
    await cluster.kemuctl("delete", "deploy", "pi-proxy", "-n", ns)
    await running_pods(api, ns, "app=pi-proxy", 3)
    await until_daemon_set(cluster, api, ns, "pi-proxy", 3)

    # A node selector no node matches: desired 0, the pods go.
    configured = await cluster.kemuctl(
        "apply", "-f", path("pi/proxy/daemonset/nginx-ds-nodeSelector.yaml"), "-n", ns)
    assert configured.stdout.strip() == "daemonset.apps/pi-proxy configured"
    await until_daemon_set(cluster, api, ns, "pi-proxy", 0, "kiamol=ch06")
    for pod in daemon:
        await gone(api, core_pb2.Pod, pod.metadata.name, ns)

    # Label one node (the book picks the first one): its pod comes back there.
    first = (await cluster.kemuctl("get", "nodes", "-o",
                                   "jsonpath={.items[0].metadata.name}")).stdout.strip()
    assert first == "node-1"
    try:
        labelled = await cluster.kemuctl("label", "node", first, "kiamol=ch06", "--overwrite")
        assert labelled.stdout.strip() == f"node/{first} labeled"
        await until_daemon_set(cluster, api, ns, "pi-proxy", 1, "kiamol=ch06")
        [proxy] = await running_pods(api, ns, "app=pi-proxy", 1)
        assert proxy.spec.node_name == first

        # Delete the DaemonSet but not its Pod: it keeps running, with no owner.
        orphaned = await cluster.kemuctl("delete", "ds", "pi-proxy", "--cascade=orphan", "-n", ns)
        assert orphaned.stdout.strip() == 'daemonset.apps "pi-proxy" deleted'
        missing = await cluster.kemuctl("get", "ds", "pi-proxy", "-n", ns, ok=False)
        assert missing.stderr.strip() == \
            'Error from server (NotFound): daemonsets.apps "pi-proxy" not found'

        async def unowned() -> bool:
            [pod] = await running_pods(api, ns, "app=pi-proxy", 1)
            assert pod.metadata.uid == proxy.metadata.uid
            assert not pod.metadata.owner_references, pod.metadata.owner_references
            return True
        await eventually(unowned, what="the pod orphaned")
        columns = await rows(cluster, "po", "-l", "app=pi-proxy", "-o", OWNERS, "-n", ns)
        assert columns == {proxy.metadata.name: {"NAME": proxy.metadata.name, "OWNER": "<none>",
                                                 "OWNER_KIND": "<none>"}}

        # Create it again: the same Pod is adopted, not replaced.
        await cluster.kemuctl(
            "apply", "-f", path("pi/proxy/daemonset/nginx-ds-nodeSelector.yaml"), "-n", ns)

        async def adopted() -> bool:
            [pod] = await running_pods(api, ns, "app=pi-proxy", 1)
            assert (pod.metadata.name, pod.metadata.uid) == (proxy.metadata.name,
                                                             proxy.metadata.uid)
            assert owner(pod) == ("DaemonSet", "pi-proxy")
            return True
        await eventually(adopted, what="the pod adopted")
        await until_daemon_set(cluster, api, ns, "pi-proxy", 1, "kiamol=ch06")

        # Who owns what: pods are owned by ReplicaSets and the DaemonSet, the Deployment's
        # ReplicaSet by the Deployment; the bare ReplicaSet by nobody.
        await running_pods(api, ns, "app=pi-web", 2)
        await running_pods(api, ns, "app=whoami-web", 1)
        pod_owners = {(r["OWNER"], r["OWNER_KIND"])
                      for r in (await rows(cluster, "po", "-o", OWNERS, "-n", ns)).values()}
        [web_rs] = await until_replica_sets(cluster, api, ns, "app=pi-web", 1)
        assert pod_owners == {("whoami-web", "ReplicaSet"), (web_rs, "ReplicaSet"),
                              ("pi-proxy", "DaemonSet")}
        rs_owners = await rows(cluster, "rs", "-o", OWNERS, "-n", ns)
        assert {n: (r["OWNER"], r["OWNER_KIND"]) for n, r in rs_owners.items()} == {
            "whoami-web": ("<none>", "<none>"), web_rs: ("pi-web", "Deployment")}

        # Deleting with the default cascade takes the Pod too.
        await cluster.kemuctl("delete", "ds", "pi-proxy", "-n", ns)
        await gone(api, core_pb2.Pod, proxy.metadata.name, ns)
    finally:
        await cluster.kemuctl("label", "node", first, "kiamol-", ok=False)

    # The chapter's clean-up: everything labelled kiamol=ch06.
    await cluster.kemuctl("delete", "all", "-l", "kiamol=ch06", "-n", ns)

    async def empty() -> bool:
        assert not await pods(api, ns), [p.metadata.name for p in await pods(api, ns)]
        assert not (await api.list(apps_pb2.ReplicaSet, ns)).items
        return True
    await eventually(empty, what="nothing left")
    left = await cluster.kemuctl("get", "all", "-n", ns)
    assert (left.stdout, left.stderr.strip()) == ("", f"No resources found in {ns} namespace.")


async def test_the_lab_moves_the_api_to_a_daemonset_on_labelled_nodes(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "lab")
    applied = await cluster.kemuctl("apply", "-f", path("lab/numbers/"), "-n", ns)
    assert sorted(applied.lines) == ["pod/numbers-api created", "replicationcontroller/numbers-web created",
                                     "service/numbers-api created", "service/numbers-web created"]
    old_web = await running_pods(api, ns, "app=numbers-web", 2)
    assert {owner(p) for p in old_web} == {("ReplicationController", "numbers-web")}

    first = (await cluster.kemuctl("get", "nodes", "-o",
                                   "jsonpath={.items[0].metadata.name}")).stdout.strip()
    await cluster.kemuctl("label", "node", first, "rng=hw")
    try:
        solution = await cluster.kemuctl("apply", "-f", path("lab/solution/"), "-n", ns)
        assert sorted(solution.lines) == ["daemonset.apps/numbers-api created",
                                          "deployment.apps/numbers-web created"]
        # The API runs on the labelled node only; the Deployment's ReplicaSet runs its own web
        # pods (the ReplicationController's have a controller and are not adopted).
        [api_pod] = await running_pods(api, ns, "app=numbers-api", 1)
        assert api_pod.spec.node_name == first
        assert owner(api_pod) == ("DaemonSet", "numbers-api")
        web = await running_pods(api, ns, "app=numbers-web", 4)
        kinds = sorted(owner(p)[0] for p in web)  # type: ignore[index]
        assert kinds == ["ReplicaSet", "ReplicaSet", "ReplicationController",
                         "ReplicationController"]

        listed = await rows(cluster, "all", "-l", "kiamol=ch06-lab", "-n", ns)
        assert set(listed) == {"pod/numbers-api", "service/numbers-api", "service/numbers-web",
                               "replicationcontroller/numbers-web", "daemonset.apps/numbers-api",
                               "deployment.apps/numbers-web"}
        await cluster.kemuctl("delete", "all", "-l", "kiamol=ch06-lab", "-n", ns)

        async def empty() -> bool:
            assert not await pods(api, ns), [p.metadata.name for p in await pods(api, ns)]
            return True
        await eventually(empty, what="every pod gone")
    finally:
        await cluster.kemuctl("label", "node", first, "rng-", ok=False)
