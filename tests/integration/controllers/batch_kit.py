"""Shared pieces of the Job and CronJob integration tests: a module's cluster of real processes
(control plane with every controller, two kubelets), the books' manifests applied unchanged
into a namespace of their own, and waits on Jobs, pods and events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_paths
from kemu.v1 import batch_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.manifests import SHARED
from tests.support.waiting import eventually

KIA = SHARED / "kia2" / "Chapter18"
KUAR = SHARED / "kuar"
NODES = ("node-1", "node-2")


def start_cluster(workdir: Path, extra_env: Mapping[str, str] | None = None) -> LocalCluster:
    cluster = LocalCluster(workdir, extra_env=extra_env)
    cluster.start_control_plane()
    for name in NODES:
        cluster.add_node(name)
    asyncio.run(_nodes_ready(cluster))
    return cluster


async def _nodes_ready(cluster: LocalCluster) -> None:
    async with connect(cluster) as client:
        async def ready() -> bool:
            nodes = (await client.list(core_pb2.Node)).items
            return sorted(n.metadata.name for n in nodes if any(
                c.type == "Ready" and c.status == "True" for c in n.status.conditions)) == \
                list(NODES)
        await eventually(ready, timeout=60, what="both nodes Ready")


def cluster_fixture_body(cluster: LocalCluster) -> Iterator[LocalCluster]:
    try:
        yield cluster
    finally:
        for process in [*cluster.control_planes.values(), *cluster.nodes.values()]:
            print(f"----- {process.name} ({process.log_path}) -----")
            print(process.log_tail(40))
        cluster.stop()


@contextlib.asynccontextmanager
async def connect(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    client = GrpcClient(cluster.address)
    try:
        yield client
    finally:
        await client.close()


async def new_namespace(client: GrpcClient, prefix: str) -> str:
    namespace = core_pb2.Namespace()
    namespace.metadata.name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await client.create(namespace)
    return namespace.metadata.name


async def apply(client: GrpcClient, path: Path, namespace: str) -> list[Any]:
    """Create every object of a manifest file, unchanged but for the namespace."""
    created = []
    for manifest in load_paths([str(path)]):
        obj = manifest.obj
        obj.metadata.namespace = namespace
        created.append(await client.create(obj))
    return created


async def get_job(client: GrpcClient, namespace: str, name: str) -> batch_pb2.Job:
    return await client.get(batch_pb2.Job, name, namespace)


def condition(job: batch_pb2.Job, kind: str) -> batch_pb2.JobCondition | None:
    return next((c for c in job.status.conditions if c.type == kind and c.status == "True"),
                None)


async def wait_finished(client: GrpcClient, namespace: str, name: str, kind: str,
                        timeout: float = 60.0) -> batch_pb2.Job:
    """Wait for the Job's ``Complete`` or ``Failed`` condition (failing fast on the other)."""
    other = "Failed" if kind == "Complete" else "Complete"

    async def finished() -> batch_pb2.Job | None:
        job = await get_job(client, namespace, name)
        assert condition(job, other) is None, f"job {name} ended {other}: {job.status}"
        return job if condition(job, kind) is not None else None

    job: batch_pb2.Job = await eventually(finished, timeout=timeout,
                                          what=f"job {namespace}/{name} {kind}")
    return job


async def pods_of(client: GrpcClient, namespace: str, job: str) -> list[core_pb2.Pod]:
    return (await client.list(core_pb2.Pod, namespace,
                              label_selector=f"batch.kubernetes.io/job-name={job}")).items


async def events_of(client: GrpcClient, namespace: str, name: str) -> list[tuple[str, str, str]]:
    found = (await client.list(core_pb2.Event, namespace,
                               field_selector=f"involvedObject.name={name}")).items
    return [(e.type, e.reason, e.message) for e in found]


async def wait_event(client: GrpcClient, namespace: str, name: str, reason: str,
                     message: str | None = None, timeout: float = 30.0) -> None:
    async def seen() -> bool:
        events = await events_of(client, namespace, name)
        assert any(r == reason and (message is None or m == message) for _, r, m in events), \
            events
        return True

    await eventually(seen, timeout=timeout, what=f"{reason} event for {name}")


async def wait_gone(client: GrpcClient, kind: type[Any], namespace: str, name: str,
                    timeout: float = 30.0) -> None:
    async def gone() -> bool:
        try:
            await client.get(kind, name, namespace)
        except ApiError as exc:
            return exc.code == Code.NOT_FOUND
        return False

    await eventually(gone, timeout=timeout, what=f"{name} deleted")


class ActivePods:
    """Watches a namespace's pods and remembers the most that were active at once (not
    finished, not being deleted)."""

    def __init__(self, client: GrpcClient, namespace: str):
        self.client = client
        self.namespace = namespace
        self.active: set[str] = set()
        self.most = 0
        self.seen: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def __aenter__(self) -> ActivePods:
        self._task = asyncio.create_task(self._watch())
        await asyncio.wait_for(self._listening.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        listed = await self.client.list(core_pb2.Pod, self.namespace)
        self._listening.set()
        async for event in self.client.watch(core_pb2.Pod, self.namespace,
                                             resource_version=listed.resource_version):
            pod = event.object
            if pod is None:
                continue
            uid = pod.metadata.uid
            self.seen.add(uid)
            finished = pod.status.phase in ("Succeeded", "Failed")
            if event.type == "DELETED" or finished or pod.metadata.deletion_timestamp:
                self.active.discard(uid)
            else:
                self.active.add(uid)
            self.most = max(self.most, len(self.active))
