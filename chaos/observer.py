"""Watching a cluster under faults: every event of the experiment's objects, through whichever
control plane answers.

One watch per kind resumes from its last resourceVersion on any live control plane (so a killed
or restarted control plane costs no events: the other one, or the restarted one, replays them
from its watch cache). Only a "too old" answer makes it list again, which the ``PodLedger``
records as a gap. Besides feeding the ledger, it keeps timelines the runner turns into
measurements: when each node's Ready condition changed, and when the leader Lease was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import Message

from chaos.invariants import PodLedger
from kemu.api.errors import ApiError, Code
from kemu.api.meta import parse_time
from kemu.client.grpc_client import CHANNEL_OPTIONS, GrpcClient
from kemu.client.interface import WatchEvent
from kemu.v1 import apps_pb2, coordination_pb2, core_pb2

log = logging.getLogger(__name__)

LEADER_LEASE = ("kube-system", "kemu-controller-manager")
# Reconnect to a restarted control plane within a second, not after gRPC's growing backoff.
_CHANNEL_OPTIONS = [*CHANNEL_OPTIONS, ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 1000)]


class Clients:
    """One API client per control-plane address; calls go to the first that answers."""

    def __init__(self, servers: Callable[[], Sequence[str]], timeout: float = 5.0):
        self.servers = servers
        self.timeout = timeout
        self._clients: dict[str, GrpcClient] = {}
        self.preferred = 0

    def client(self, server: str) -> GrpcClient:
        if server not in self._clients:
            channel = grpc.aio.insecure_channel(server, options=_CHANNEL_OPTIONS)
            self._clients[server] = GrpcClient(server, timeout=self.timeout, channel=channel)
        return self._clients[server]

    def ordered(self) -> list[GrpcClient]:
        servers = list(self.servers())
        start = self.preferred % len(servers)
        return [self.client(s) for s in servers[start:] + servers[:start]]

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.method(*args)`` on the first control plane that is up."""
        error: ApiError | None = None
        for index, client in enumerate(self.ordered()):
            try:
                return await getattr(client, method)(*args, **kwargs)
            except ApiError as exc:
                if exc.code not in (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.INTERNAL):
                    raise
                error = exc
                self.preferred += index + 1
        assert error is not None
        raise error

    async def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()


@dataclass
class Transition:
    at: float  # time.monotonic() when observed
    value: str


@dataclass
class LeaseWrite:
    holder: str
    renewed: float  # spec.renewTime, seconds since the epoch
    transitions: int


