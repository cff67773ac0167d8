"""Kubernetes in Action, 2nd edition, chapters 14 (ReplicaSets) and 15 (Deployments), with the
book's unchanged manifests on three real nodes and ``kemuctl`` in place of ``kubectl``.

Chapter 14 starts from three kiada pods left by earlier chapters (the book's SETUP folder,
which is not among the shared manifests): they are made here from the book's own
pod.one-kiada-too-many.yaml under the names kiada-001..003.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import yaml

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from tests.e2e.kit import (
    KEMUCTL,
    TIMING,
    Cluster,
    PodTimeline,
    Stopwatch,
    condition,
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
KIADA = "app=kiada,rel=stable"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("kia2-workloads"), NODES) as running:
        yield running


@pytest.fixture(scope="module")
def broken_pods(cluster: Cluster) -> tuple[str, Stopwatch]:
    """deploy.broken-pods.yaml, applied as soon as the module starts: its progress deadline
    (600 s, 30 s here) runs out while the other tests run."""
    ns = f"broken-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "KEMU_SERVER": cluster.address}
    namespace = yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for args, text in ((["create", "-f", "-"], namespace),
                       (["apply", "-f", manifest("kia2/Chapter15/deploy.broken-pods.yaml"),
                         "-n", ns], None)):
        done = subprocess.run([KEMUCTL, *args], input=text, capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 0, done.stderr
    return ns, Stopwatch()


def ch14(name: str) -> str:
    return manifest(f"kia2/Chapter14/{name}")


def ch15(name: str) -> str:
    return manifest(f"kia2/Chapter15/{name}")


def setup_pod(name: str) -> str:
    """The book's kiada pod (app=kiada, rel=stable, ver=0.5) under another name."""
    with open(ch14("pod.one-kiada-too-many.yaml")) as source:
        pod = yaml.safe_load(source)
    pod["metadata"]["name"] = name
    return yaml.safe_dump(pod)


async def rs_counts(api: GrpcClient, ns: str, name: str) -> tuple[int, int, int]:
    rs = await api.get(apps_pb2.ReplicaSet, name, ns)
    assert rs.status.observed_generation == rs.metadata.generation
    return rs.spec.replicas, rs.status.replicas, rs.status.ready_replicas


