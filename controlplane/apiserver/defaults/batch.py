"""Job and CronJob defaults, after pkg/apis/batch/v1/defaults.go.

A Job that gives neither completions nor parallelism runs one pod once; backoffLimit is 6
(MaxInt32 with a per-index limit); NonIndexed completion; not suspended; pods replaced once
terminating-or-failed (only once failed with a pod failure policy); the Job's labels come from
its template when it has none. The generated selector needs the UID: see the Job strategy.
A CronJob allows concurrent runs, is not suspended, and keeps 3 successful and 1 failed job.
"""

from __future__ import annotations

from controlplane.apiserver.defaults.pod import default_pod_template
from kemu.v1 import batch_pb2

BACKOFF_LIMIT = 6
INT32_MAX = 2**31 - 1


def default_job_spec(spec: batch_pb2.JobSpec) -> None:
    default_pod_template(spec.template)


def default_job(job: batch_pb2.Job) -> None:
    spec = job.spec
    if not spec.HasField("completions") and not spec.HasField("parallelism"):
        spec.completions = 1
        spec.parallelism = 1
    if not spec.HasField("parallelism"):
        spec.parallelism = 1
    if not spec.HasField("backoff_limit"):
        spec.backoff_limit = INT32_MAX if spec.HasField("backoff_limit_per_index") \
            else BACKOFF_LIMIT
    if spec.template.metadata.labels and not job.metadata.labels:
        job.metadata.labels.update(spec.template.metadata.labels)
    if not spec.HasField("completion_mode"):
        spec.completion_mode = "NonIndexed"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if spec.HasField("pod_failure_policy"):
        for rule in spec.pod_failure_policy.rules:
            for pattern in rule.on_pod_conditions:
                if not pattern.status:
                    pattern.status = "True"
    if not spec.HasField("pod_replacement_policy"):
        spec.pod_replacement_policy = "Failed" if spec.HasField("pod_failure_policy") \
            else "TerminatingOrFailed"
    default_job_spec(spec)


def default_cron_job(cron_job: batch_pb2.CronJob) -> None:
    spec = cron_job.spec
    if not spec.concurrency_policy:
        spec.concurrency_policy = "Allow"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if not spec.HasField("successful_jobs_history_limit"):
        spec.successful_jobs_history_limit = 3
    if not spec.HasField("failed_jobs_history_limit"):
        spec.failed_jobs_history_limit = 1
    default_job_spec(spec.job_template.spec)
