"""StatefulSets as Kubernetes in Action 2nd ed. chapter 16 shows them, on a real cluster: a
control plane with every controller (scheduler, StatefulSet, claim binder, node lifecycle, pod
GC, garbage collector) and three real kubelet processes, shared by the module. Each test works
in its own namespace and applies the book's manifests unchanged, through kemuctl's own apply.

Where the book's app decides when a pod is ready (MongoDB's replica set, a slow start), the
test says so with the fake runtime's ``kemu.io/ready-after`` annotation, added to the template
(docs/runtime.md). The node-failure test kills a kubelet, so it comes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from kemu.api.errors import ApiError
from kemu.api.pods import is_ready
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import Manifest, load_paths
from kemu.v1 import apps_pb2, core_pb2
from kemuctl.commands.apply import StepFailed, apply_manifest
from launcher.cluster import LocalCluster
from tests.support.manifests import SHARED
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CHAPTER = SHARED / "kia2" / "Chapter16"
NODES = ("node-1", "node-2", "node-3")
REVISION = "controller-revision-hash"


# -- the cluster ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    made = LocalCluster(tmp_path_factory.mktemp("statefulsets"))
    try:
        made.start_control_plane()
        for name in NODES:
            made.add_node(name)
        asyncio.run(_nodes_ready(made.address))
        yield made
    finally:
        for process in made.control_planes.values():
            print(f"----- {process.name} ({process.log_path}) -----")
            print(process.log_tail(60))
        made.stop()


async def _nodes_ready(address: str) -> None:
    client = GrpcClient(address)
    try:
        async def ready() -> bool:
            nodes = (await client.list(core_pb2.Node)).items
            return sum(1 for n in nodes for c in n.status.conditions
                       if c.type == "Ready" and c.status == "True") == len(NODES)
        await eventually(ready, timeout=30, what="three Ready nodes")
    finally:
        await client.close()


@pytest.fixture
async def client(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    made = GrpcClient(cluster.address)
    yield made
    await made.close()


@pytest.fixture
async def namespace(client: GrpcClient) -> str:
    name = f"ch16-{uuid.uuid4().hex[:6]}"
    created = core_pb2.Namespace()
    created.metadata.name = name
    await client.create(created)
    return name


# -- applying the book's manifests ----------------------------------------------------------
def manifests(name: str, ready_after: str = "") -> list[Manifest]:
    """The objects of a chapter 16 file; ``ready_after`` scripts the app's readiness on the
    StatefulSet's pods (``kemu.io/ready-after``, for the quiz: its quiz-api container)."""
    loaded = load_paths([str(CHAPTER / name)])
    for manifest in loaded:
        if ready_after and manifest.kind.name == "StatefulSet":
            template = manifest.document["spec"]["template"]
            containers = template["spec"]["containers"]
            key = "kemu.io/ready-after" + (".quiz-api" if len(containers) > 1 else "")
            template.setdefault("metadata", {}).setdefault("annotations", {})[key] = ready_after
    return loaded


async def apply(client: GrpcClient, namespace: str, name: str, ready_after: str = "") -> None:
    """``kubectl apply -f <name>`` (kemuctl's client-side apply)."""
    for manifest in manifests(name, ready_after):
        await apply_manifest(client, manifest, namespace)


async def replace(client: GrpcClient, namespace: str, name: str) -> None:
    """``kubectl replace -f <name>`` of the StatefulSet in the file."""
    [wanted] = [m.obj for m in manifests(name) if m.kind.name == "StatefulSet"]
    current = await client.get(apps_pb2.StatefulSet, wanted.metadata.name, namespace)
    current.spec.CopyFrom(wanted.spec)
    await client.update(current)


