"""The cluster every end-to-end benchmark drives, and the instruments it reads.

``BenchCluster`` is a LocalCluster (real etcd, control plane and kubelet processes on loopback)
with an external etcd, so a benchmark can count the etcd writes a workload costs, and with
helpers to add nodes and wait for them. ``PodClock`` times pods from creation to Running as a
watch observes them, which is how Kubernetes' pod-startup SLO is defined. ``count_writes``
replays etcd's history between two revisions and counts the writes per resource.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from bench.common import summary
from bench.procstat import Memory, memory
from controlplane.apiserver import keys
from controlplane.storage.etcd import EtcdStore
from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from launcher.cluster import LocalCluster

IMAGE = "registry.k8s.io/pause:3.9"


def pod_template(labels: Mapping[str, str]) -> core_pb2.PodTemplateSpec:
    template = core_pb2.PodTemplateSpec()
    template.metadata.labels.update(labels)
    template.spec.containers.add(name="app", image=IMAGE)
    template.spec.termination_grace_period_seconds = 0
    return template


# A node's pod CIDR is a /24: 253 pod addresses (.1 is the bridge). A larger pod capacity lets
# the scheduler bind pods the node cannot give an address (FailedCreatePodSandBox).
POD_ADDRESSES = 253


def pod_capacity(replicas: int, nodes: int) -> dict[str, str]:
    """A node capacity with room for 1.5x an even share of ``replicas`` (at least Kubernetes'
    110 pods), within the addresses of a node's pod CIDR."""
    return {"pods": str(min(POD_ADDRESSES, max(110, math.ceil(replicas / nodes * 1.5))))}


def deployment(name: str, namespace: str, replicas: int) -> apps_pb2.Deployment:
    """A Deployment of ``replicas`` benchmark pods labelled ``app=<name>``."""
    created = apps_pb2.Deployment()
    created.metadata.name = name
    created.metadata.namespace = namespace
    created.spec.replicas = replicas
    created.spec.selector.match_labels["app"] = name
    created.spec.template.CopyFrom(pod_template({"app": name}))
    return created


