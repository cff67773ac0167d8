"""The kubelet process: ``Kubelet`` (start/stop lifecycle) and ``run`` (until SIGTERM).

Start registers the Node (retrying until a control plane answers), then runs four loops: the
lease, the node status, the pod watch with its pod workers, and the senders of pod statuses and
events. Stop ends them all and leaves the Node, its pods and their recorded statuses as they
are, as a real kubelet does; a new process for the same node takes over from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from kemu.client.nodeagent import NodeAgentClient
from kemu.v1 import core_pb2
from kubelet.clock import Clock, LoopClock
from kubelet.config import KubeletConfig
from kubelet.events import NORMAL, EventRecorder, node_reference
from kubelet.heartbeat import NodeHeartbeat
from kubelet.ipam import PodAddresses
from kubelet.node import NodeIdentity
from kubelet.podmanager import PodManager
from kubelet.runtime.fake import FakeRuntime
from kubelet.runtime.interface import ContainerRuntime
from kubelet.statusmanager import PodStatusManager
from kubelet.worker import NodeContext

log = logging.getLogger(__name__)


class Kubelet:
    def __init__(self, config: KubeletConfig, *, clock: Clock | None = None,
                 runtime: ContainerRuntime | None = None,
                 client: NodeAgentClient | None = None):
        self.config = config
        self.clock = clock or LoopClock()
        timing = config.timing
        self.identity = NodeIdentity.of(config.node_name)
        self.client = client or NodeAgentClient(config.servers, config.node_name,
                                                timeout=timing.node_agent_call_timeout)
        self.runtime: ContainerRuntime = runtime or FakeRuntime(self.clock, timing)
        self.events = EventRecorder(self.client, self.clock, timing.node_status_update_frequency)
        self.statuses = PodStatusManager(self.client, self.clock,
                                         retry_interval=timing.node_lease_renew_interval / 4)
        self.ctx = NodeContext(config.node_name, self.client, self.runtime, self.clock, timing,
                               self.statuses, self.events, PodAddresses(), node_ip=config.node_ip)
        self.pods = PodManager(self.ctx)
        self.heartbeat = NodeHeartbeat(config, self.identity, self.client, self.clock,
                                       self.events, self._registered)
        self._tasks: list[asyncio.Task[None]] = []

    def _registered(self, node: core_pb2.Node, node_ip: str) -> None:
        if node.spec.pod_cidr:
            self.ctx.addresses.set_cidr(node.spec.pod_cidr)
        self.ctx.node_ip = node_ip

    def _spawn(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.create_task(work(), name=name)
        task.add_done_callback(self._crashed)
        self._tasks.append(task)

    def _crashed(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("node=%s %s stopped", self.config.node_name, task.get_name(),
                      exc_info=task.exception())

    async def start(self) -> None:
        log.info("node=%s kubelet starting (servers %s, boot %s)", self.config.node_name,
                 ",".join(self.client.servers), self.identity.boot_id)
        self._spawn("events", self.events.run)
        self.events.record(node_reference(self.config.node_name), NORMAL, "Starting",
                           "Starting kubelet.")
        await self.heartbeat.register()
        self._spawn("statuses", self.statuses.run)
        self._spawn("lease", self.heartbeat.run_lease)
        self._spawn("node-status", self.heartbeat.run_status)
        self._spawn("pods", self.pods.run)
        if self.config.metrics_listen:
            from kubelet.metrics import serve_metrics

            serve_metrics(self, self.config.metrics_listen)

    async def stop(self) -> None:
        """Stop the loops; the Node and its pods stay as they are (no deletion)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pods.stop()
        await self.client.close()
        log.info("node=%s kubelet stopped", self.config.node_name)


async def run(config: KubeletConfig, ready: Callable[[Kubelet], None] | None = None) -> None:
    """Run a kubelet until SIGTERM or SIGINT, then stop gracefully."""
    kubelet = Kubelet(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(kubelet.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            if ready:
                ready(kubelet)
            await stop.wait()
    finally:
        starting.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await kubelet.stop()