async def test_replicaset_adopts_scales_releases_and_orphans_pods(
        cluster: Cluster, api: GrpcClient, broken_pods: tuple[str, Stopwatch]) -> None:
    ns = await new_namespace(api, "kiada-rs")
    for name in ("kiada-001", "kiada-002", "kiada-003"):
        await cluster.kemuctl("apply", "-n", ns, "-f", "-", input=setup_pod(name))
    setup = {p.metadata.name: p for p in await running_pods(api, ns, KIADA, 3)}

    # Five replicas wanted, three matching pods already there: two are created, three adopted.
    created = await cluster.kemuctl("apply", "-f", ch14("rs.kiada.yaml"), "-n", ns)
    assert created.stdout.strip() == "replicaset.apps/kiada created"
    five = await running_pods(api, ns, KIADA, 5)
    assert {owner(p) for p in five} == {("ReplicaSet", "kiada")}
    assert {p.metadata.uid for p in five} >= {p.metadata.uid for p in setup.values()}
    adopted = await api.get(core_pb2.Pod, "kiada-001", ns)
    [reference] = adopted.metadata.owner_references
    assert (reference.kind, reference.name, reference.controller,
            reference.block_owner_deletion) == ("ReplicaSet", "kiada", True, True)

    async def rs_at(expected: tuple[int, int, int]) -> bool:
        assert await rs_counts(api, ns, "kiada") == expected
        return True
    await eventually(lambda: rs_at((5, 5, 5)), what="rs status 5/5/5")
    [row] = (await cluster.kemuctl("get", "rs", "kiada", "-n", ns)).table()
    assert (row["DESIRED"], row["CURRENT"], row["READY"]) == ("5", "5", "5")

    # Scaling down deletes two of them (all ready and running alike: which two depends on how
    # long each has been ready, at a scale where those times barely differ).
    scaled = await cluster.kemuctl("scale", "rs", "kiada", "--replicas", "3", "-n", ns)
    assert scaled.stdout.strip() == "replicaset.apps/kiada scaled"
    three = await running_pods(api, ns, KIADA, 3)
    assert {p.metadata.uid for p in three} < {p.metadata.uid for p in five}

    # A new template (a ver label) changes no existing pod; scaled to 2, one more goes.
    await cluster.kemuctl("apply", "-f", ch14("rs.kiada.versionLabel.yaml"), "-n", ns)
    two = await running_pods(api, ns, KIADA, 2)
    created_by_rs = [p for p in two if p.metadata.name not in setup]
    for pod in created_by_rs:
        assert "ver" not in pod.metadata.labels, pod.metadata.name
    # Only replacements get the new template.
    victim = two[0]
    await cluster.kemuctl("delete", "pod", victim.metadata.name, "-n", ns)
    replaced = await running_pods(api, ns, KIADA, 2)
    [new] = [p for p in replaced if p.metadata.uid not in {q.metadata.uid for q in two}]
    assert new.metadata.labels["ver"] == "0.5"

    # One pod too many: the ReplicaSet adopts it and deletes it (new, not yet ready: first).
    extra = await cluster.kemuctl("apply", "-f", ch14("pod.one-kiada-too-many.yaml"), "-n", ns)
    assert extra.stdout.strip() == "pod/one-kiada-too-many created"
    await gone(api, core_pb2.Pod, "one-kiada-too-many", ns)
    kept = await running_pods(api, ns, KIADA, 2)
    assert {p.metadata.uid for p in kept} == {p.metadata.uid for p in replaced}

    # A pod whose labels no longer match is released, and replaced.
    released = kept[0]
    labelled = await cluster.kemuctl("label", "pod", released.metadata.name, "rel=canary",
                                     "--overwrite", "-n", ns)
    assert labelled.stdout.strip() == f"pod/{released.metadata.name} labeled"
    await running_pods(api, ns, KIADA, 2)

    async def free() -> bool:
        pod = await api.get(core_pb2.Pod, released.metadata.name, ns)
        assert not pod.metadata.owner_references, pod.metadata.owner_references
        return True
    await eventually(free, what="the relabelled pod released")

    # Deleted with --cascade=orphan, the ReplicaSet leaves its pods; created again, it adopts
    # the very same pods; deleted normally, it takes them along (not the released one).
    before = {p.metadata.uid for p in await running_pods(api, ns, KIADA, 2)}
    await cluster.kemuctl("delete", "rs", "kiada", "--cascade=orphan", "-n", ns)

    async def orphans() -> bool:
        found = await running_pods(api, ns, KIADA, 2, timeout=1)
        assert {p.metadata.uid for p in found} == before
        assert not any(p.metadata.owner_references for p in found)
        return True
    await eventually(orphans, what="orphaned pods")
    await cluster.kemuctl("apply", "-f", ch14("rs.kiada.versionLabel.yaml"), "-n", ns)

    async def adopted_again() -> bool:
        found = await running_pods(api, ns, KIADA, 2, timeout=1)
        assert {p.metadata.uid for p in found} == before
        assert {owner(p) for p in found} == {("ReplicaSet", "kiada")}
        return True
    await eventually(adopted_again, what="the same pods adopted")
    await cluster.kemuctl("delete", "rs", "kiada", "-n", ns)

    async def only_the_canary() -> bool:
        left = [p.metadata.name for p in await pods(api, ns)]
        assert left == [released.metadata.name], left
        return True
    await eventually(only_the_canary, what="the ReplicaSet's pods deleted")


