"""The TTL-after-finished controller: a finished Job with ``ttlSecondsAfterFinished`` is deleted
that long (x timing.scale) after its Complete or Failed condition, with its pods.

As Kubernetes' ``ttlafterfinished`` controller: the Job is re-read from the API before the
delete, in case the TTL was changed meanwhile, and deleted with foreground propagation and a
UID precondition, so the garbage collector removes its pods before the Job goes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from controlplane.controllers.base import Controller
from controlplane.controllers.job import conditions as cond
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of, parse_time, split_key
from kemu.v1 import batch_pb2

log = logging.getLogger(__name__)


def needs_cleanup(job: batch_pb2.Job) -> bool:
    return job.spec.HasField("ttl_seconds_after_finished") and cond.is_finished(job)


def time_left(job: batch_pb2.Job, now: float, scale: float) -> float | None:
    """Seconds until the Job expires (<= 0: expired); None when it is not to be cleaned up."""
    if job.metadata.deletion_timestamp or not needs_cleanup(job):
        return None
    finished_at = cond.finish_time(job)
    if not finished_at:
        return None
    return parse_time(finished_at) + job.spec.ttl_seconds_after_finished * scale - now


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    workers = 2

    def __init__(self, context: ControllerContext, clock: Callable[[], float] = time.time):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.scale = timing.scale
        self.clock = clock
        self.jobs = context.informers.informer(batch_pb2.Job)
        self.jobs.add_handler(self._changed, lambda old, new: self._changed(new))

    def _changed(self, job: batch_pb2.Job) -> None:
        if not job.metadata.deletion_timestamp and needs_cleanup(job):
            self.enqueue(key_of(job))

    def _expired(self, job: batch_pb2.Job) -> bool:
        left = time_left(job, self.clock(), self.scale)
        if left is None:
            return False
        if left > 0:
            self.queue.add_after(key_of(job), left)
            return False
        return True

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None or not self._expired(job):
            return
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get(batch_pb2.Job, name, namespace)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return
            raise
        if not self._expired(fresh):
            return
        log.info("cleaning up finished job %s", key)
        try:
            await self.client.delete(batch_pb2.Job, name, namespace,
                                     propagation_policy="Foreground",
                                     precondition_uid=fresh.metadata.uid)
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND:
                raise


@register("ttl-after-finished")
def make_ttl_after_finished_controller(context: ControllerContext) -> Controller:
    return TTLAfterFinishedController(context)