async def kemuctl(cluster: LocalCluster, namespace: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kemuctl", "-n", namespace, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "KEMU_SERVER": cluster.address})
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def patch_spec(client: GrpcClient, namespace: str, name: str, spec: dict[str, Any]
                     ) -> None:
    await client.patch(apps_pb2.StatefulSet, name, namespace, {"spec": spec})


# -- looking ----------------------------------------------------------------------------------
async def pods_of(client: GrpcClient, namespace: str, prefix: str = "") -> dict[str, core_pb2.Pod]:
    found = (await client.list(core_pb2.Pod, namespace)).items
    return {p.metadata.name: p for p in found if p.metadata.name.startswith(prefix)}


async def claims_of(client: GrpcClient, namespace: str
                    ) -> dict[str, core_pb2.PersistentVolumeClaim]:
    found = (await client.list(core_pb2.PersistentVolumeClaim, namespace)).items
    return {c.metadata.name: c for c in found}


async def wait_ready(client: GrpcClient, namespace: str, name: str, replicas: int,
                     timeout: float = 30.0) -> apps_pb2.StatefulSet:
    """The set observed, ``replicas`` pods Running and Ready, all at the update revision."""

    async def settled() -> apps_pb2.StatefulSet:
        sts = await client.get(apps_pb2.StatefulSet, name, namespace)
        status = sts.status
        assert status.observed_generation == sts.metadata.generation, status
        assert (status.replicas, status.ready_replicas, status.updated_replicas) == \
            (replicas, replicas, replicas), status
        pods = await pods_of(client, namespace, f"{name}-")
        live = [p for p in pods.values() if not p.metadata.deletion_timestamp]
        assert len(live) == replicas and all(is_ready(p) for p in live), sorted(pods)
        return sts

    result: apps_pb2.StatefulSet = await eventually(settled, timeout=timeout,
                                                    what=f"statefulset {name} ready")
    return result


class PodLog:
    """Every change to a namespace's pods, in the order the API server made them."""

    def __init__(self, client: GrpcClient, namespace: str):
        self.client = client
        self.namespace = namespace
        self.events: list[tuple[str, core_pb2.Pod]] = []
        self.times: list[float] = []  # when each event arrived (time.monotonic)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PodLog:
        listed = await self.client.list(core_pb2.Pod, self.namespace)
        self._task = asyncio.create_task(self._watch(listed.resource_version))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self, resource_version: str) -> None:
        async for event in self.client.watch(core_pb2.Pod, self.namespace,
                                             resource_version=resource_version):
            if event.object is not None:
                self.events.append((event.type, event.object))
                self.times.append(time.monotonic())

    def first(self, name: str, test: Callable[[str, core_pb2.Pod], bool], after: int = 0) -> int:
        """The index of the first event of pod ``name`` (from ``after``) passing ``test``."""
        for index, (kind, pod) in enumerate(self.events):
            if index >= after and pod.metadata.name == name and test(kind, pod):
                return index
        raise AssertionError(f"no such event for {name} in {len(self.events)} events")

    def added(self, name: str, after: int = 0) -> int:
        return self.first(name, lambda kind, _: kind == "ADDED", after)

    def ready(self, name: str, after: int = 0) -> int:
        return self.first(name, lambda kind, pod: kind != "DELETED" and is_ready(pod), after)

    def terminating(self, name: str, after: int = 0) -> int:
        return self.first(name, lambda _, pod: bool(pod.metadata.deletion_timestamp), after)

    def gone(self, name: str, after: int = 0) -> int:
        return self.first(name, lambda kind, _: kind == "DELETED", after)


async def events_about(client: GrpcClient, namespace: str, name: str) -> list[tuple[str, str]]:
    found = (await client.list(core_pb2.Event, namespace)).items
    return [(e.reason, e.message) for e in found if e.involved_object.kind == "StatefulSet"
            and e.involved_object.name == name]


