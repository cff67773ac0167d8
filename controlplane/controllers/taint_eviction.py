"""Taint-based eviction (kube-controller-manager's ``taint-eviction-controller``, the former
NoExecuteTaintManager): pods leave nodes with NoExecute taints they do not tolerate.

A pod that does not tolerate every NoExecute taint of its node is deleted at once. A pod that
tolerates them all, some for a limited ``tolerationSeconds``, is deleted when the shortest of
those runs out (multiplied by ``timing.scale``), counted from when this controller saw the taint
on the pod's node; the deletion is cancelled if the taints go first. Admission gives every pod
300-second tolerations for ``not-ready`` and ``unreachable``, hence the familiar five minutes.

The deletion is an ordinary graceful delete: on a node that cannot be reached, no kubelet
confirms it and the pod stays Terminating, exactly as in Kubernetes; its controller replaces it
because terminating pods no longer count as active.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.controllers.base import Controller
from controlplane.controllers.events import NORMAL, EventRecorder
from controlplane.controllers.informer import Informer, by_node_name
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of, now_rfc3339, split_key
from kemu.api.taints import tolerates
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

NO_EXECUTE = "NoExecute"
_DELETE_RETRIES = 5


def no_execute_taints(node: core_pb2.Node | None) -> list[core_pb2.Taint]:
    if node is None:
        return []
    return [t for t in node.spec.taints if t.effect == NO_EXECUTE]


def min_toleration_seconds(taints: list[core_pb2.Taint],
                           tolerations: list[core_pb2.Toleration]) -> float | None:
    """How long the pod may stay: 0 if a taint is not tolerated, None if forever."""
    used: list[core_pb2.Toleration] = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return 0.0
        used.append(match)
    if not used:
        return 0.0
    shortest: float | None = None
    for toleration in used:
        if toleration.HasField("toleration_seconds"):
            if toleration.toleration_seconds <= 0:
                return 0.0
            seconds = float(toleration.toleration_seconds)
            shortest = seconds if shortest is None else min(shortest, seconds)
    return shortest


@dataclass
class _Scheduled:
    created_at: float
    fire_at: float
    handle: asyncio.TimerHandle | None


def _pod_reference(key: str) -> core_pb2.Pod:
    namespace, name = split_key(key)
    pod = core_pb2.Pod()
    pod.metadata.namespace, pod.metadata.name = namespace, name
    return pod


class TaintEvictionController(Controller):
    name = "taint-eviction"

    def __init__(self, client: ApiClient, nodes: Informer[core_pb2.Node],
                 pods: Informer[core_pb2.Pod], timing: Timing, recorder: EventRecorder,
                 is_leader: Callable[[], bool] = lambda: True):
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, is_leader)
        self.client = client
        self.nodes = nodes
        self.pods = pods
        self.timing = timing
        self.recorder = recorder
        self.tainted: dict[str, list[core_pb2.Taint]] = {}
        self.scheduled: dict[str, _Scheduled] = {}
        self._running: set[asyncio.Task[None]] = set()
        pods.add_indexer("spec.nodeName", by_node_name)
        pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)

    async def stop(self) -> None:
        for scheduled in self.scheduled.values():
            if scheduled.handle is not None:
                scheduled.handle.cancel()
        self.scheduled.clear()
        for task in list(self._running):
            task.cancel()
        for task in list(self._running):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().stop()
        await self.recorder.stop()

    # -- handlers -------------------------------------------------------------------------
    def _pod_added(self, pod: core_pb2.Pod) -> None:
        self.enqueue(f"pod:{key_of(pod)}")

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if old.spec.node_name != new.spec.node_name or \
                list(old.spec.tolerations) != list(new.spec.tolerations):
            self.enqueue(f"pod:{key_of(new)}")

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        self.enqueue(f"pod:{key_of(pod)}")

    def _node_added(self, node: core_pb2.Node) -> None:
        self.enqueue(f"node:{node.metadata.name}")

    def _node_updated(self, old: core_pb2.Node, new: core_pb2.Node) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self.enqueue(f"node:{new.metadata.name}")

    def _node_deleted(self, node: core_pb2.Node) -> None:
        self.enqueue(f"node:{node.metadata.name}")

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "node":
            self.handle_node(rest)
        else:
            self.handle_pod(rest)

    def handle_node(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            self.tainted.pop(name, None)
            return
        taints = no_execute_taints(node)
        if taints:
            self.tainted[name] = taints
        else:
            self.tainted.pop(name, None)
        pods = self.pods.by_index("spec.nodeName", name)
        if not taints:
            for pod in pods:
                self.cancel(key_of(pod))
            return
        now = self._now()
        for pod in pods:
            self.process_pod(key_of(pod), list(pod.spec.tolerations), taints, now)

    def handle_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            self.cancel(key)
            return
        taints = self.tainted.get(pod.spec.node_name) if pod.spec.node_name else None
        if taints is None:
            return
        self.process_pod(key, list(pod.spec.tolerations), taints, self._now())

    def process_pod(self, key: str, tolerations: list[core_pb2.Toleration],
                    taints: list[core_pb2.Taint], now: float) -> None:
        if not taints:
            self.cancel(key)
            return
        seconds = min_toleration_seconds(taints, tolerations)
        if seconds is None:
            self.cancel(key)
            return
        if seconds == 0:
            self.cancel(key)
            self._add(key, now, now)
            return
        delay = seconds * self.timing.scale
        existing = self.scheduled.get(key)
        start = now
        if existing is not None:
            start = existing.created_at
            if start + delay < now + delay:
                return
            self.cancel(key)
        self._add(key, start, now + delay)

    # -- timed deletions ------------------------------------------------------------------
    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _add(self, key: str, created_at: float, fire_at: float) -> None:
        if key in self.scheduled:
            return
        delay = fire_at - self._now()
        if delay <= 0:
            self.scheduled[key] = _Scheduled(created_at, fire_at, None)
            self._fire(key)
            return
        handle = asyncio.get_running_loop().call_later(delay, self._fire, key)
        self.scheduled[key] = _Scheduled(created_at, fire_at, handle)

    def cancel(self, key: str) -> bool:
        scheduled = self.scheduled.pop(key, None)
        if scheduled is None or scheduled.handle is None:
            return False
        scheduled.handle.cancel()
        log.info("pod=%s eviction cancelled", key)
        cached = self.pods.get(key)
        self.recorder.event(cached if cached is not None else _pod_reference(key), NORMAL,
                            "TaintManagerEviction", f"Cancelling deletion of Pod {key}")
        return True

    def _fire(self, key: str) -> None:
        scheduled = self.scheduled.get(key)
        if scheduled is not None:
            scheduled.handle = None
        task = asyncio.create_task(self._evict(key), name=f"taint-eviction-{key}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _evict(self, key: str) -> None:
        try:
            if not self.is_leader():
                return
            cached = self.pods.get(key)
            log.info("pod=%s deleting: NoExecute taint", key)
            self.recorder.event(cached if cached is not None else _pod_reference(key), NORMAL,
                                "TaintManagerEviction", f"Marking for deletion Pod {key}")
            for _ in range(_DELETE_RETRIES):
                try:
                    await self._mark_and_delete(key)
                    return
                except ApiError as exc:
                    if exc.code == Code.NOT_FOUND:
                        return
                    log.info("pod=%s: eviction failed, retrying: %s", key, exc)
                await asyncio.sleep(0.01)
        finally:
            self.scheduled.pop(key, None)

    async def _mark_and_delete(self, key: str) -> None:
        namespace, name = split_key(key)
        pod = await self.client.get(core_pb2.Pod, name, namespace)
        changed = clone(pod)
        condition = next((c for c in changed.status.conditions if c.type == "DisruptionTarget"),
                         None)
        wanted = ("True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
        if condition is None or (condition.status, condition.reason, condition.message) != wanted:
            if condition is None:
                condition = changed.status.conditions.add(type="DisruptionTarget")
            if condition.status != "True":
                condition.last_transition_time = now_rfc3339()
            condition.status, condition.reason, condition.message = wanted
            await self.client.update_status(changed)
        await self.client.delete(core_pb2.Pod, name, namespace, precondition_uid=pod.metadata.uid)


@register("taint-eviction")
def build(context: ControllerContext) -> Controller:
    factory = context.informers
    return TaintEvictionController(context.client, factory.informer(core_pb2.Node),
                                   factory.informer(core_pb2.Pod), context.timing,
                                   context.recorder("taint-eviction-controller"),
                                   context.is_leader)
