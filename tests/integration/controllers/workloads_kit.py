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
from pathlib import Path
from typing import Any

import pytest

from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import clone
from kemu.manifest import load_text
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster

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
    running and ready after ``delay``; pods being deleted are removed (``finalize``)."""

    def __init__(self, client: GrpcClient, namespace: str, *, delay: float = 0.05,
                 ready: Callable[[core_pb2.Pod], bool] = lambda pod: True,
                 finalize: Callable[[core_pb2.Pod], bool] = lambda pod: True):
        self.client = client
        self.namespace = namespace
        self.delay = delay
        self.ready = ready
        self.finalize = finalize
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
                if self.finalize(pod):
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