# -- 16.1 creating a StatefulSet, identity and storage ----------------------------------------
async def test_quiz_pods_keep_their_identity_and_claims(cluster: LocalCluster, client: GrpcClient,
                                                        namespace: str) -> None:
    await apply(client, namespace, "svc.quiz-pods.yaml")
    await apply(client, namespace, "sts.quiz.yaml")
    sts = await wait_ready(client, namespace, "quiz", 3)

    pods = await pods_of(client, namespace, "quiz-")
    assert sorted(pods) == ["quiz-0", "quiz-1", "quiz-2"]
    revision = sts.status.update_revision
    assert sts.status.current_revision == revision
    assert (sts.status.current_replicas, sts.status.available_replicas) == (3, 3)
    for ordinal, (name, pod) in enumerate(sorted(pods.items())):
        assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == name
        assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == str(ordinal)
        assert pod.metadata.labels[REVISION] == revision
        assert (pod.spec.hostname, pod.spec.subdomain) == (name, "quiz-pods")
        [volume] = pod.spec.volumes
        assert (volume.name, volume.persistent_volume_claim.claim_name) == \
            ("db-data", f"db-data-{name}")
    claims = await eventually(lambda: _bound(client, namespace, 3), what="three Bound claims")
    assert sorted(claims) == ["db-data-quiz-0", "db-data-quiz-1", "db-data-quiz-2"]
    for claim in claims.values():
        assert claim.status.capacity["storage"].value == "1Gi"
        assert list(claim.status.access_modes) == ["ReadWriteOnce"]
        assert claim.spec.volume_name == f"pvc-{claim.metadata.uid}"
        assert dict(claim.metadata.labels) == {"app": "quiz"}
        assert not claim.metadata.owner_references  # Retain, Retain
    [history] = (await client.list(apps_pb2.ControllerRevision, namespace)).items
    assert (history.metadata.name, history.revision) == (revision, 1)
    messages = [m for _, m in await events_about(client, namespace, "quiz")]
    assert "create Claim db-data-quiz-0 Pod quiz-0 in StatefulSet quiz success" in messages
    assert "create Pod quiz-0 in StatefulSet quiz successful" in messages

    table = await kemuctl(cluster, namespace, "get", "sts,pvc")
    assert "statefulset.apps/quiz   3/3" in table
    assert any(line.startswith("persistentvolumeclaim/db-data-quiz-1") and " Bound " in line
               for line in table.splitlines()), table

    # A deleted pod comes back under the same name, with the same claim; never two at once.
    async with PodLog(client, namespace) as log:
        old = pods["quiz-1"]
        await client.delete(core_pb2.Pod, "quiz-1", namespace)
        await wait_ready(client, namespace, "quiz", 3)
        new = (await pods_of(client, namespace, "quiz-"))["quiz-1"]
        assert new.metadata.uid != old.metadata.uid
        assert new.spec.volumes[0].persistent_volume_claim.claim_name == "db-data-quiz-1"
        assert log.added("quiz-1") > log.gone("quiz-1")
    assert (await claims_of(client, namespace))["db-data-quiz-1"].metadata.uid == \
        claims["db-data-quiz-1"].metadata.uid

    # Scaling down removes the highest ordinal; its claim stays for when it comes back.
    await patch_spec(client, namespace, "quiz", {"replicas": 2})
    await wait_ready(client, namespace, "quiz", 2)
    assert sorted(await pods_of(client, namespace, "quiz-")) == ["quiz-0", "quiz-1"]
    kept = (await claims_of(client, namespace))["db-data-quiz-2"]
    assert kept.metadata.uid == claims["db-data-quiz-2"].metadata.uid
    assert not kept.metadata.deletion_timestamp

    async def delete_event() -> bool:
        messages = [m for r, m in await events_about(client, namespace, "quiz")
                    if r == "SuccessfulDelete"]
        assert messages == ["delete Pod quiz-2 in StatefulSet quiz successful"], messages
        return True

    await eventually(delete_event, what="the SuccessfulDelete event")
    await patch_spec(client, namespace, "quiz", {"replicas": 3})
    await wait_ready(client, namespace, "quiz", 3)
    again = (await pods_of(client, namespace, "quiz-"))["quiz-2"]
    assert again.spec.volumes[0].persistent_volume_claim.claim_name == "db-data-quiz-2"
    assert len(await claims_of(client, namespace)) == 3


