"""A node's pod machinery on a fake clock, with an in-memory NodeAgent that records calls.

Only the transport is replaced: the pod workers, the fake runtime, the status manager and the
event recorder are the real ones, driven by ``FakeClock.advance``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kemu.api.errors import ApiError
from kemu.timing import DEFAULT, Timing
from kemu.v1 import core_pb2
from kubelet.clock import FakeClock
from kubelet.events import EventRecorder
from kubelet.ipam import PodAddresses
from kubelet.runtime.fake import FakeRuntime
from kubelet.statusmanager import PodStatusManager
from kubelet.worker import NodeContext, PodWorker

POD_CIDR = "10.244.1.0/24"
NODE_IP = "172.20.1.1"


class MemoryNodeAgent:
    """Records what a kubelet sends; answers like a control plane that accepts everything."""

    node_name = "node-1"
    server = "memory"

    def __init__(self) -> None:
        self.updates: list[tuple[str, core_pb2.PodStatus]] = []
        self.events: list[core_pb2.Event] = []
        self.removed: list[str] = []

    async def update_pod_status(self, namespace: str, name: str, uid: str,
                                status: core_pb2.PodStatus) -> core_pb2.Pod:
        copy = core_pb2.PodStatus()
        copy.CopyFrom(status)
        self.updates.append((uid, copy))
        return core_pb2.Pod()

    async def record_events(self, events: Sequence[core_pb2.Event]) -> list[ApiError | None]:
        for event in events:
            copy = core_pb2.Event()
            copy.CopyFrom(event)
            self.events.append(copy)
        return [None] * len(events)

    async def remove_pod(self, namespace: str, name: str, uid: str) -> None:
        self.removed.append(uid)

    def statuses(self, uid: str) -> list[core_pb2.PodStatus]:
        return [s for u, s in self.updates if u == uid]

    def event_counts(self, uid: str) -> dict[tuple[str, str], int]:
        """(reason, message) -> the latest count written for the object ``uid``."""
        counts: dict[tuple[str, str], int] = {}
        for event in self.events:
            if event.involved_object.uid == uid:
                counts[(event.reason, event.message)] = event.count
        return counts


class FakeNode:
    def __init__(self, timing: Timing = DEFAULT, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.timing = timing
        self.agent = MemoryNodeAgent()
        self.runtime = FakeRuntime(self.clock, timing)
        client: Any = self.agent
        self.statuses = PodStatusManager(client, self.clock, retry_interval=1.0)
        self.events = EventRecorder(client, self.clock, interval=timing.node_status_update_frequency)
        self.ctx = NodeContext(self.agent.node_name, client, self.runtime, self.clock, timing,
                               self.statuses, self.events, PodAddresses(POD_CIDR), node_ip=NODE_IP)
        self.workers: list[PodWorker] = []
        self._tasks = [asyncio.create_task(self.statuses.run()),
                       asyncio.create_task(self.events.run())]

    def run(self, pod: core_pb2.Pod) -> PodWorker:
        worker = PodWorker(self.ctx, pod)
        self.workers.append(worker)
        worker.start()
        return worker

    def status(self, pod: core_pb2.Pod) -> core_pb2.PodStatus:
        sent = self.agent.statuses(pod.metadata.uid)
        assert sent, f"no status was sent for {pod.metadata.name}"
        return sent[-1]

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    async def advance_to(self, moment: float) -> None:
        """Advance to ``moment`` seconds after the clock's start."""
        await self.clock.advance(max(0.0, moment - (self.clock.monotonic() - 1000.0)))

    async def close(self) -> None:
        for worker in self.workers:
            await worker.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def make_pod(name: str = "web", *, uid: str = "", command: tuple[str, ...] = (),
             annotations: dict[str, str] | None = None, restart_policy: str = "Always",
             image: str = "nginx:1.25") -> core_pb2.Pod:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.metadata.uid = uid or f"uid-{name}"
    pod.metadata.annotations.update(annotations or {})
    pod.spec.node_name = "node-1"
    pod.spec.restart_policy = restart_policy
    pod.spec.containers.add(name=name, image=image, command=list(command))
    return pod


def container(status: core_pb2.PodStatus, name: str) -> core_pb2.ContainerStatus:
    for cs in [*status.init_container_statuses, *status.container_statuses]:
        if cs.name == name:
            return cs
    raise AssertionError(f"no status for container {name}")


def condition(status: core_pb2.PodStatus, kind: str) -> str:
    for c in status.conditions:
        if c.type == kind:
            return c.status
    raise AssertionError(f"no {kind} condition")
