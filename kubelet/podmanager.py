"""The pods bound to this node: one watch, one worker per pod UID.

The watch resumes from the last resourceVersion it saw (bookmarks included) whenever its
stream ends; when the control plane answers "too old" it starts over without a version, gets
every current pod again, and — once the bookmark that closes that initial list arrives —
treats any pod it runs that was not listed as deleted. Workers are keyed by UID: a pod deleted
and re-created under the same name is a new pod, and a UID once removed is never run again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from kemu.api.errors import ApiError, Code
from kemu.client.nodeagent import CUT_OFF, FAILOVER_CODES
from kemu.v1 import core_pb2
from kubelet.clock import sleep
from kubelet.worker import NodeContext, PodWorker

log = logging.getLogger(__name__)

MAX_REMEMBERED_REMOVALS = 10_000


class PodManager:
    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        self.workers: dict[str, PodWorker] = {}
        self.by_name: dict[str, str] = {}
        self._removed: OrderedDict[str, None] = OrderedDict()
        self.resource_version = ""
        self.relists = 0
        self.reconnects = 0

    # -- events ---------------------------------------------------------------------------
    def handle(self, kind: str, pod: core_pb2.Pod) -> None:
        uid = pod.metadata.uid
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if kind == "DELETED":
            self._forget(uid)
            return
        if pod.spec.node_name != self.ctx.node_name or uid in self._removed:
            return
        previous = self.by_name.get(key)
        if previous is not None and previous != uid:
            log.info("node=%s pod=%s was re-created (uid %s -> %s)", self.ctx.node_name, key,
                     previous, uid)
            self._forget(previous)
        worker = self.workers.get(uid)
        if worker is None:
            worker = PodWorker(self.ctx, pod)
            self.workers[uid] = worker
            self.by_name[key] = uid
            worker.start()
        else:
            worker.update(pod)

    def reconcile(self, listed: set[str]) -> None:
        """After a fresh list: pods not in it were deleted while we were not watching."""
        for uid in [u for u in self.workers if u not in listed]:
            log.info("node=%s pod uid %s vanished while unwatched; stopping it",
                     self.ctx.node_name, uid)
            self._forget(uid)

    def _forget(self, uid: str) -> None:
        worker = self.workers.pop(uid, None)
        self._removed[uid] = None
        while len(self._removed) > MAX_REMEMBERED_REMOVALS:
            self._removed.popitem(last=False)
        if worker is None:
            return
        if self.by_name.get(worker.key) == uid:
            del self.by_name[worker.key]
        worker.mark_gone()

    def active_pods(self) -> int:
        return sum(1 for w in self.workers.values() if w.active)

    def running_containers(self) -> int:
        return sum(1 for w in self.workers.values() for r in w.records if r.instance)

    # -- the watch ------------------------------------------------------------------------
    async def run(self) -> None:
        client = self.ctx.client
        timing = self.ctx.timing
        idle = max(3 * timing.watch_bookmark_interval, timing.node_lease_duration)
        delay = 0.0
        while True:
            listed: set[str] | None = set() if not self.resource_version else None
            try:
                received = 0
                async for event in client.watch_pods(self.resource_version, idle_timeout=idle):
                    received += 1
                    delay = 0.0
                    if event.type == "BOOKMARK":
                        self.resource_version = event.resource_version or self.resource_version
                        if listed is not None:
                            self.reconcile(listed)
                            listed = None
                        continue
                    if listed is not None:
                        listed.add(event.object.metadata.uid)
                    self.resource_version = event.resource_version
                    self.handle(event.type, event.object)
                self.reconnects += 1
                if not received:
                    # Closed at once: do not hammer the control plane.
                    delay = min(max(delay * 2, 0.1), timing.node_lease_renew_interval)
                    await sleep(self.ctx.clock, delay)
            except ApiError as exc:
                if exc.code == Code.OUT_OF_RANGE or exc.reason == "Expired":
                    log.info("node=%s pod watch too old (%s); listing again", self.ctx.node_name, exc)
                    self.resource_version = ""
                    self.relists += 1
                    continue
                if exc.code in FAILOVER_CODES and exc.reason != CUT_OFF:
                    client.fail_over()
                log.warning("node=%s pod watch failed: %s", self.ctx.node_name, exc)
                self.reconnects += 1
                delay = min(max(delay * 2, 0.1), timing.node_lease_renew_interval)
                await sleep(self.ctx.clock, delay)

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers.values()), return_exceptions=True)