async def _bound(client: GrpcClient, namespace: str, count: int
                 ) -> dict[str, core_pb2.PersistentVolumeClaim]:
    claims = await claims_of(client, namespace)
    assert len(claims) == count and all(c.status.phase == "Bound" for c in claims.values()), \
        {n: c.status.phase for n, c in claims.items()}
    return claims


# -- orphaning and adoption ---------------------------------------------------------------------
async def test_orphaned_pods_and_revisions_are_adopted_by_a_new_set(client: GrpcClient,
                                                                    namespace: str) -> None:
    """``kubectl delete sts quiz --cascade=orphan`` (to change what cannot be changed), then
    the set again: it takes its pods and revision back; no pod is restarted."""
    await apply(client, namespace, "sts.quiz.yaml")
    await wait_ready(client, namespace, "quiz", 3)
    pods = await pods_of(client, namespace, "quiz-")
    await client.delete(apps_pb2.StatefulSet, "quiz", namespace, propagation_policy="Orphan")

    async def orphaned() -> bool:
        with contextlib.suppress(ApiError):
            await client.get(apps_pb2.StatefulSet, "quiz", namespace)
            raise AssertionError("the set is still there")
        assert all(not p.metadata.owner_references
                   for p in (await pods_of(client, namespace, "quiz-")).values())
        return True

    await eventually(orphaned, what="pods orphaned, set gone")
    await apply(client, namespace, "sts.quiz.yaml")
    sts = await wait_ready(client, namespace, "quiz", 3)

    async def adopted() -> bool:
        again = await pods_of(client, namespace, "quiz-")
        assert {n: p.metadata.uid for n, p in again.items()} == \
            {n: p.metadata.uid for n, p in pods.items()}
        for pod in again.values():
            assert [(r.kind, r.uid) for r in pod.metadata.owner_references] == \
                [("StatefulSet", sts.metadata.uid)]
        [revision] = (await client.list(apps_pb2.ControllerRevision, namespace)).items
        assert [r.uid for r in revision.metadata.owner_references] == [sts.metadata.uid]
        assert revision.metadata.name == sts.status.update_revision
        return True

    await eventually(adopted, what="pods and revision adopted")


# -- 16.3 OrderedReady vs Parallel ---------------------------------------------------------------
async def test_ordered_ready_and_parallel_pod_management(client: GrpcClient,
                                                         namespace: str) -> None:
    async with PodLog(client, namespace) as log:
        # Each pod takes 20 s (1 s in the fast profile) to become ready.
        await apply(client, namespace, "sts.demo-ordered.yaml", ready_after="20")
        await apply(client, namespace, "sts.demo-parallel.yaml", ready_after="20")
        await wait_ready(client, namespace, "demo-ordered", 3)
        await wait_ready(client, namespace, "demo-parallel", 3)
        # OrderedReady: a pod is created only once the one before it is ready.
        for ordinal in (1, 2):
            assert log.added(f"demo-ordered-{ordinal}") > log.ready(f"demo-ordered-{ordinal - 1}")
        # Parallel: all three are created before any of them is ready.
        parallel = [f"demo-parallel-{i}" for i in range(3)]
        assert max(log.added(p) for p in parallel) < min(log.ready(p) for p in parallel)

        # Updates go one pod at a time from the highest ordinal, whatever the policy.
        start = len(log.events)
        await apply(client, namespace, "sts.demo-ordered.updated.yaml")
        await apply(client, namespace, "sts.demo-parallel.updated.yaml")
        for name in ("demo-ordered", "demo-parallel"):
            sts = await wait_ready(client, namespace, name, 3)
            assert sts.status.current_revision == sts.status.update_revision
            pods = await pods_of(client, namespace, f"{name}-")
            assert all(p.metadata.labels["ver"] == "new" for p in pods.values())
            order = [log.terminating(f"{name}-{i}", start) for i in (2, 1, 0)]
            assert order == sorted(order), order
            for higher, lower in ((2, 1), (1, 0)):
                back = log.ready(f"{name}-{higher}", log.added(f"{name}-{higher}", start))
                assert log.terminating(f"{name}-{lower}", start) > back


