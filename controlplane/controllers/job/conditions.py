"""Job conditions with Kubernetes' types, reasons and messages.

A Job ends in two steps, as from Kubernetes 1.31: first the interim ``SuccessCriteriaMet`` or
``FailureTarget`` condition, then — once no pod of it is still terminating and every finished
pod is counted — the terminal ``Complete`` or ``Failed`` condition with the same reason and
message. The success reason is ``CompletionsReached`` (Kubernetes 1.33's wording).
"""

from __future__ import annotations

from kemu.api.meta import now_rfc3339
from kemu.v1 import batch_pb2

COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"

BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
MAX_FAILED_INDEXES_EXCEEDED = ("MaxFailedIndexesExceeded",
                               "Job has exceeded the specified maximal number of failed indexes")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
POD_FAILURE_POLICY = "PodFailurePolicy"


def new_condition(kind: str, reason: str, message: str, now: float,
                  status: str = "True") -> batch_pb2.JobCondition:
    stamp = now_rfc3339(now)
    return batch_pb2.JobCondition(type=kind, status=status, reason=reason, message=message,
                                  last_probe_time=stamp, last_transition_time=stamp)


def find(job: batch_pb2.Job, kind: str) -> batch_pb2.JobCondition | None:
    for c in job.status.conditions:
        if c.type == kind:
            return c
    return None


def is_true(job: batch_pb2.Job, kind: str) -> bool:
    c = find(job, kind)
    return c is not None and c.status == "True"


def finished_type(job: batch_pb2.Job) -> str | None:
    """``Complete`` or ``Failed`` when the Job has finished, else None."""
    for c in job.status.conditions:
        if c.type in (COMPLETE, FAILED) and c.status == "True":
            return str(c.type)
    return None


def is_finished(job: batch_pb2.Job) -> bool:
    return finished_type(job) is not None


def finish_time(job: batch_pb2.Job) -> str:
    """The lastTransitionTime of the Complete or Failed condition ("" if not finished)."""
    for c in job.status.conditions:
        if c.type in (COMPLETE, FAILED) and c.status == "True":
            return str(c.last_transition_time)
    return ""


def ensure(job: batch_pb2.Job, kind: str, status: str, reason: str, message: str,
           now: float) -> bool:
    """Set the condition (new, or changed in status, reason or message); a False condition is
    not added where none exists. True when something changed."""
    existing = find(job, kind)
    if existing is not None:
        if (existing.status, existing.reason, existing.message) == (status, reason, message):
            return False
        existing.CopyFrom(new_condition(kind, reason, message, now, status))
        return True
    if status == "False":
        return False
    job.status.conditions.append(new_condition(kind, reason, message, now, status))
    return True
