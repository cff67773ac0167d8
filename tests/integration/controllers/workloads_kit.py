"""Shared pieces of the ReplicaSet, ReplicationController and Deployment integration tests.

There is no scheduler or kubelet in these clusters: a test plays the kubelet itself, binding a
pod to a node name and writing the status a kubelet would (phase Running, a Ready condition
with its transition time) through the status subresource.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kemu.api.codec import encode
from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339
from kemu.api.pods import is_active, is_ready
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import clone
from kemu.manifest import load_text
from kemu.v1 import apps_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.waiting import eventually

CONTROLLERS = "replicaset,replicationcontroller,deployment"


def start_workloads_plane(workdir: Path) -> LocalCluster:
    cluster = LocalCluster(workdir, controllers=CONTROLLERS)
    cluster.start_control_plane()
    return cluster


def workloads_plane_fixture() -> Any:
    """A module-scoped control plane running only the workload controllers."""

    @pytest.fixture(scope="module")
    def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
        cluster = start_workloads_plane(tmp_path_factory.mktemp("workloads"))
        try:
            yield cluster
        finally:
            for process in cluster.control_planes.values():
                print(f"----- {process.name} ({process.log_path}) -----")
                print(process.log_tail(80))
            cluster.stop()

    return plane


async def new_namespace(client: GrpcClient, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    namespace = core_pb2.Namespace()
    namespace.metadata.name = name
    await client.create(namespace)
    return name


def from_yaml(text: str, namespace: str) -> Any:
    """One object from a YAML manifest, placed in ``namespace``."""
    (manifest,) = load_text(text)
    obj = manifest.obj
    obj.metadata.namespace = namespace
    return obj


def load_manifest(path: Path, namespace: str) -> list[Any]:
    objects = []
    for manifest in load_text(path.read_text(), str(path)):
        obj = manifest.obj
        obj.metadata.namespace = namespace
        objects.append(obj)
    return objects


async def pods(client: GrpcClient, namespace: str, selector: str = "",
               include_terminating: bool = False) -> list[core_pb2.Pod]:
    found = (await client.list(core_pb2.Pod, namespace, label_selector=selector)).items
    if include_terminating:
        return found
    return [p for p in found if not p.metadata.deletion_timestamp]


async def run_pod(client: GrpcClient, pod: core_pb2.Pod, *, node: str = "node-1",
                  ready: bool = True, ready_since: str | None = None, restarts: int = 0,
                  phase: str = "Running") -> core_pb2.Pod:
    """Do what a kubelet would: bind the pod (if unbound) and report it running."""
    namespace, name = pod.metadata.namespace, pod.metadata.name
    if not pod.spec.node_name and node:
        with contextlib.suppress(ApiError):
            await client.bind(namespace, name, node, pod.metadata.uid)
    while True:
        current = await client.get(core_pb2.Pod, name, namespace)
        update = clone(current)
        update.status.phase = phase
        stamp = ready_since or now_rfc3339()
        kept = [c for c in update.status.conditions if c.type != "Ready"]
        del update.status.conditions[:]
        update.status.conditions.extend(kept)
        update.status.conditions.add(type="Ready", status="True" if ready else "False",
                                     last_transition_time=stamp)
        del update.status.container_statuses[:]
        for container in update.spec.containers:
            update.status.container_statuses.add(name=container.name, ready=ready,
                                                 restart_count=restarts)
        try:
            written: core_pb2.Pod = await client.update_status(update)
            return written
        except ApiError as exc:
            if exc.code != Code.ABORTED:
                raise


async def run_all(client: GrpcClient, namespace: str, selector: str = "", **kwargs: Any) -> None:
    for pod in await pods(client, namespace, selector):
        if not pod.spec.node_name:
            await run_pod(client, pod, **kwargs)


async def events_for(client: GrpcClient, namespace: str, name: str) -> list[core_pb2.Event]:
    found = (await client.list(core_pb2.Event, namespace)).items
    return [e for e in found if e.involved_object.name == name]


class FakeKubelet:
    """Plays every node's kubelet for one namespace: pods that appear are bound and reported
    running and ready after ``delay``; pods being deleted are removed (``finalize``) after
    ``finalize_delay``."""

    def __init__(self, client: GrpcClient, namespace: str, *, delay: float = 0.05,
                 ready: Callable[[core_pb2.Pod], bool] = lambda pod: True,
                 finalize: Callable[[core_pb2.Pod], bool] = lambda pod: True):
        self.client = client
        self.namespace = namespace
        self.delay = delay
        self.ready = ready
        self.finalize = finalize
        self.finalize_delay = 0.0
        self._removing: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._started: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FakeKubelet:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _run(self) -> None:
        async for event in self.client.watch(core_pb2.Pod, self.namespace):
            pod = event.object
            if event.type == "DELETED" or pod is None:
                continue
            if pod.metadata.deletion_timestamp:
                if pod.metadata.uid not in self._removing and self.finalize(pod):
                    self._removing.add(pod.metadata.uid)
                    self._spawn(self._remove(pod))
                continue
            if not pod.spec.node_name and pod.metadata.uid not in self._started \
                    and self.ready(pod):
                self._started.add(pod.metadata.uid)
                self._spawn(self._start(pod))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, pod: core_pb2.Pod) -> None:
        await asyncio.sleep(self.delay)
        with contextlib.suppress(ApiError):
            await run_pod(self.client, pod)

    async def _remove(self, pod: core_pb2.Pod) -> None:
        await asyncio.sleep(self.finalize_delay)
        with contextlib.suppress(ApiError):
            await self.client.delete(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                     grace_period_seconds=0, precondition_uid=pod.metadata.uid)


@contextlib.asynccontextmanager
async def grpc_client(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    client = GrpcClient(cluster.address)
    try:
        yield client
    finally:
        await client.close()


async def apply_spec(client: GrpcClient, obj: Any) -> Any:
    """Create the object, or patch its spec in place as ``kubectl apply`` would."""
    kind = type(obj)
    try:
        return await client.create(obj)
    except ApiError as exc:
        if exc.code != Code.ALREADY_EXISTS:
            raise
    document = encode(obj)
    patch: dict[str, Any] = {"spec": document["spec"]}
    return await client.patch(kind, obj.metadata.name, obj.metadata.namespace, patch)


async def wait_rollout_complete(client: GrpcClient, namespace: str, name: str,
                                timeout: float = 30.0) -> apps_pb2.Deployment:
    """The Deployment observed, every replica updated and available, Progressing complete."""

    async def complete() -> apps_pb2.Deployment:
        d = await client.get(apps_pb2.Deployment, name, namespace)
        want = d.spec.replicas if d.spec.HasField("replicas") else 1
        status = d.status
        assert status.observed_generation == d.metadata.generation, status
        assert (status.replicas, status.updated_replicas, status.available_replicas) == \
            (want, want, want), status
        progressing = next((c for c in status.conditions if c.type == "Progressing"), None)
        assert progressing is not None and progressing.reason == "NewReplicaSetAvailable", status
        return d

    result: apps_pb2.Deployment = await eventually(complete, timeout=timeout,
                                                   what=f"deployment {name} complete")
    return result


async def replica_sets(client: GrpcClient, namespace: str) -> dict[str, apps_pb2.ReplicaSet]:
    found = (await client.list(apps_pb2.ReplicaSet, namespace)).items
    return {rs.metadata.name: rs for rs in found}


def condition_of(d: apps_pb2.Deployment, kind: str) -> apps_pb2.DeploymentCondition | None:
    return next((c for c in d.status.conditions if c.type == kind), None)


@dataclass
class PodSample:
    active: int
    ready: int
    hashes: frozenset[str]


class PodCensus:
    """Watches a namespace's pods and records, after every change, how many are active (not
    terminating, not finished) and how many of those are ready; ``log`` keeps the events."""

    def __init__(self, client: GrpcClient, namespace: str):
        self.client = client
        self.namespace = namespace
        self.pods: dict[str, core_pb2.Pod] = {}
        self.samples: list[PodSample] = []
        self.log: list[tuple[str, str, bool]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PodCensus:
        listed = await self.client.list(core_pb2.Pod, self.namespace)
        for pod in listed.items:
            self.pods[pod.metadata.uid] = pod
        self._sample()
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
            pod = event.object
            if pod is None:
                continue
            pod_hash = pod.metadata.labels.get("pod-template-hash", "")
            self.log.append((event.type, pod_hash, bool(pod.metadata.deletion_timestamp)))
            if event.type == "DELETED":
                self.pods.pop(pod.metadata.uid, None)
            else:
                self.pods[pod.metadata.uid] = pod
            self._sample()

    def _sample(self) -> None:
        active = [p for p in self.pods.values() if is_active(p)]
        self.samples.append(PodSample(
            len(active), sum(1 for p in active if is_ready(p)),
            frozenset(p.metadata.labels.get("pod-template-hash", "") for p in active)))