async def test_deployment_scaling_recreate_rolling_update_and_undo(
        cluster: Cluster, api: GrpcClient, broken_pods: tuple[str, Stopwatch]) -> None:
    ns = await new_namespace(api, "kiada-deploy")
    created = await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.yaml"), "-n", ns)
    assert created.stdout.strip() == "deployment.apps/kiada created"
    first = await running_pods(api, ns, KIADA, 3)
    [rs] = (await api.list(apps_pb2.ReplicaSet, ns)).items
    template_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"kiada-{template_hash}"
    assert owner(rs) == ("Deployment", "kiada")
    for pod in first:
        assert pod.metadata.name.startswith(f"kiada-{template_hash}-")
        assert owner(pod) == ("ReplicaSet", rs.metadata.name)

    async def deployed() -> bool:
        deployment = await api.get(apps_pb2.Deployment, "kiada", ns)
        status = deployment.status
        assert status.observed_generation == deployment.metadata.generation
        assert (status.ready_replicas, status.updated_replicas, status.available_replicas) == \
            (3, 3, 3), status
        return True
    await eventually(deployed, what="deployment 3/3")
    [row] = (await cluster.kemuctl("get", "deploy", "kiada", "-n", ns)).table()
    assert (row["READY"], row["UP-TO-DATE"], row["AVAILABLE"]) == ("3/3", "3", "3"), row

    # kubectl scale, then applying a manifest without replicas: the field the last apply set
    # is removed, so the Deployment falls back to the default of one replica (kubectl's
    # three-way merge); scaled again, a second apply leaves the count alone.
    await cluster.kemuctl("scale", "deploy", "kiada", "--replicas", "5", "-n", ns)
    await running_pods(api, ns, KIADA, 5)
    await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.noReplicas.yaml"), "-n", ns)
    await running_pods(api, ns, KIADA, 1)
    await cluster.kemuctl("scale", "deploy", "kiada", "--replicas", "3", "-n", ns)
    await running_pods(api, ns, KIADA, 3)
    again = await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.noReplicas.yaml"), "-n", ns)
    assert again.stdout.strip() == "deployment.apps/kiada unchanged"
    assert (await api.get(apps_pb2.Deployment, "kiada", ns)).spec.replicas == 3

    # Recreate: changing only the strategy rolls nothing out; the next template change deletes
    # every old pod before the first new one is created.
    await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.recreate.yaml"), "-n", ns)
    await running_pods(api, ns, KIADA, 3)
    assert len((await api.list(apps_pb2.ReplicaSet, ns)).items) == 1
    async with PodTimeline(api, ns, KIADA) as timeline:
        await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.0.6.recreate.yaml"), "-n", ns)

        async def all_new() -> bool:
            found = await running_pods(api, ns, KIADA, 3, timeout=1)
            assert {p.metadata.labels["ver"] for p in found} == {"0.6"}
            return True
        await eventually(all_new, timeout=90, what="three 0.6 pods")
    for moment, snapshot in timeline.snapshots:
        if any(p.labels.get("ver") == "0.6" for p in snapshot):
            old = [p.name for p in snapshot if p.labels.get("ver") == "0.5"
                   and p.phase in ("Pending", "Running")]
            assert not old, f"at {moment:.2f}s a 0.6 pod existed beside running 0.5 pods {old}"
            break

    # RollingUpdate, maxSurge 0, maxUnavailable 1, minReadySeconds 10: never more than three
    # pods, never fewer than two ready ones, one old pod at a time.
    async with PodTimeline(api, ns, KIADA) as timeline:
        await cluster.kemuctl("apply", "-f", ch15("deploy.kiada.0.7.rollingUpdate.yaml"),
                              "-n", ns)

        async def rolled() -> bool:
            found = await running_pods(api, ns, KIADA, 3, timeout=1)
            assert {p.metadata.labels["ver"] for p in found} == {"0.7"}
            return True
        await eventually(rolled, timeout=90, what="three 0.7 pods")
    old_pods = {p.uid for p in timeline.snapshots[0][1] if p.labels.get("ver") == "0.6"}
    assert len(old_pods) == 3
    deleted_at: dict[str, float] = {}
    for moment, snapshot in timeline.snapshots:
        live = [p for p in snapshot if not p.deleting]
        assert len(live) <= 3, f"at {moment:.2f}s {len(live)} pods with maxSurge 0"
        assert sum(p.ready for p in live) >= 2, f"at {moment:.2f}s fewer than 2 ready pods"
        still = {p.uid for p in live}
        for uid in old_pods - still:
            deleted_at.setdefault(uid, moment)
    deletions = sorted(deleted_at.values())
    assert len(deletions) == 3
    gaps = [b - a for a, b in itertools.pairwise(deletions)]
    print(f"\nrolling update: old pods deleted {', '.join(f'{g:.2f}s' for g in gaps)} apart "
          f"(minReadySeconds {10 * TIMING.scale:.2f}s)")
    assert min(gaps) >= 10 * TIMING.scale - 0.1
    status = await cluster.kemuctl("rollout", "status", "deployment", "kiada", "-n", ns)
    assert status.lines[-1] == 'deployment "kiada" successfully rolled out'
    history = await cluster.kemuctl("rollout", "history", "deploy", "kiada", "-n", ns)
    assert [line.split()[0] for line in history.lines[2:] if line.strip()] == ["1", "2", "3"]

    # Undo: back to the previous revision's template (0.6), as revision 4.
    undone = await cluster.kemuctl("rollout", "undo", "deploy", "kiada", "-n", ns)
    assert undone.stdout.strip() == "deployment.apps/kiada rolled back"

    async def back() -> bool:
        found = await running_pods(api, ns, KIADA, 3, timeout=1)
        assert {p.metadata.labels["ver"] for p in found} == {"0.6"}
        return True
    await eventually(back, timeout=90, what="back to 0.6")
    history = await cluster.kemuctl("rollout", "history", "deploy", "kiada", "-n", ns)
    assert [line.split()[0] for line in history.lines[2:] if line.strip()] == ["1", "3", "4"]