def node_ready(node: core_pb2.Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


class BenchCluster:
    """A LocalCluster for benchmarks: external etcd, quiet logs, no compaction mid-run."""

    def __init__(self, *, profile: str = "fast", timing: Mapping[str, str] | None = None,
                 capacity: Mapping[str, str] | None = None, workdir: Path | None = None,
                 extra_env: Mapping[str, str] | None = None, launcher: str = "exec"):
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="kemu-bench-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.profile = profile
        self.capacity = dict(capacity or {})
        # Only named when not the default, so the bench also drives older LocalClusters
        # (before/after comparisons of the product code).
        options: dict[str, Any] = {"kubelet_launcher": launcher} if launcher != "exec" else {}
        self.local = LocalCluster(self.workdir, timing_profile=profile,
                                  timing_overrides=timing, external_etcd=True,
                                  log_level="warning", extra_env=extra_env, **options)
        self.client: GrpcClient | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        # Compaction would erase the history count_writes replays.
        self.local.start_control_plane(extra_args=["--compaction-interval", "86400"])
        self.client = GrpcClient(self.local.address, timeout=60.0)

    async def close(self) -> None:
        if self.client:
            await self.client.close()

    @contextlib.asynccontextmanager
    async def _etcd(self) -> AsyncIterator[EtcdStore]:
        # A channel per use: an idle etcd channel's keepalive pings make etcd send GOAWAY.
        store = EtcdStore([self.local.etcd_endpoint])
        try:
            yield store
        finally:
            await store.close()

    def stop(self) -> None:
        self.local.stop()
        if self._tmp:
            self._tmp.cleanup()

    @property
    def api(self) -> GrpcClient:
        assert self.client is not None
        return self.client

    def pids(self) -> dict[str, int]:
        found = {name: p.pid for name, p in self.local.control_planes.items()}
        if self.local.etcd:
            found["etcd"] = self.local.etcd.pid
        return found

    def node_pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.local.nodes.items() if p.alive()}

    def node_memory(self) -> Memory:
        total = Memory()
        for pid in self.node_pids().values():
            total = total + memory(pid)
        return total

    # -- nodes ----------------------------------------------------------------------------
    def add_nodes(self, names: Iterable[str], labels: Mapping[str, str] | None = None) -> None:
        for name in names:
            self.local.add_node(name, labels=labels, capacity=self.capacity)

    async def wait_nodes_ready(self, names: Iterable[str], timeout: float) -> float:
        """Wait until every named Node is Ready; the seconds it took."""
        wanted = set(names)
        started = time.monotonic()
        while True:
            nodes = await self.api.list(core_pb2.Node)
            ready = {n.metadata.name for n in nodes.items if node_ready(n)}
            if wanted <= ready:
                return time.monotonic() - started
            dead = [n for n in wanted if n in self.local.nodes and not self.local.nodes[n].alive()]
            if dead:
                raise RuntimeError(f"kubelets exited: {dead[:5]}\n"
                                   f"{self.local.nodes[dead[0]].log_tail()}")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{len(wanted - ready)} of {len(wanted)} nodes not Ready "
                                   f"after {timeout:.0f}s")
            await asyncio.sleep(0.25)

    async def ensure_namespace(self, name: str) -> None:
        namespace = core_pb2.Namespace()
        namespace.metadata.name = name
        with contextlib.suppress(ApiError):
            await self.api.create(namespace)

    async def revision(self) -> int:
        async with self._etcd() as store:
            return await store.current_revision()

    def etcd_calls(self) -> Counter[str]:
        """etcd's own count of the gRPC calls it has answered, by method (Range, Txn ...)."""
        import urllib.request

        counts: Counter[str] = Counter()
        with urllib.request.urlopen(f"{self.local.etcd_endpoint}/metrics", timeout=10) as reply:
            for line in reply.read().decode().splitlines():
                if not line.startswith("grpc_server_handled_total{"):
                    continue
                labels, _, value = line.rpartition(" ")
                method = labels.split('grpc_method="', 1)[1].split('"', 1)[0]
                counts[method] += int(float(value))
        return counts

    async def count_writes(self, after: int, until: int) -> Counter[str]:
        """etcd writes in (after, until], by resource (``pods``, ``events`` ...)."""
        counts: Counter[str] = Counter()
        if until <= after:
            return counts
        async with self._etcd() as store:
            async for event in store.watch(keys.STORED_PREFIX, after):
                counts[keys.resource_of(event.kv.key) or "?"] += 1
                if event.revision >= until:
                    break
        return counts

    async def settle(self, after: int, quiet: float = 1.0, timeout: float = 60.0,
                     background: tuple[str, ...] = ("leases",)) -> int:
        """Wait until no write but ``background`` ones has happened for ``quiet`` seconds
        (the events and statuses that trail a workload); the revision then."""
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        async with self._etcd() as store:
            stream = store.watch(keys.STORED_PREFIX, after).__aiter__()
            try:
                while time.monotonic() < deadline:
                    wait = last + quiet - time.monotonic()
                    if wait <= 0:
                        break
                    try:
                        event = await asyncio.wait_for(stream.__anext__(), wait)
                    except TimeoutError:
                        break
                    if keys.resource_of(event.kv.key) not in background:
                        last = time.monotonic()
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            return await store.current_revision()

    def __enter__(self) -> BenchCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Watcher:
    """Calls ``on_event(type, object, monotonic time)`` for every change of one kind, from
    the moment ``start`` returns; reconnects after an unavailable control plane."""

    def __init__(self, client: GrpcClient, kind: type[Message], namespace: str,
                 on_event: Callable[[str, Any, float], None]):
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.on_event = on_event
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.client.list(self.kind, self.namespace)
        self._task = asyncio.create_task(self._run(listed.resource_version))

    async def _run(self, version: str) -> None:
        while True:
            try:
                async for event in self.client.watch(self.kind, self.namespace,
                                                     resource_version=version,
                                                     allow_bookmarks=True):
                    version = event.resource_version or version
                    if event.type != "BOOKMARK":
                        self.on_event(event.type, event.object, time.monotonic())
                        self.changed.set()
            except ApiError as exc:
                if exc.code not in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED):
                    raise
                await asyncio.sleep(0.2)

    async def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds after some event; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
        return True

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


@dataclass
class PodTimes:
    seen: float = 0.0
    bound: float = 0.0
    running: float = 0.0
    node: str = ""


@dataclass
class PodClock:
    """Watches pods in a namespace; records when each was first seen and first Running.

    Both moments are taken from the same watch, so the startup latency is "creation → Running,
    as observed by a watch" (Kubernetes' SLO); the watch's own delay cancels out.
    """

    client: GrpcClient
    namespace: str
    pods: dict[str, PodTimes] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    running_count: int = 0
    on_event: Callable[[str, core_pb2.Pod, float], None] | None = None
    _watcher: Watcher | None = None

    async def start(self) -> None:
        self._watcher = Watcher(self.client, core_pb2.Pod, self.namespace, self._observe)
        await self._watcher.start()

    def _observe(self, kind: str, pod: core_pb2.Pod, now: float) -> None:
        uid = pod.metadata.uid
        times = self.pods.get(uid)
        if times is None:
            times = self.pods[uid] = PodTimes(seen=now)
        if not times.bound and pod.spec.node_name:
            times.bound = now
        if kind == "DELETED":
            self.deleted.setdefault(uid, now)
        elif not times.running and pod.status.phase == "Running":
            times.running = now
            times.node = pod.spec.node_name
            self.running_count += 1
        if self.on_event:
            self.on_event(kind, pod, now)

    async def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` holds after some pod event; False after ``timeout``."""
        assert self._watcher is not None, "start() first"
        return await self._watcher.wait(condition, timeout)

    def latencies(self) -> list[float]:
        return [t.running - t.seen for t in self.pods.values() if t.running]

    def phases(self) -> dict[str, dict[str, float]]:
        """Where startup time goes: creation → bound (controllers, scheduler) and bound →
        Running (kubelet)."""
        done = [t for t in self.pods.values() if t.running and t.bound]
        return {"to_bound": summary([t.bound - t.seen for t in done]),
                "bound_to_running": summary([t.running - t.bound for t in done])}

    async def stop(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()