# -- 16.3.2 OrderedReady stalls on a pod that is not ready --------------------------------------
async def test_ordered_ready_stalls_while_a_pod_is_not_ready(client: GrpcClient,
                                                             namespace: str) -> None:
    # The book's quiz-api is not ready until its MongoDB replica set is initiated, which
    # needs all three pods: quiz-0 never becomes ready.
    await apply(client, namespace, "sts.quiz.orderedReady.yaml", ready_after="1h")

    async def running_not_ready() -> core_pb2.Pod:
        pod = (await pods_of(client, namespace, "quiz-")).get("quiz-0")
        assert pod is not None and pod.status.phase == "Running" and not is_ready(pod)
        assert any(s.ready for s in pod.status.container_statuses)  # mongo is, quiz-api is not
        return pod

    stuck = await eventually(running_not_ready, what="quiz-0 running, not ready")
    # Several readiness periods and minReadySeconds go by: no quiz-1.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert sorted(await pods_of(client, namespace, "quiz-")) == ["quiz-0"]
        await asyncio.sleep(0.2)
    sts = await client.get(apps_pb2.StatefulSet, "quiz", namespace)
    assert (sts.status.replicas, sts.status.ready_replicas) == (1, 0)

    # The fixed readiness probe is a new template, but the set still waits for quiz-0 ...
    await apply(client, namespace, "sts.quiz.orderedReady.readinessProbe.yaml")

    async def new_revision() -> apps_pb2.StatefulSet:
        current = await client.get(apps_pb2.StatefulSet, "quiz", namespace)
        assert current.status.observed_generation == current.metadata.generation
        assert current.status.update_revision != current.status.current_revision
        return current

    updated = await eventually(new_revision, what="an update revision")
    pods = await pods_of(client, namespace, "quiz-")
    assert sorted(pods) == ["quiz-0"] and pods["quiz-0"].metadata.uid == stuck.metadata.uid
    # ... until someone deletes it: it comes back at the update revision, and the rest follow.
    async with PodLog(client, namespace) as log:
        await client.delete(core_pb2.Pod, "quiz-0", namespace)
        sts = await wait_ready(client, namespace, "quiz", 3)
        assert sts.status.current_revision == updated.status.update_revision
        for name, pod in (await pods_of(client, namespace, "quiz-")).items():
            assert pod.metadata.labels[REVISION] == updated.status.update_revision, name
        assert log.added("quiz-1") > log.ready("quiz-0")
        assert log.added("quiz-2") > log.ready("quiz-1")