async def test_broken_pods_make_no_progress(cluster: Cluster, api: GrpcClient,
                                            broken_pods: tuple[str, Stopwatch]) -> None:
    ns, since = broken_pods
    deadline = 600 * TIMING.scale

    async def crash_looping() -> bool:
        rows = (await cluster.kemuctl("get", "pods", "-l", "app=broken-pod", "-n", ns)).table()
        assert len(rows) == 3 and {r["READY"] for r in rows} == {"0/1"}, rows
        assert {r["STATUS"] for r in rows} <= {"CrashLoopBackOff", "Error"}, rows
        return True
    await eventually(crash_looping, interval=0.5, what="crash-looping pods")
    [row] = (await cluster.kemuctl("get", "deploy", "broken-pods", "-n", ns)).table()
    assert (row["READY"], row["AVAILABLE"]) == ("0/3", "0")

    async def past_deadline() -> apps_pb2.Deployment:
        deployment = await api.get(apps_pb2.Deployment, "broken-pods", ns)
        progressing = condition(deployment, "Progressing")
        assert progressing is not None and progressing.status == "False", progressing
        return deployment
    deployment = await eventually(past_deadline, timeout=deadline + 60, interval=0.2,
                                  what="the progress deadline")
    took = since()
    progressing = condition(deployment, "Progressing")
    assert progressing.reason == "ProgressDeadlineExceeded"
    assert progressing.message.startswith('ReplicaSet "broken-pods-')
    assert progressing.message.endswith('" has timed out progressing.')
    available = condition(deployment, "Available")
    assert (available.status, available.reason) == ("False", "MinimumReplicasUnavailable")
    assert took >= deadline - 1.0
    status = await cluster.kemuctl("rollout", "status", "deploy/broken-pods", "-n", ns, ok=False)
    assert status.exit_code == 1
    assert status.stderr.strip() == 'error: deployment "broken-pods" exceeded its progress deadline'
