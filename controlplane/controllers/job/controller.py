"""The Job controller: informers, event handlers, pod claiming and orphaned finalizers.

Job events sync at once (spec changes) or batched (status changes); pod events are batched
over ``SYNC_BATCH_PERIOD`` x timing.scale, so a burst of pod updates costs one sync. Pods are
found through the informer's controller-UID index and, for adoption, the orphans of the
namespace: never by scanning every pod.

A pod that carries the tracking finalizer but no longer belongs to a live, unfinished Job (the
Job was deleted, or finished, or released the pod) has its finalizer removed by the orphan
path (``pod:<namespace>/<name>`` keys on the same queue), or it would never go away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from controlplane.controllers import informer as informers
from controlplane.controllers.base import Controller
from controlplane.controllers.events import WARNING
from controlplane.controllers.job import conditions as cond
from controlplane.controllers.job.environment import Environment
from controlplane.controllers.job.pods import (
    TRACKING_FINALIZER,
    has_tracking_finalizer,
    remove_finalizer_patch,
)
from controlplane.controllers.job.sync import JobSync
from controlplane.controllers.refmanager import (
    AdoptionRefusedError,
    RefManager,
    recheck_deletion_timestamp,
)
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import labels
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of, key_of, split_key
from kemu.client.interface import clone
from kemu.v1 import batch_pb2, core_pb2

log = logging.getLogger(__name__)

KIND = "Job"
API_VERSION = "batch/v1"
ORPHAN_POD = "pod:"


def job_selector(job: batch_pb2.Job) -> labels.Selector | None:
    if not job.spec.HasField("selector"):
        return None
    try:
        selector = labels.from_label_selector(job.spec.selector)
    except labels.SelectorError:
        return None
    return None if selector.empty() else selector


class JobController(Controller):
    name = "job"
    workers = 5

    def __init__(self, context: ControllerContext, clock: Callable[[], float] = time.time):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.recorder = context.recorder("job-controller")
        self.env = Environment(context.client, self.recorder, timing, clock,
                               self.queue.add_after)
        self.jobs = context.informers.informer(batch_pb2.Job)
        self.pods = context.informers.informer(core_pb2.Pod)
        self.pods.add_indexer(informers.CONTROLLER_UID_INDEX, informers.by_controller_uid)
        self.pods.add_indexer(informers.ORPHANS_INDEX, informers.orphans_by_namespace)
        self.jobs.add_handler(self._job_added, self._job_updated, self._job_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    async def start(self) -> None:
        self.recorder.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    # -- queueing ---------------------------------------------------------------------------
    def enqueue_batched(self, job: batch_pb2.Job) -> None:
        self.queue.add_after(key_of(job), self.env.batch_period)

    def enqueue_orphan(self, pod: core_pb2.Pod) -> None:
        self.queue.add(ORPHAN_POD + key_of(pod))

    def resolve(self, namespace: str, ref: Any) -> batch_pb2.Job | None:
        return self.jobs.resolve_ref(KIND, namespace, ref)

    def _jobs_selecting(self, pod: core_pb2.Pod) -> list[batch_pb2.Job]:
        return self.jobs.selecting(pod, job_selector)

    # -- job events -------------------------------------------------------------------------
    def _job_added(self, job: batch_pb2.Job) -> None:
        self.enqueue(key_of(job))

    def _job_updated(self, old: batch_pb2.Job, new: batch_pb2.Job) -> None:
        key = key_of(new)
        if old.metadata.uid != new.metadata.uid:
            self._job_deleted(old)
        if new.metadata.generation == old.metadata.generation:
            self.enqueue_batched(new)
        else:
            self.enqueue(key)
        if cond.is_finished(new):
            self._release_finalizers(new)
        if new.status.start_time and new.spec.HasField("active_deadline_seconds"):
            was = old.spec.active_deadline_seconds if \
                old.spec.HasField("active_deadline_seconds") else None
            if was != new.spec.active_deadline_seconds:
                allowed = new.spec.active_deadline_seconds * self.env.timing.scale
                passed = self.env.clock() - self.env.start_time(new)
                self.queue.add_after(key, allowed - passed)

    def _job_deleted(self, job: batch_pb2.Job) -> None:
        self.enqueue(key_of(job))
        self.env.start_times.pop(job.metadata.uid, None)
        self._release_finalizers(job)

    def _release_finalizers(self, job: batch_pb2.Job) -> None:
        """Queue the finalizer removal of the Job's pods that still carry it."""
        for pod in self.pods.by_index(informers.CONTROLLER_UID_INDEX, job.metadata.uid):
            if has_tracking_finalizer(pod):
                self.enqueue_orphan(pod)

    # -- pod events -------------------------------------------------------------------------
    def _pod_added(self, pod: core_pb2.Pod) -> None:
        self.env.saw_pod(pod)
        if pod.metadata.deletion_timestamp:
            self._pod_gone(pod, final=False)
            return
        ref = controller_of(pod)
        if ref is not None:
            job = self.resolve(pod.metadata.namespace, ref)
            if job is not None:
                self.env.expectations.creation_observed(key_of(job))
                self.enqueue_batched(job)
            return
        if has_tracking_finalizer(pod):
            self.enqueue_orphan(pod)
        for job in self._jobs_selecting(pod):
            self.enqueue_batched(job)

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        self.env.saw_pod(new)
        if new.metadata.deletion_timestamp:
            self._pod_gone(new, final=False)
            return
        finalizer_gone = not has_tracking_finalizer(new)
        new_ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self.resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                if finalizer_gone:
                    self.env.finalizers.observed(key_of(previous), new.metadata.uid)
                self.enqueue_batched(previous)
        if new_ref is not None:
            job = self.resolve(new.metadata.namespace, new_ref)
            if job is not None:
                if finalizer_gone:
                    self.env.finalizers.observed(key_of(job), new.metadata.uid)
                self.enqueue_batched(job)
            return
        if has_tracking_finalizer(new):
            self.enqueue_orphan(new)
        if ref_changed or old.metadata.labels != new.metadata.labels:
            for job in self._jobs_selecting(new):
                self.enqueue_batched(job)

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        self.env.finish_seen.pop(pod.metadata.uid, None)
        self._pod_gone(pod, final=True)

    def _pod_gone(self, pod: core_pb2.Pod, final: bool) -> None:
        """The pod was deleted (``final``) or is being deleted."""
        ref = controller_of(pod)
        tracked = has_tracking_finalizer(pod)
        if ref is None:
            if tracked:
                self.enqueue_orphan(pod)
            return
        job = self.resolve(pod.metadata.namespace, ref)
        if job is None or cond.is_finished(job):
            if tracked:
                self.enqueue_orphan(pod)
            return
        key = key_of(job)
        self.env.expectations.deletion_observed(key, key_of(pod))
        if final or not tracked:
            self.env.finalizers.observed(key, pod.metadata.uid)
        self.enqueue_batched(job)

    # -- sync -------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_POD):
            await self._sync_orphan(key[len(ORPHAN_POD):])
            return
        cached = self.jobs.get(key)
        if cached is None:
            self.env.forget(key)
            return
        if cond.is_finished(cached):
            self.env.backoff.remove(key)
            self.env.start_times.pop(cached.metadata.uid, None)
            return
        mode = cached.spec.completion_mode
        if cached.spec.HasField("completion_mode") and mode not in ("NonIndexed", "Indexed"):
            self.recorder.event(cached, WARNING, "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return
        job = clone(cached)
        satisfied = self.env.expectations.satisfied(key)
        pods = await self._claim_pods(job)
        if pods is None:
            return
        await JobSync(self.env, key, job, pods, satisfied).run()

    async def _claim_pods(self, job: batch_pb2.Job) -> list[core_pb2.Pod] | None:
        selector = job_selector(job)
        if selector is None:
            log.error("job %s: no usable selector", key_of(job))
            return None
        uid = job.metadata.uid
        candidates = {p.metadata.uid: p for p in
                      self.pods.by_index(informers.CONTROLLER_UID_INDEX, uid) +
                      self.pods.by_index(informers.ORPHANS_INDEX, job.metadata.namespace)}
        manager = RefManager(self.client, job, lambda pod: selector.matches(pod.metadata.labels),
                             recheck_deletion_timestamp(self.client, job))
        try:
            claimed = await manager.claim(candidates.values())
        except AdoptionRefusedError as exc:
            log.info("job %s: %s", key_of(job), exc)
            return None
        result = []
        for pod in claimed:
            adopted = all(r.uid != uid for r in pod.metadata.owner_references)
            if adopted and not has_tracking_finalizer(pod):
                # An adopted pod is counted like our own (Kubernetes adds the finalizer too).
                pod = clone(pod)
                pod.metadata.finalizers.append(TRACKING_FINALIZER)
            result.append(pod)
        return result

    async def _sync_orphan(self, pod_key: str) -> None:
        namespace, name = split_key(pod_key)
        pod = self.pods.get_by_name(namespace, name)
        if pod is None or not has_tracking_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None:
            if ref.kind != KIND or ref.api_version != API_VERSION:
                return
            job = self.resolve(namespace, ref)
            if job is not None and not cond.is_finished(job):
                return
        patch = remove_finalizer_patch(pod)
        try:
            await self.client.patch(core_pb2.Pod, name, namespace, patch, patch_type="json")
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND:
                raise


@register("job")
def make_job_controller(context: ControllerContext) -> Controller:
    return JobController(context)
