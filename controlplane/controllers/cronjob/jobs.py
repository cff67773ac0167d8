"""The Jobs of a CronJob: making one from the template, reading how it ended, ordering them.

A Job is named ``<cronjob>-<scheduled time in minutes since the epoch>``, so one schedule time
can only ever make one Job (the name is the lock). It carries the template's labels and
annotations, the annotation ``batch.kubernetes.io/cronjob-scheduled-timestamp`` (the scheduled
time in RFC 3339, in the CronJob's time zone, else UTC) and the CronJob as controller owner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from controlplane.controllers.cronjob.schedule import load_zone
from controlplane.controllers.events import object_reference
from controlplane.controllers.podcontrol import controller_ref
from kemu.api.meta import parse_time
from kemu.v1 import batch_pb2, meta_pb2

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def job_name(cron_job: batch_pb2.CronJob, scheduled: float) -> str:
    return f"{cron_job.metadata.name}-{int(scheduled // 60)}"


def rfc3339_in(moment: float, zone: dt.tzinfo) -> str:
    """Go's RFC 3339: ``Z`` in UTC, else the numeric offset."""
    local = dt.datetime.fromtimestamp(moment, zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.utcoffset() or dt.timedelta()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def rfc1123z(moment: float) -> str:
    """Go's RFC1123Z in UTC: ``Mon, 02 Jan 2006 15:04:05 +0000``."""
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def job_from_template(cron_job: batch_pb2.CronJob, scheduled: float) -> batch_pb2.Job:
    template = cron_job.spec.job_template
    job = batch_pb2.Job()
    job.metadata.name = job_name(cron_job, scheduled)
    job.metadata.namespace = cron_job.metadata.namespace
    job.metadata.labels.update(template.metadata.labels)
    job.metadata.annotations.update(template.metadata.annotations)
    zone = load_zone(cron_job.spec.time_zone if cron_job.spec.HasField("time_zone") else "")
    job.metadata.annotations[SCHEDULED_TIMESTAMP] = rfc3339_in(scheduled, zone)
    job.metadata.owner_references.append(controller_ref(cron_job))
    job.spec.CopyFrom(template.spec)
    return job


def finished_condition(job: batch_pb2.Job) -> str | None:
    """``Complete`` or ``Failed`` once the Job has finished."""
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return str(c.type)
    return None


def is_finished(job: batch_pb2.Job) -> bool:
    return finished_condition(job) is not None


def is_succeeded(job: batch_pb2.Job) -> bool:
    return any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)


def by_start_time(jobs: Sequence[batch_pb2.Job]) -> list[batch_pb2.Job]:
    """Oldest start first, Jobs without a start time last; names break ties."""
    return sorted(jobs, key=lambda j: (not j.status.start_time,
                                       parse_time(j.status.start_time), j.metadata.name))


def in_active_list(cron_job: batch_pb2.CronJob, uid: str) -> bool:
    return any(ref.uid == uid for ref in cron_job.status.active)


def in_active_list_by_name(cron_job: batch_pb2.CronJob, name: str, namespace: str) -> bool:
    return any(ref.name == name and ref.namespace == namespace for ref in cron_job.status.active)


def remove_from_active_list(cron_job: batch_pb2.CronJob, uid: str) -> None:
    kept = [ref for ref in cron_job.status.active if ref.uid != uid]
    del cron_job.status.active[:]
    cron_job.status.active.extend(kept)


def reference(job: batch_pb2.Job) -> meta_pb2.ObjectReference:
    return object_reference(job)
