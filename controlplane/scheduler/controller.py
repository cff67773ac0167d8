"""The scheduler as a controller: informers feed the queue and the node cache; one loop takes the
next pod, runs an attempt, assumes the chosen node at once and binds in the background.

On success it records ``Scheduled``; when no node fits it records ``FailedScheduling`` and sets
the pod's ``PodScheduled`` condition to False (reason Unschedulable, the same message), leaving
the pod Pending until a cluster event lets it try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.events import NORMAL, WARNING
from controlplane.controllers.registry import ControllerContext, register
from controlplane.scheduler.algorithm import Algorithm
from controlplane.scheduler.cache import SchedulerCache
from controlplane.scheduler.diagnosis import NO_NODES_AVAILABLE, failure_message
from controlplane.scheduler.framework import PodContext
from controlplane.scheduler.metrics import ATTEMPT_SECONDS, ATTEMPTS, PENDING
from controlplane.scheduler.queue import QueueClosedError, QueuedPod, SchedulingQueue
from controlplane.scheduler.spreading import SelectorCounts, default_selector
from kemu.api.errors import ApiError, Code
from kemu.api.labels import Selector
from kemu.api.meta import key_of, now_rfc3339
from kemu.api.pods import is_terminal
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

SCHEDULER_NAME = "default-scheduler"
POD_SCHEDULED = "PodScheduled"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
_MAX_CONCURRENT_WRITES = 32
_STATUS_RETRIES = 5


def responsible_for(pod: core_pb2.Pod) -> bool:
    """Pods this scheduler should place: pending, unbound, ours, not going away."""
    return not pod.spec.node_name and pod.spec.scheduler_name in ("", SCHEDULER_NAME) and \
        not pod.metadata.deletion_timestamp and not is_terminal(pod)


def _scheduling_properties(node: core_pb2.Node) -> tuple[Any, ...]:
    """What about a node can change a filter's or score's verdict (not heartbeats)."""
    return (node.spec.unschedulable, [(t.key, t.value, t.effect) for t in node.spec.taints],
            dict(node.metadata.labels), dict(node.metadata.annotations),
            {k: v.value for k, v in node.status.allocatable.items()},
            {k: v.value for k, v in node.status.capacity.items()},
            [(c.type, c.status) for c in node.status.conditions])


def set_condition(pod: core_pb2.Pod, kind: str, status: str, reason: str, message: str) -> bool:
    """Set a pod condition; False if it already says exactly this."""
    for condition in pod.status.conditions:
        if condition.type == kind:
            if (condition.status, condition.reason, condition.message) == (status, reason, message):
                return False
            if condition.status != status:
                condition.last_transition_time = now_rfc3339()
            condition.status, condition.reason, condition.message = status, reason, message
            condition.last_probe_time = ""
            return True
    pod.status.conditions.add(type=kind, status=status, reason=reason, message=message,
                              last_transition_time=now_rfc3339())
    return True


class Scheduler(Controller):
    name = "scheduler"

    def __init__(self, context: ControllerContext):
        super().__init__(context.timing.queue_retry_base, context.timing.queue_retry_max,
                         context.is_leader)
        timing = context.timing
        self.client = context.client
        # Repeats counted, nothing combined or filtered (kube-scheduler's events.k8s.io recorder).
        self.recorder = context.recorder(SCHEDULER_NAME, correlate=False)
        factory = context.informers
        self.pods = factory.informer(core_pb2.Pod)
        self.nodes = factory.informer(core_pb2.Node)
        self.services = factory.informer(core_pb2.Service)
        self.replication_controllers = factory.informer(core_pb2.ReplicationController)
        self.replica_sets = factory.informer(apps_pb2.ReplicaSet)
        self.stateful_sets = factory.informer(apps_pb2.StatefulSet)
        self.cache = SchedulerCache()
        self.selector_counts = SelectorCounts(self.cache)
        self.algorithm = Algorithm(self.cache, self.selector_counts.counts)
        self.pending = SchedulingQueue(timing.scheduler_retry_backoff_base,
                                       timing.scheduler_retry_backoff_max,
                                       timing.scheduler_unschedulable_max_wait)
        self._writes = asyncio.Semaphore(_MAX_CONCURRENT_WRITES)
        self._background: set[asyncio.Task[None]] = set()
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self.spawn(self._run(), "loop")

    async def stop(self) -> None:
        self.pending.close()
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await super().stop()
        await self.recorder.stop()

    def _in_background(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"scheduler-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- informer handlers ----------------------------------------------------------------
    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.spec.node_name:
            self.cache.upsert_pod(pod)
        elif responsible_for(pod):
            self.pending.add(pod)
        PENDING.set(len(self.pending))

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        key = key_of(new)
        if new.spec.node_name:
            self.pending.delete(key)
            held = SchedulerCache.counts(old) if old.spec.node_name else key in self.cache.pods
            self.cache.upsert_pod(new)
            if held and not SchedulerCache.counts(new):
                self.pending.move_all()  # it finished: its resources are free
        elif responsible_for(new):
            if not self.cache.is_assumed(key, new.metadata.uid):
                self.pending.update(new)
        else:
            self.pending.delete(key)
        PENDING.set(len(self.pending))

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        key = key_of(pod)
        self.pending.delete(key)
        if key in self.cache.pods:
            self.cache.remove_pod(key)
            self.pending.move_all()
        PENDING.set(len(self.pending))

    def _node_added(self, node: core_pb2.Node) -> None:
        self.cache.set_node(node)
        self.pending.move_all()

    def _node_updated(self, old: core_pb2.Node, new: core_pb2.Node) -> None:
        self.cache.set_node(new)
        if _scheduling_properties(old) != _scheduling_properties(new):
            self.pending.move_all()

    def _node_deleted(self, node: core_pb2.Node) -> None:
        self.cache.remove_node(node.metadata.name)
        self.pending.move_all()

    # -- spreading ------------------------------------------------------------------------
    def _owner(self, kind: str, namespace: str, name: str) -> object | None:
        if kind == "ReplicationController":
            return self.replication_controllers.get_by_name(namespace, name)
        if kind == "ReplicaSet":
            return self.replica_sets.get_by_name(namespace, name)
        if kind == "StatefulSet":
            return self.stateful_sets.get_by_name(namespace, name)
        return None

    def _default_selector(self, pod: core_pb2.Pod) -> Selector | None:
        if pod.spec.topology_spread_constraints:
            return None  # the pod's own constraints replace the defaults
        selector = default_selector(pod, self.services.list(pod.metadata.namespace), self._owner)
        return None if selector.empty() else selector

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                queued = await self.pending.pop()
            except QueueClosedError:
                return
            if not self.is_leader():
                self.pending.requeue_backoff(queued)
                await asyncio.sleep(0.05)
                continue
            try:
                self.schedule_one(queued)
            except Exception:
                log.exception("scheduling %s failed", queued.key)
                ATTEMPTS.labels("error").inc()
                self.pending.requeue_backoff(queued)
            PENDING.set(len(self.pending))
            await asyncio.sleep(0)  # let the informers deliver between pods

    def schedule_one(self, queued: QueuedPod) -> None:
        pod = queued.pod
        if not responsible_for(pod) or self.cache.is_assumed(queued.key, pod.metadata.uid):
            return
        started = time.perf_counter()
        ctx = PodContext.of(pod, self._default_selector(pod))
        result = self.algorithm.schedule(ctx)
        ATTEMPT_SECONDS.observe(time.perf_counter() - started)
        if result.node_name is None:
            ATTEMPTS.labels("unschedulable").inc()
            message = NO_NODES_AVAILABLE if result.no_nodes else \
                failure_message(ctx, result.diagnosis)
            log.debug("pod=%s unschedulable: %s", queued.key, message)
            self.pending.requeue_unschedulable(queued)
            self.recorder.event(pod, WARNING, "FailedScheduling", message)
            self._in_background(self._set_scheduled_false(pod, REASON_UNSCHEDULABLE, message),
                                f"status-{queued.key}")
            return
        ATTEMPTS.labels("scheduled").inc()
        self.cache.assume(pod, result.node_name)
        self._in_background(self._bind(queued, result.node_name), f"bind-{queued.key}")

    async def _bind(self, queued: QueuedPod, node_name: str) -> None:
        pod = queued.pod
        namespace, name = pod.metadata.namespace, pod.metadata.name
        try:
            async with self._writes:
                if not self.is_leader():
                    raise ApiError(Code.UNAVAILABLE, "ServiceUnavailable", "not the leader")
                await self.client.bind(namespace, name, node_name, pod.metadata.uid)
        except asyncio.CancelledError:
            self.cache.forget(queued.key)
            raise
        except Exception as exc:
            self._binding_failed(queued, node_name, exc)
            return
        log.info("pod=%s node=%s bound", queued.key, node_name)
        self.recorder.event(pod, NORMAL, "Scheduled",
                            f"Successfully assigned {namespace}/{name} to {node_name}")

    def _binding_failed(self, queued: QueuedPod, node_name: str, exc: Exception) -> None:
        self.cache.forget(queued.key)
        self.pending.move_all()  # the node's assumed resources are free again
        latest = self.pods.get(queued.key)
        code = exc.code if isinstance(exc, ApiError) else None
        if code in (Code.NOT_FOUND, Code.ABORTED):
            # Gone, or bound by someone else: the informer reports what became of it.
            log.debug("pod=%s node=%s binding lost: %s", queued.key, node_name, exc)
            if latest is not None and responsible_for(latest) and \
                    latest.metadata.uid != queued.pod.metadata.uid:
                self.pending.add(latest)
            return
        if latest is None or not responsible_for(latest):
            return
        if not self.is_leader():
            self.pending.requeue_backoff(queued)  # the new leader's scheduler takes over
            return
        log.warning("pod=%s node=%s binding failed: %s", queued.key, node_name, exc)
        if latest.metadata.uid != queued.pod.metadata.uid:
            self.pending.add(latest)
            return
        queued.pod = latest
        self.pending.requeue_backoff(queued)
        message = f"Binding rejected: {exc}"
        self.recorder.event(latest, WARNING, "FailedScheduling", message)
        self._in_background(self._set_scheduled_false(latest, REASON_SCHEDULER_ERROR, message),
                            f"status-{queued.key}")

    async def _set_scheduled_false(self, pod: core_pb2.Pod, reason: str, message: str) -> None:
        """PodScheduled=False with the reason and message (no write when it already says so)."""
        key, uid = key_of(pod), pod.metadata.uid
        cached = self.pods.get(key)
        current: core_pb2.Pod | None = cached if cached is not None else pod
        for _ in range(_STATUS_RETRIES):
            if current is None or current.metadata.uid != uid or current.spec.node_name or \
                    current.metadata.deletion_timestamp:
                return
            changed = clone(current)
            if not set_condition(changed, POD_SCHEDULED, "False", reason, message):
                return
            try:
                async with self._writes:
                    if not self.is_leader():
                        return
                    await self.client.update_status(changed)
                return
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    return
                if exc.code != Code.ABORTED:
                    log.warning("pod=%s: cannot record PodScheduled=False: %s", key, exc)
                    return
            try:
                current = await self.client.get(core_pb2.Pod, pod.metadata.name,
                                                pod.metadata.namespace)
            except ApiError:
                return


@register("scheduler")
def build(context: ControllerContext) -> Controller:
    return Scheduler(context)
