"""Sending pod statuses to the control plane: only when changed, bursts coalesced.

Pod workers hand over the status they want the API to show; the manager keeps the latest one
per pod and sends it when it differs from what the API last acknowledged. A pod whose status
changes several times while an update is in flight gets one more update, with the latest
status, not one per change. Updates for different pods go out concurrently, a few at a time.

Others may change what the kubelet owns: the node lifecycle controller marks the pods of a node
it stopped hearing from not Ready. The pod watch shows such a change (``observe``); when it
differs from what the kubelet wants, the kubelet's status is sent again, as the kubelet's status
manager reconciles (``needsReconcile``), so pods of a node that was frozen or cut off become
Ready again when it is back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from kemu.api.errors import ApiError, Code
from kemu.client.nodeagent import FAILOVER_CODES, NodeAgentClient
from kemu.v1 import core_pb2
from kubelet.clock import Clock, sleep
from kubelet.podstatus import KUBELET_CONDITIONS

log = logging.getLogger(__name__)

CONCURRENCY = 8


@dataclass
class _Target:
    namespace: str
    name: str
    status: core_pb2.PodStatus


def kubelet_view(status: core_pb2.PodStatus) -> core_pb2.PodStatus:
    """``status`` without the conditions and fields the kubelet does not own."""
    view = core_pb2.PodStatus()
    view.CopyFrom(status)
    view.nominated_node_name = ""
    mine = [c for c in view.conditions if c.type in KUBELET_CONDITIONS]
    del view.conditions[:]
    view.conditions.extend(mine)
    return view


class PodStatusManager:
    def __init__(self, client: NodeAgentClient, clock: Clock, retry_interval: float):
        self.client = client
        self.clock = clock
        self.retry_interval = retry_interval
        self._wanted: dict[str, _Target] = {}
        self._acked: dict[str, core_pb2.PodStatus] = {}
        # The resourceVersion our last write produced: watch events up to it show our own writes.
        self._written: dict[str, int] = {}
        # Pods observed while an update of theirs was in flight, to look at once it is done.
        self._recheck: dict[str, core_pb2.Pod] = {}
        self._dirty: dict[str, None] = {}
        self._inflight: set[str] = set()
        self._sending: dict[str, core_pb2.PodStatus] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0

    def baseline(self, uid: str, status: core_pb2.PodStatus) -> None:
        """What the API holds for ``uid`` now (a status equal to it is not sent again)."""
        self._acked.setdefault(uid, kubelet_view(status))

    def set(self, pod: core_pb2.Pod, status: core_pb2.PodStatus) -> None:
        uid = pod.metadata.uid
        self._wanted[uid] = _Target(pod.metadata.namespace, pod.metadata.name, status)
        if self._acked.get(uid) != status and self._sending.get(uid) != status:
            self._dirty[uid] = None
            self._wakeup.set()
        else:
            self._dirty.pop(uid, None)
            if uid not in self._inflight:
                self._resolve(uid)

    def observe(self, pod: core_pb2.Pod) -> None:
        """The API's copy of a pod (from the watch): if someone else changed the part of its
        status the kubelet owns, send the kubelet's status again."""
        uid = pod.metadata.uid
        if uid in self._inflight:
            self._recheck[uid] = pod
            return
        if _version(pod) <= self._written.get(uid, 0):
            return  # our own write, or older
        view = kubelet_view(pod.status)
        if self._acked.get(uid) == view:
            return
        self._acked[uid] = view
        target = self._wanted.get(uid)
        if target is not None and target.status != view:
            log.info("node=%s pod=%s/%s status was changed by someone else; reporting it again",
                     self.client.node_name, target.namespace, target.name)
            self._dirty[uid] = None
            self._wakeup.set()

    def pending(self, uid: str) -> bool:
        return uid in self._dirty or uid in self._inflight

    async def synced(self, uid: str) -> None:
        """Wait until the latest status of ``uid`` reached the API (or cannot any more)."""
        if not self.pending(uid):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(uid, []).append(future)
        await future

    def forget(self, uid: str) -> None:
        self._wanted.pop(uid, None)
        self._acked.pop(uid, None)
        self._written.pop(uid, None)
        self._recheck.pop(uid, None)
        self._dirty.pop(uid, None)
        self._resolve(uid)

    def _resolve(self, uid: str) -> None:
        for future in self._waiters.pop(uid, []):
            if not future.done():
                future.set_result(None)

    async def run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                for uid in list(self._dirty):
                    if uid in self._inflight:
                        continue
                    del self._dirty[uid]
                    target = self._wanted.get(uid)
                    if target is None:
                        continue
                    self._inflight.add(uid)
                    self._sending[uid] = target.status
                    task = asyncio.create_task(self._send(uid, target))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _send(self, uid: str, target: _Target) -> None:
        status = target.status
        retry = False
        try:
            async with self._slots:
                written = await self.client.update_pod_status(target.namespace, target.name, uid,
                                                              status)
            self._acked[uid] = status
            if uid in self._wanted:
                self._written[uid] = max(self._written.get(uid, 0), _version(written))
            self.sent += 1
        except ApiError as exc:
            if exc.code in FAILOVER_CODES or exc.code == Code.INTERNAL:
                log.warning("node=%s pod=%s/%s status update failed, will retry: %s",
                            self.client.node_name, target.namespace, target.name, exc)
                retry = True
            else:
                # Gone, replaced or not ours any more: nothing to report to.
                log.info("node=%s pod=%s/%s status not updated: %s", self.client.node_name,
                         target.namespace, target.name, exc)
                self._acked[uid] = status
        finally:
            self._inflight.discard(uid)
            self._sending.pop(uid, None)
        observed = self._recheck.pop(uid, None)
        if observed is not None and uid in self._wanted:
            self.observe(observed)
        if retry:
            await sleep(self.clock, self.retry_interval)
        current = self._wanted.get(uid)
        if current is not None and self._acked.get(uid) != current.status:
            self._dirty.setdefault(uid, None)
        if uid in self._dirty:
            self._wakeup.set()
        else:
            self._resolve(uid)


def _version(pod: core_pb2.Pod) -> int:
    try:
        return int(pod.metadata.resource_version or 0)
    except ValueError:
        return 0
