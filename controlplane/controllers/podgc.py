"""Pod garbage collection (kube-controller-manager's ``podgc``), every ``pod_gc_period``:

- orphans: pods bound to a node that no longer exists are marked Failed (condition
  DisruptionTarget, reason DeletionByPodGC, "PodGC: node no longer exists") and force-deleted.
  A node missing from the informer is first quarantined for ``pod_gc_quarantine`` and then
  confirmed absent with a GET, so a node that is only late to appear keeps its pods;
- terminated pods (Succeeded, Failed) beyond a threshold are deleted, evicted ones first, then
  oldest first. The threshold is Kubernetes' ``--terminated-pod-gc-threshold`` (12500), set with
  ``KEMU_TERMINATED_POD_GC_THRESHOLD`` (0 turns this off);
- terminating pods on a node that is not Ready and carries the
  ``node.kubernetes.io/out-of-service`` taint are force-deleted (non-graceful node shutdown);
- terminating pods that were never scheduled are force-deleted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Callable, Iterable, Mapping

from controlplane.controllers.base import Controller
from controlplane.controllers.informer import Informer, by_node_name
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of, now_rfc3339
from kemu.api.pods import is_terminal
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

THRESHOLD_ENV = "KEMU_TERMINATED_POD_GC_THRESHOLD"
DEFAULT_TERMINATED_THRESHOLD = 12500
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
_CONCURRENT_DELETES = 16


def terminated_threshold(environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(THRESHOLD_ENV, "")
    if not raw:
        return DEFAULT_TERMINATED_THRESHOLD
    value = int(raw)
    if value < 0:
        raise ValueError(f"{THRESHOLD_ENV} must be 0 or more, not {value}")
    return value


def _is_ready(node: core_pb2.Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def _gc_order(pod: core_pb2.Pod) -> tuple[bool, str, str]:
    evicted = pod.status.phase == "Failed" and pod.status.reason == "Evicted"
    return (not evicted, pod.metadata.creation_timestamp, pod.metadata.name)


class PodGCController(Controller):
    name = "podgc"

    def __init__(self, client: ApiClient, pods: Informer[core_pb2.Pod],
                 nodes: Informer[core_pb2.Node], timing: Timing, threshold: int,
                 is_leader: Callable[[], bool] = lambda: True):
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, is_leader)
        self.client = client
        self.pods = pods
        self.nodes = nodes
        self.timing = timing
        self.threshold = threshold
        # Node names waiting out their quarantine: name -> when it ends (loop time).
        self.quarantine: dict[str, float] = {}
        self.terminated: set[str] = set()
        self.terminating: set[str] = set()
        self.pods_per_node: collections.Counter[str] = collections.Counter()
        pods.add_indexer("spec.nodeName", by_node_name)
        pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- bookkeeping from pod events -------------------------------------------------------
    def _pod_added(self, pod: core_pb2.Pod) -> None:
        key = key_of(pod)
        if is_terminal(pod):
            self.terminated.add(key)
        if pod.metadata.deletion_timestamp:
            self.terminating.add(key)
        if pod.spec.node_name:
            self.pods_per_node[pod.spec.node_name] += 1

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        key = key_of(pod)
        self.terminated.discard(key)
        self.terminating.discard(key)
        if pod.spec.node_name:
            self.pods_per_node[pod.spec.node_name] -= 1
            if self.pods_per_node[pod.spec.node_name] <= 0:
                del self.pods_per_node[pod.spec.node_name]

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        self._pod_deleted(old)
        self._pod_added(new)

    # -- the loop -------------------------------------------------------------------------
    async def start(self) -> None:
        self.spawn(self._gc_forever(), "loop")

    async def _gc_forever(self) -> None:
        while True:
            await asyncio.sleep(self.timing.pod_gc_period)
            if not self.is_leader():
                continue
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod GC failed")

    async def gc(self) -> None:
        if self.threshold > 0:
            await self.gc_terminated()
        await self.gc_terminating()
        await self.gc_orphaned()
        await self.gc_unscheduled_terminating()

    def _cached(self, keys: Iterable[str]) -> list[core_pb2.Pod]:
        found = (self.pods.get(k) for k in keys)
        return [p for p in found if p is not None]

    async def gc_terminated(self) -> None:
        excess = len(self.terminated) - self.threshold
        if excess <= 0:
            return
        victims = sorted(self._cached(self.terminated), key=_gc_order)[:excess]
        log.info("garbage collecting %d terminated pods", len(victims))
        await self._delete_all(victims)

    async def gc_terminating(self) -> None:
        victims = []
        for pod in self._cached(self.terminating):
            node = self.nodes.get(pod.spec.node_name) if pod.spec.node_name else None
            if node is None:
                continue
            if not _is_ready(node) and any(t.key == OUT_OF_SERVICE_TAINT for t in node.spec.taints):
                victims.append(pod)
        if victims:
            log.info("garbage collecting %d terminating pods on out-of-service nodes", len(victims))
            await self._delete_all(sorted(victims, key=_gc_order))

    async def gc_orphaned(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        existing = {n.metadata.name for n in self.nodes.list()}
        for name in self.pods_per_node:
            if name not in existing and name not in self.quarantine:
                self.quarantine[name] = now + self.timing.pod_gc_quarantine
        deleted: list[str] = []
        for name, until in list(self.quarantine.items()):
            if until > now:
                continue
            del self.quarantine[name]
            if name in existing:
                continue
            try:
                await self.client.get(core_pb2.Node, name)
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    deleted.append(name)
                else:
                    log.warning("node=%s: cannot check whether it exists: %s", name, exc)
        for name in deleted:
            orphans = self.pods.by_index("spec.nodeName", name)
            if orphans:
                log.info("node=%s is gone: force-deleting its %d pods", name, len(orphans))
            await self._delete_all(orphans, condition=(
                "DeletionByPodGC", "PodGC: node no longer exists"))

    async def gc_unscheduled_terminating(self) -> None:
        victims = [p for p in self._cached(self.terminating) if not p.spec.node_name]
        await self._delete_all(victims)

    # -- deleting -------------------------------------------------------------------------
    async def _delete_all(self, pods: list[core_pb2.Pod],
                          condition: tuple[str, str] | None = None) -> None:
        limit = asyncio.Semaphore(_CONCURRENT_DELETES)

        async def one(pod: core_pb2.Pod) -> None:
            async with limit:
                try:
                    await self.mark_failed_and_delete(pod, condition)
                except ApiError as exc:
                    if exc.code != Code.NOT_FOUND:
                        log.warning("pod=%s: PodGC could not delete it: %s", key_of(pod), exc)

        await asyncio.gather(*(one(p) for p in pods))

    async def mark_failed_and_delete(self, pod: core_pb2.Pod,
                                     condition: tuple[str, str] | None = None) -> None:
        """Kubernetes' markFailedAndDeletePodWithCondition: Failed first, then grace 0."""
        if not self.is_leader():
            return
        log.info("pod=%s: PodGC is force deleting it", key_of(pod))
        if not is_terminal(pod):
            for _ in range(5):
                changed = clone(pod)
                changed.status.phase = "Failed"
                if condition is not None:
                    _set_disruption_target(changed, *condition)
                try:
                    await self.client.update_status(changed)
                    break
                except ApiError as exc:
                    if exc.code != Code.ABORTED:
                        raise
                    pod = await self.client.get(core_pb2.Pod, pod.metadata.name,
                                                pod.metadata.namespace)
        await self.client.delete(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                 grace_period_seconds=0, precondition_uid=pod.metadata.uid)


def _set_disruption_target(pod: core_pb2.Pod, reason: str, message: str) -> None:
    for condition in pod.status.conditions:
        if condition.type == "DisruptionTarget":
            if condition.status != "True":
                condition.last_transition_time = now_rfc3339()
            condition.status, condition.reason, condition.message = "True", reason, message
            return
    pod.status.conditions.add(type="DisruptionTarget", status="True", reason=reason,
                              message=message, last_transition_time=now_rfc3339())


@register("podgc")
def build(context: ControllerContext) -> Controller:
    factory = context.informers
    return PodGCController(context.client, factory.informer(core_pb2.Pod),
                           factory.informer(core_pb2.Node), context.timing,
                           terminated_threshold(), context.is_leader)
