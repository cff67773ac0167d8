"""Registration and heartbeats: the Node, its Lease, and its status.

Like the Kubernetes kubelet with node leases: the Lease in ``kube-node-lease`` is renewed every
``node_lease_renew_interval``; the NodeStatus is computed every ``node_status_update_frequency``
but only written when it changed or ``node_status_report_frequency`` has passed (that write
refreshes the conditions' ``lastHeartbeatTime``). Both cost one small call per interval. When
the Node is deleted out from under the kubelet, the next renewal or status write finds it gone
and the kubelet registers it again. After a gap in its renewals (the process was frozen, the
network or the control plane was away) the node lifecycle controller may have marked the Node
NotReady, so the first renewal after a gap also writes the status.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from kemu.api.errors import ApiError, Code
from kemu.client.nodeagent import NodeAgentClient
from kemu.v1 import core_pb2
from kubelet.clock import Clock, sleep
from kubelet.config import KubeletConfig
from kubelet.events import NORMAL, EventRecorder, node_reference
from kubelet.node import NodeIdentity, build_node, build_status, node_ip_from_cidr, without_heartbeats

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.2, 7.0


class NodeHeartbeat:
    def __init__(self, config: KubeletConfig, identity: NodeIdentity, client: NodeAgentClient,
                 clock: Clock, events: EventRecorder,
                 on_registered: Callable[[core_pb2.Node, str], None]):
        self.config = config
        self.identity = identity
        self.client = client
        self.clock = clock
        self.events = events
        self.on_registered = on_registered
        self.timing = config.timing
        self.node_ip = config.node_ip
        self.status: core_pb2.NodeStatus | None = None
        self.last_post = -math.inf
        # The last time the control plane heard from us (registration or lease renewal).
        self.last_contact = -math.inf
        self.registrations = 0
        self.lease_renewals = 0
        self.lease_failures = 0
        self.status_posts = 0
        self._lock = asyncio.Lock()

    def _status(self) -> core_pb2.NodeStatus:
        return build_status(self.config, self.identity, self.node_ip, self.clock.time(),
                            self.status)

    async def register(self) -> core_pb2.Node:
        """Register (or take over) the Node, retrying until a control plane accepts it."""
        while True:
            node, status = await self._register_once()
            if not self.node_ip or any(a.type == "InternalIP" for a in status.addresses):
                break
            try:
                await self.post_status(force=True)
                break
            except ApiError as exc:
                if exc.code != Code.NOT_FOUND:
                    # The status loop posts the address later.
                    log.warning("node=%s unable to post its address: %s", self.identity.name, exc)
                    break
                # Deleted right after it was created: register again.
                log.warning("node=%s was deleted as it registered; registering again",
                            self.identity.name)
        log.info("node=%s registered with %s (podCIDR %s, InternalIP %s)", self.identity.name,
                 self.client.server, node.spec.pod_cidr, self.node_ip)
        self.events.record(node_reference(self.identity.name), NORMAL, "NodeReady",
                           f"Node {self.identity.name} status is now: NodeReady")
        return node

    async def _register_once(self) -> tuple[core_pb2.Node, core_pb2.NodeStatus]:
        delay = RETRY_FIRST
        while True:
            status = self._status()
            try:
                node = await self.client.register(build_node(self.config, self.identity, status))
                break
            except ApiError as exc:
                log.warning("node=%s unable to register with %s: %s", self.identity.name,
                            self.client.server, exc)
                if exc.code in (Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED):
                    raise
                await sleep(self.clock, delay)
                delay = min(delay * 2, RETRY_MAX)
        self.registrations += 1
        self.status, self.last_post = status, self.clock.monotonic()
        self.last_contact = self.last_post
        if not self.config.node_ip and node.spec.pod_cidr:
            self.node_ip = node_ip_from_cidr(node.spec.pod_cidr)
        self.on_registered(node, self.node_ip)
        return node, status

    async def _register_again(self, generation: int, why: str) -> None:
        async with self._lock:
            if generation != self.registrations:
                return  # the other heartbeat already did
            log.warning("node=%s %s; registering again", self.identity.name, why)
            await self.register()

    async def post_status(self, force: bool = False) -> None:
        status = self._status()
        now = self.clock.monotonic()
        changed = self.status is None or without_heartbeats(status) != without_heartbeats(self.status)
        if not (force or changed or now - self.last_post >= self.timing.node_status_report_frequency):
            return
        await self.client.update_node_status(status)
        self.status, self.last_post = status, now
        self.status_posts += 1

    async def run_status(self) -> None:
        while True:
            await sleep(self.clock, self.timing.node_status_update_frequency)
            generation = self.registrations
            try:
                await self.post_status()
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    await self._register_again(generation, "the Node is gone")
                else:
                    log.warning("node=%s unable to update node status: %s", self.identity.name, exc)

    async def run_lease(self) -> None:
        duration = max(1, math.ceil(self.timing.node_lease_duration))
        interval = self.timing.node_lease_renew_interval
        delay = RETRY_FIRST
        while True:
            generation = self.registrations
            try:
                await self.client.renew_lease(duration)
                self.lease_renewals += 1
                delay = RETRY_FIRST
                wait = interval
                now = self.clock.monotonic()
                # Counted from the registration too: a freeze before the first renewal counts.
                gap = now - self.last_contact if self.last_contact > -math.inf else 0.0
                self.last_contact = now
                if gap > 2 * interval:
                    log.info("node=%s renewed its lease after %.1fs; reporting its status",
                             self.identity.name, gap)
                    await self.post_status(force=True)
            except ApiError as exc:
                self.lease_failures += 1
                if exc.code == Code.NOT_FOUND:
                    await self._register_again(generation, "the Node is gone")
                    continue
                log.warning("node=%s failed to renew lease: %s", self.identity.name, exc)
                wait = min(delay, interval)
                delay = min(delay * 2, RETRY_MAX)
            await sleep(self.clock, wait)
