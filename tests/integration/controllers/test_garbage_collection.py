"""The garbage collector against a real control plane: owners and dependents are made by hand
with ownerReferences (no ReplicaSet controller runs), and the test plays the kubelet where a
pod's graceful deletion must finish.

Kubernetes in Action (ch. 15/16) and Learn Kubernetes in a Month of Lunches (ch. 6) show the
three cascades: deleting a ReplicaSet deletes its pods; ``--cascade=foreground`` keeps the
owner until its pods are gone; ``--cascade=orphan`` leaves the pods running without an owner,
ready to be adopted by a new controller.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kemu.api import kinds
from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, core_pb2, meta_pb2
from launcher.cluster import LocalCluster
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

NS = "default"


@contextlib.asynccontextmanager
async def connected(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    client = GrpcClient(cluster.address)
    try:
        yield client
    finally:
        await client.close()


def started(make_cluster: Callable[..., LocalCluster],
            controllers: str = "garbagecollector") -> LocalCluster:
    cluster = make_cluster(controllers=controllers)
    cluster.start_control_plane()
    return cluster


def ref_to(owner: Any, *, controller: bool = True, block: bool = True) -> meta_pb2.OwnerReference:
    kind = kinds.of(owner)
    return meta_pb2.OwnerReference(api_version=kind.api_version, kind=kind.name,
                                   name=owner.metadata.name, uid=owner.metadata.uid,
                                   controller=controller, block_owner_deletion=block)


async def replica_set(client: GrpcClient, name: str, owner: Any = None) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = name
    rs.metadata.namespace = NS
    rs.spec.replicas = 2
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="main", image="nginx")
    if owner is not None:
        rs.metadata.owner_references.append(ref_to(owner))
    return await client.create(rs)


async def deployment(client: GrpcClient, name: str) -> apps_pb2.Deployment:
    deploy = apps_pb2.Deployment()
    deploy.metadata.name = name
    deploy.metadata.namespace = NS
    deploy.spec.selector.match_labels["app"] = name
    deploy.spec.template.metadata.labels["app"] = name
    deploy.spec.template.spec.containers.add(name="main", image="nginx")
    return await client.create(deploy)


async def pod(client: GrpcClient, name: str, *owners: meta_pb2.OwnerReference,
              node: str = "", labels: dict[str, str] | None = None) -> core_pb2.Pod:
    """A pod with ``owners``; ``node`` binds it (its deletion is then graceful)."""
    out = core_pb2.Pod()
    out.metadata.name = name
    out.metadata.namespace = NS
    out.metadata.labels.update(labels or {})
    out.metadata.owner_references.extend(owners)
    out.spec.containers.add(name="main", image="nginx")
    out.spec.node_name = node
    return await client.create(out)


async def config_map(client: GrpcClient, name: str, *owners: meta_pb2.OwnerReference
                     ) -> core_pb2.ConfigMap:
    out = core_pb2.ConfigMap()
    out.metadata.name = name
    out.metadata.namespace = NS
    out.metadata.owner_references.extend(owners)
    return await client.create(out)


async def exists(client: GrpcClient, kind: Any, name: str) -> Any | None:
    try:
        return await client.get(kind, name, NS if kinds.of_class(kind).namespaced else "")
    except ApiError as exc:
        if exc.code == Code.NOT_FOUND:
            return None
        raise


def gone(client: GrpcClient, kind: Any, *names: str) -> Callable[[], Any]:
    async def check() -> bool:
        for name in names:
            assert await exists(client, kind, name) is None, f"{name} still exists"
        return True
    return check


async def finish_pod_deletions(client: GrpcClient) -> int:
    """Play the kubelet: pods being deleted gracefully are gone once their containers stop."""
    finished = 0
    for item in (await client.list(core_pb2.Pod, NS)).items:
        if item.metadata.deletion_timestamp:
            with contextlib.suppress(ApiError):
                await client.delete(core_pb2.Pod, item.metadata.name, NS, grace_period_seconds=0,
                                    precondition_uid=item.metadata.uid)
                finished += 1
    return finished


async def terminating(client: GrpcClient, name: str) -> core_pb2.Pod:
    found = await exists(client, core_pb2.Pod, name)
    assert found is not None and found.metadata.deletion_timestamp, f"{name} not terminating"
    return found


# -- background ------------------------------------------------------------------------------
async def test_background_deletion_deletes_dependents_gracefully(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        rs = await replica_set(client, "web")
        await pod(client, "web-a", ref_to(rs))
        await pod(client, "web-b", ref_to(rs))
        await pod(client, "web-bound", ref_to(rs), node="node-1")
        unrelated = await pod(client, "unrelated")
        await client.delete(apps_pb2.ReplicaSet, "web", NS)
        assert await exists(client, apps_pb2.ReplicaSet, "web") is None, \
            "background: the owner goes at once"
        await eventually(gone(client, core_pb2.Pod, "web-a", "web-b"))
        # A pod on a node is deleted gracefully: the kubelet finishes it.
        bound = await eventually(lambda: terminating(client, "web-bound"))
        assert bound.metadata.deletion_grace_period_seconds == 30
        assert await finish_pod_deletions(client) == 1
        await eventually(gone(client, core_pb2.Pod, "web-bound"))
        still = await exists(client, core_pb2.Pod, "unrelated")
        assert still is not None and still.metadata.uid == unrelated.metadata.uid


async def test_deployment_replicaset_pod_chain(make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        deploy = await deployment(client, "kiada")
        rs = await replica_set(client, "kiada-5d4f", owner=deploy)
        await pod(client, "kiada-5d4f-a", ref_to(rs))
        await pod(client, "kiada-5d4f-b", ref_to(rs))
        await client.delete(apps_pb2.Deployment, "kiada", NS)
        await eventually(gone(client, apps_pb2.ReplicaSet, "kiada-5d4f"))
        await eventually(gone(client, core_pb2.Pod, "kiada-5d4f-a", "kiada-5d4f-b"))


async def test_dependent_with_another_live_owner_only_loses_the_reference(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        first = await replica_set(client, "first")
        second = await config_map(client, "second")
        shared = await pod(client, "shared", ref_to(first),
                           ref_to(second, controller=False, block=False))
        await client.delete(apps_pb2.ReplicaSet, "first", NS)

        async def lost_reference() -> core_pb2.Pod:
            current = await exists(client, core_pb2.Pod, "shared")
            assert current is not None and not current.metadata.deletion_timestamp
            assert [r.uid for r in current.metadata.owner_references] == [second.metadata.uid]
            return current

        current = await eventually(lost_reference)
        assert current.metadata.uid == shared.metadata.uid
        await client.delete(core_pb2.ConfigMap, "second", NS)
        await eventually(gone(client, core_pb2.Pod, "shared"))


async def test_owner_that_never_existed(make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        ghost = apps_pb2.ReplicaSet()
        ghost.metadata.name = "ghost"
        ghost.metadata.uid = "00000000-0000-0000-0000-000000000001"
        await pod(client, "haunted", ref_to(ghost))
        # Same name, another uid: not the owner the pod names.
        await replica_set(client, "ghost")
        await eventually(gone(client, core_pb2.Pod, "haunted"))
        assert await exists(client, apps_pb2.ReplicaSet, "ghost") is not None


# -- foreground ------------------------------------------------------------------------------
async def test_foreground_deletion_waits_for_blocking_dependents(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        rs = await replica_set(client, "fg")
        await pod(client, "fg-a", ref_to(rs), node="node-1")
        await pod(client, "fg-b", ref_to(rs), node="node-2")
        await config_map(client, "fg-config", ref_to(rs, controller=False, block=False))
        await client.delete(apps_pb2.ReplicaSet, "fg", NS, propagation_policy="Foreground")
        await eventually(lambda: terminating(client, "fg-a"))
        await eventually(lambda: terminating(client, "fg-b"))
        await eventually(gone(client, core_pb2.ConfigMap, "fg-config"))
        owner = await exists(client, apps_pb2.ReplicaSet, "fg")
        assert owner is not None and owner.metadata.deletion_timestamp
        assert list(owner.metadata.finalizers) == ["foregroundDeletion"]
        # One pod finishes: the owner still waits for the other.
        await client.delete(core_pb2.Pod, "fg-a", NS, grace_period_seconds=0)
        await eventually(gone(client, core_pb2.Pod, "fg-a"))
        assert await exists(client, apps_pb2.ReplicaSet, "fg") is not None
        await client.delete(core_pb2.Pod, "fg-b", NS, grace_period_seconds=0)
        await eventually(gone(client, apps_pb2.ReplicaSet, "fg"))


async def test_non_blocking_dependents_do_not_hold_the_owner(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        rs = await replica_set(client, "loose")
        await pod(client, "loose-a", ref_to(rs, block=False), node="node-1")
        await client.delete(apps_pb2.ReplicaSet, "loose", NS, propagation_policy="Foreground")
        await eventually(gone(client, apps_pb2.ReplicaSet, "loose"))
        await eventually(lambda: terminating(client, "loose-a"))


async def test_foreground_through_a_chain(make_cluster: Callable[..., LocalCluster]) -> None:
    async with connected(started(make_cluster)) as client:
        deploy = await deployment(client, "chain")
        rs = await replica_set(client, "chain-1", owner=deploy)
        await pod(client, "chain-1-a", ref_to(rs), node="node-1")
        await client.delete(apps_pb2.Deployment, "chain", NS, propagation_policy="Foreground")

        async def replica_set_waits() -> bool:
            current = await exists(client, apps_pb2.ReplicaSet, "chain-1")
            assert current is not None and current.metadata.deletion_timestamp
            assert "foregroundDeletion" in current.metadata.finalizers
            return True

        # The ReplicaSet has dependents of its own, so it too is deleted in the foreground.
        await eventually(replica_set_waits)
        await eventually(lambda: terminating(client, "chain-1-a"))
        assert await exists(client, apps_pb2.Deployment, "chain") is not None
        await finish_pod_deletions(client)
        await eventually(gone(client, apps_pb2.ReplicaSet, "chain-1"))
        await eventually(gone(client, apps_pb2.Deployment, "chain"))


# -- orphan ----------------------------------------------------------------------------------
async def test_orphan_deletion_leaves_dependents_without_the_reference(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """``kubectl delete rs x --cascade=orphan``: the pods keep running, unowned."""
    async with connected(started(make_cluster)) as client:
        rs = await replica_set(client, "orph")
        other = await config_map(client, "keeper")
        before = {}
        for name in ("orph-a", "orph-b"):
            created = await pod(client, name, ref_to(rs),
                                ref_to(other, controller=False, block=False),
                                node="node-1", labels={"app": "orph"})
            before[name] = created.metadata.uid
        await client.delete(apps_pb2.ReplicaSet, "orph", NS, propagation_policy="Orphan")
        await eventually(gone(client, apps_pb2.ReplicaSet, "orph"))
        for name, uid in before.items():
            current = await exists(client, core_pb2.Pod, name)
            assert current is not None and current.metadata.uid == uid
            assert not current.metadata.deletion_timestamp
            assert [r.uid for r in current.metadata.owner_references] == [other.metadata.uid]
            assert dict(current.metadata.labels) == {"app": "orph"}


# -- the collector was not running ---------------------------------------------------------------
async def test_owners_deleted_while_the_collector_was_down(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = started(make_cluster)
    async with connected(cluster) as client:
        doomed = await replica_set(client, "doomed")
        await pod(client, "doomed-a", ref_to(doomed))
        kept = await replica_set(client, "kept")
        await pod(client, "kept-a", ref_to(kept))
        await replica_set(client, "survivor")
    # The control plane comes back without its garbage collector: deletions are recorded
    # but nobody acts on them.
    cluster.controllers = ""
    cluster.restart_control_plane()
    async with connected(cluster) as client:
        await client.delete(apps_pb2.ReplicaSet, "doomed", NS)
        await client.delete(apps_pb2.ReplicaSet, "kept", NS, propagation_policy="Orphan")
        assert await exists(client, core_pb2.Pod, "doomed-a") is not None
        orphaning = await exists(client, apps_pb2.ReplicaSet, "kept")
        assert orphaning is not None and list(orphaning.metadata.finalizers) == ["orphan"]
    cluster.controllers = "garbagecollector"
    cluster.restart_control_plane()
    async with connected(cluster) as client:
        await eventually(gone(client, core_pb2.Pod, "doomed-a"))
        await eventually(gone(client, apps_pb2.ReplicaSet, "kept"))
        current = await exists(client, core_pb2.Pod, "kept-a")
        assert current is not None and not current.metadata.owner_references
        assert await exists(client, apps_pb2.ReplicaSet, "survivor") is not None


async def test_orphaned_pods_are_adopted_by_the_recreated_replica_set(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KIA ch. 14: ``kubectl delete rs kiada --cascade=orphan`` and creating the ReplicaSet
    again: the very same five pods are adopted, none is created."""
    path = "/work/shared/manifests/kia2/Chapter14/rs.kiada.yaml"
    async with connected(started(make_cluster, "replicaset,garbagecollector")) as client:
        [manifest] = load_paths([path])
        first = await client.create(manifest.obj)

        async def five_owned_by(uid: str) -> set[str]:
            pods = (await client.list(core_pb2.Pod, NS)).items
            assert len(pods) == 5, len(pods)
            assert all([r.uid for r in p.metadata.owner_references] == [uid] for p in pods)
            return {p.metadata.uid for p in pods}

        original = await eventually(lambda: five_owned_by(first.metadata.uid))
        await client.delete(apps_pb2.ReplicaSet, "kiada", NS, propagation_policy="Orphan")
        await eventually(gone(client, apps_pb2.ReplicaSet, "kiada"))
        orphans = (await client.list(core_pb2.Pod, NS)).items
        assert {p.metadata.uid for p in orphans} == original
        assert all(not p.metadata.owner_references and not p.metadata.deletion_timestamp
                   for p in orphans)

        [manifest] = load_paths([path])
        second = await client.create(manifest.obj)
        assert await eventually(lambda: five_owned_by(second.metadata.uid)) == original