# -- 16.4 updating: partition, RollingUpdate, OnDelete, rollback ----------------------------------
async def test_updates_partition_rolling_update_on_delete_and_undo(
        cluster: LocalCluster, client: GrpcClient, namespace: str) -> None:
    async with PodLog(client, namespace) as log:
        await apply(client, namespace, "sts.quiz.orderedReady.yaml")
        first = await wait_ready(client, namespace, "quiz", 3)
        # minReadySeconds: 10 (0.5 s here) between a pod turning ready and the next one.
        for ordinal in (1, 2):
            ready = log.ready(f"quiz-{ordinal - 1}")
            added = log.added(f"quiz-{ordinal}")
            assert added > ready and log.times[added] - log.times[ready] >= 0.3
    old_revision = first.status.current_revision

    async def versions() -> dict[str, str]:
        pods = await pods_of(client, namespace, "quiz-")
        return {n: p.metadata.labels["ver"] for n, p in pods.items()
                if not p.metadata.deletion_timestamp}

    # Partition 3: a new revision, no pod updated.
    await apply(client, namespace, "sts.quiz.0.2.partition.yaml")

    async def canary_ready() -> apps_pb2.StatefulSet:
        sts = await client.get(apps_pb2.StatefulSet, "quiz", namespace)
        assert sts.status.observed_generation == sts.metadata.generation
        assert sts.status.update_revision != old_revision
        assert (sts.status.current_revision, sts.status.current_replicas,
                sts.status.updated_replicas) == (old_revision, 3, 0), sts.status
        return sts

    await eventually(canary_ready, what="partitioned update revision")
    assert await versions() == {"quiz-0": "0.1", "quiz-1": "0.1", "quiz-2": "0.1"}
    assert (await kemuctl(cluster, namespace, "rollout", "status", "sts", "quiz")).strip() == \
        "partitioned roll out complete: 0 new pods have been updated..."

    # Partition 2: only quiz-2 moves to 0.2.
    await patch_spec(client, namespace, "quiz",
                     {"updateStrategy": {"rollingUpdate": {"partition": 2}}})

    async def canary() -> bool:
        sts = await client.get(apps_pb2.StatefulSet, "quiz", namespace)
        assert await versions() == {"quiz-0": "0.1", "quiz-1": "0.1", "quiz-2": "0.2"}
        assert (sts.status.current_replicas, sts.status.updated_replicas,
                sts.status.ready_replicas) == (2, 1, 3), sts.status
        return True

    await eventually(canary, timeout=30, what="quiz-2 updated alone")

    # The whole rollout (partition 0), highest ordinal first.
    async with PodLog(client, namespace) as log:
        await apply(client, namespace, "sts.quiz.0.2.yaml")
        sts = await wait_ready(client, namespace, "quiz", 3)
        assert sts.status.current_revision == sts.status.update_revision != old_revision
        assert await versions() == {"quiz-0": "0.2", "quiz-1": "0.2", "quiz-2": "0.2"}
        assert log.terminating("quiz-1") < log.terminating("quiz-0")
        assert log.terminating("quiz-0") > log.ready("quiz-1", log.added("quiz-1"))
    status = await kemuctl(cluster, namespace, "rollout", "status", "sts", "quiz")
    assert status.strip() == "partitioned roll out complete: 3 new pods have been updated..."

    # OnDelete, then a rollback: nothing moves until a pod is deleted. As in Kubernetes, an
    # apply keeps the defaulted rollingUpdate and is refused; a replace works.
    with pytest.raises(StepFailed) as refused:
        await apply(client, namespace, "sts.quiz.0.2.onDelete.yaml")
    assert refused.value.error.message == (
        'StatefulSet.apps "quiz" is invalid: spec.updateStrategy.rollingUpdate: Invalid value: '
        '{"partition":0}: only allowed for updateStrategy \'RollingUpdate\'')
    await replace(client, namespace, "sts.quiz.0.2.onDelete.yaml")
    undone = await kemuctl(cluster, namespace, "rollout", "undo", "sts", "quiz")
    assert undone.strip() == "statefulset.apps/quiz rolled back"

    async def rolled_back() -> apps_pb2.StatefulSet:
        current = await client.get(apps_pb2.StatefulSet, "quiz", namespace)
        assert current.status.observed_generation == current.metadata.generation
        assert current.status.update_revision == old_revision
        return current

    await eventually(rolled_back, what="the old revision as update revision")
    assert await versions() == {"quiz-0": "0.2", "quiz-1": "0.2", "quiz-2": "0.2"}
    history = await kemuctl(cluster, namespace, "rollout", "history", "sts", "quiz")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]
    await client.delete(core_pb2.Pod, "quiz-1", namespace)

    async def quiz_1_rolled_back() -> bool:
        assert await versions() == {"quiz-0": "0.2", "quiz-1": "0.1", "quiz-2": "0.2"}
        pod = (await pods_of(client, namespace, "quiz-"))["quiz-1"]
        assert pod.metadata.labels[REVISION] == old_revision and is_ready(pod)
        return True

    await eventually(quiz_1_rolled_back, timeout=30, what="quiz-1 back at 0.1")