@dataclass
class Observer:
    clients: Clients
    namespace: str
    idle_timeout: float = 10.0
    ledger: PodLedger = field(default_factory=PodLedger)
    # node name -> changes of its Ready condition ("True", "Unknown", ..., "Deleted").
    ready: dict[str, list[Transition]] = field(default_factory=dict)
    leases: list[LeaseWrite] = field(default_factory=list)
    relists: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    progress: dict[str, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        follow: list[tuple[str, type[Message], str, Callable[[str, Any, int], None]]] = [
            ("ReplicaSet", apps_pb2.ReplicaSet, self.namespace, self._replicaset),
            ("DaemonSet", apps_pb2.DaemonSet, self.namespace, self._daemonset),
            ("Pod", core_pb2.Pod, self.namespace, self._pod),
            ("Node", core_pb2.Node, "", self._node),
            ("Lease", coordination_pb2.Lease, LEADER_LEASE[0], self._lease),
        ]
        for name, kind, namespace, handle in follow:
            self.progress[name] = 0
            self.relists[name] = 0
            self._tasks.append(asyncio.create_task(self._follow(name, kind, namespace, handle),
                                                   name=f"observe {name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def caught_up(self, timeout: float) -> list[str]:
        """Bring the ledger up to date with fresh lists; [] once its pods equal the listed ones.

        A watch that resumed from an old resourceVersion may be served from etcd without
        bookmarks, so progress is not judged by revisions: owners are recorded from the list
        (each at its own resourceVersion, the revision its current spec was written at), and the
        pod watch has caught up when the ledger holds exactly the listed pods and versions.
        """
        deadline = time.monotonic() + timeout
        differences = ["not compared yet"]
        while time.monotonic() < deadline:
            try:
                replicasets, daemonsets, pods = await asyncio.gather(
                    self.clients.call("list", apps_pb2.ReplicaSet, self.namespace),
                    self.clients.call("list", apps_pb2.DaemonSet, self.namespace),
                    self.clients.call("list", core_pb2.Pod, self.namespace))
            except ApiError as exc:
                differences = [f"cannot list: {exc}"]
                await asyncio.sleep(0.2)
                continue
            for rs in replicasets.items:
                self.ledger.replicaset(rs, int(rs.metadata.resource_version))
            self.ledger.advance("ReplicaSet", int(replicasets.resource_version))
            for ds in daemonsets.items:
                self.ledger.daemonset(ds, int(ds.metadata.resource_version))
            self.ledger.advance("DaemonSet", int(daemonsets.resource_version))
            listed = {p.metadata.uid: p.metadata.resource_version for p in pods.items}
            seen = {uid: p.metadata.resource_version for uid, p in self.ledger.pods.items()}
            if listed == seen:
                return []
            differences = [f"pod {uid}: watched {seen.get(uid, 'nothing')}, listed "
                           f"{listed.get(uid, 'nothing')}" for uid in sorted(set(listed) | set(seen))
                           if listed.get(uid) != seen.get(uid)]
            await asyncio.sleep(0.2)
        return [f"the observer's pods never matched a list: {', '.join(differences[:5])}"]

    # -- the watches ----------------------------------------------------------------------
    async def _follow(self, name: str, kind: type[Message], namespace: str,
                      handle: Callable[[str, Any, int], None]) -> None:
        version = ""
        while True:
            for client in self.clients.ordered():
                try:
                    if not version:
                        listed = await client.list(kind, namespace)
                        version = listed.resource_version
                        self._relisted(name, listed.items, int(version), handle)
                    async for event in _idle_limited(client.watch(
                            kind, namespace, resource_version=version, allow_bookmarks=True),
                            self.idle_timeout):
                        version = event.resource_version or version
                        if event.type != "BOOKMARK":
                            handle(event.type, event.object, int(version))
                        self._advance(name, int(version))
                except ApiError as exc:
                    if exc.code == Code.OUT_OF_RANGE:
                        log.info("observer: %s watch too old; listing again", name)
                        version = ""
                        continue
                    log.debug("observer: %s watch on %s failed: %s", name, client.target, exc)
                except TimeoutError:
                    log.debug("observer: %s watch on %s idle; reconnecting", name, client.target)
                self.reconnects += 1
            await asyncio.sleep(0.1)

    def _relisted(self, name: str, items: list[Any], revision: int,
                  handle: Callable[[str, Any, int], None]) -> None:
        if self.progress[name]:
            self.relists[name] += 1
        if name == "Pod":
            self.ledger.relisted(items, revision)
        else:
            for item in items:
                handle("MODIFIED", item, int(item.metadata.resource_version))
        self._advance(name, revision)

    def _advance(self, name: str, revision: int) -> None:
        self.progress[name] = max(self.progress[name], revision)
        if name in ("ReplicaSet", "DaemonSet"):
            self.ledger.advance(name, revision)

    # -- handlers -------------------------------------------------------------------------
    def _pod(self, event: str, pod: core_pb2.Pod, revision: int) -> None:
        self.ledger.pod(event, pod, revision)

    def _replicaset(self, event: str, rs: apps_pb2.ReplicaSet, revision: int) -> None:
        if event != "DELETED":
            self.ledger.replicaset(rs, revision)

    def _daemonset(self, event: str, ds: apps_pb2.DaemonSet, revision: int) -> None:
        if event != "DELETED":
            self.ledger.daemonset(ds, revision)

    def _node(self, event: str, node: core_pb2.Node, revision: int) -> None:
        value = "Deleted" if event == "DELETED" else next(
            (c.status for c in node.status.conditions if c.type == "Ready"), "None")
        changes = self.ready.setdefault(node.metadata.name, [])
        if not changes or changes[-1].value != value:
            changes.append(Transition(time.monotonic(), value))

    def _lease(self, event: str, lease: coordination_pb2.Lease, revision: int) -> None:
        if lease.metadata.name != LEADER_LEASE[1] or event == "DELETED":
            return
        self.leases.append(LeaseWrite(lease.spec.holder_identity, parse_time(lease.spec.renew_time),
                                      lease.spec.lease_transitions))

    # -- timelines ------------------------------------------------------------------------
    def first_ready_change(self, node: str, after: float, values: Sequence[str]) -> float | None:
        """When ``node``'s Ready first became one of ``values`` after ``after``."""
        for change in self.ready.get(node, []):
            if change.at >= after and change.value in values:
                return change.at
        return None

    def ready_now(self, node: str) -> str:
        changes = self.ready.get(node)
        return changes[-1].value if changes else ""

    def first_lease_write(self, after: float, *, other_than: str = "") -> LeaseWrite | None:
        """The first leader Lease write made after wall-clock time ``after`` (by its renewTime,
        so a dead holder's last renewal never counts), by a holder other than ``other_than``."""
        for write in self.leases:
            if write.renewed > after and write.holder and write.holder != other_than:
                return write
        return None


async def _idle_limited(events: AsyncIterator[WatchEvent], idle: float) -> AsyncIterator[WatchEvent]:
    """``events``, ending with TimeoutError when nothing (not even a bookmark) came for ``idle``."""
    iterator = aiter(events)
    try:
        while True:
            try:
                event = await asyncio.wait_for(anext(iterator), idle)
            except StopAsyncIteration:
                return
            yield event
    finally:
        with contextlib.suppress(Exception):
            await iterator.aclose()  # type: ignore[attr-defined]