# -- 16.2.4 the claims' retention policy -----------------------------------------------------
async def test_claim_retention_policy(client: GrpcClient, namespace: str) -> None:
    # whenScaled: Delete, whenDeleted: Retain; Parallel, five replicas.
    await apply(client, namespace, "sts.quiz.pvcRetentionPolicy.yaml")
    sts = await wait_ready(client, namespace, "quiz", 5)
    await eventually(lambda: _bound(client, namespace, 5), what="five Bound claims")

    await patch_spec(client, namespace, "quiz", {"replicas": 3})
    await wait_ready(client, namespace, "quiz", 3)

    async def scaled_claims_gone() -> dict[str, core_pb2.PersistentVolumeClaim]:
        claims = await claims_of(client, namespace)
        assert sorted(claims) == ["db-data-quiz-0", "db-data-quiz-1", "db-data-quiz-2"]
        return claims

    claims = await eventually(scaled_claims_gone, timeout=30, what="claims 3 and 4 deleted")
    assert all(not c.metadata.owner_references for c in claims.values())

    # whenDeleted: Delete hands the claims to the set; deleting the set takes them along.
    await patch_spec(client, namespace, "quiz", {"persistentVolumeClaimRetentionPolicy": {
        "whenDeleted": "Delete", "whenScaled": "Delete"}})

    async def owned_by_the_set() -> bool:
        for claim in (await claims_of(client, namespace)).values():
            assert [(o.kind, o.name, o.uid, o.controller)
                    for o in claim.metadata.owner_references] == \
                [("StatefulSet", "quiz", sts.metadata.uid, True)], claim.metadata.name
        return True

    await eventually(owned_by_the_set, what="claims owned by the set")
    await client.delete(apps_pb2.StatefulSet, "quiz", namespace)

    async def all_gone() -> bool:
        assert await claims_of(client, namespace) == {}
        assert await pods_of(client, namespace, "quiz-") == {}
        return True

    await eventually(all_gone, timeout=30, what="pods and claims deleted with the set")


# -- 16.2.3 a node fails (kills a kubelet: keep last) ---------------------------------------
async def test_a_pod_on_a_failed_node_is_not_replaced_until_it_is_gone(
        cluster: LocalCluster, client: GrpcClient, namespace: str) -> None:
    await apply(client, namespace, "sts.quiz.yaml")
    await wait_ready(client, namespace, "quiz", 3)
    claim_uid = (await claims_of(client, namespace))["db-data-quiz-0"].metadata.uid
    victim = (await pods_of(client, namespace, "quiz-"))["quiz-0"]
    node = victim.spec.node_name
    cluster.kill_node(node)

    async def node_not_ready() -> bool:
        found = await client.get(core_pb2.Node, node)
        assert any(c.type == "Ready" and c.status != "True" for c in found.status.conditions)
        return True

    await eventually(node_not_ready, timeout=30, what=f"{node} not ready")
    # kubectl delete pod quiz-0: nobody is left to confirm it stopped; it stays Terminating.
    await client.delete(core_pb2.Pod, "quiz-0", namespace)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        pods = await pods_of(client, namespace, "quiz-")
        assert pods["quiz-0"].metadata.uid == victim.metadata.uid
        assert pods["quiz-0"].metadata.deletion_timestamp
        await asyncio.sleep(0.2)

    # kubectl delete node: the pod GC removes its pods, and quiz-0 comes back elsewhere.
    await client.delete(core_pb2.Node, node)

    async def replaced() -> core_pb2.Pod:
        pod = (await pods_of(client, namespace, "quiz-")).get("quiz-0")
        assert pod is not None and pod.metadata.uid != victim.metadata.uid
        assert pod.spec.node_name not in ("", node) and is_ready(pod)
        return pod

    back = await eventually(replaced, timeout=40, what="quiz-0 re-created on another node")
    assert back.spec.volumes[0].persistent_volume_claim.claim_name == "db-data-quiz-0"
    assert (await claims_of(client, namespace))["db-data-quiz-0"].metadata.uid == claim_uid

