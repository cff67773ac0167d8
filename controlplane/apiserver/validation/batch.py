"""Jobs and CronJobs, after pkg/apis/batch/validation.

Jobs: counts, completion modes, pod failure policy, the generated selector and labels, and what
may change on update (the template only while suspended and never started, and then only its
scheduling directives and metadata). CronJobs: the schedule, time zone, concurrency policy,
history limits and the job template.
"""

from __future__ import annotations

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.cron import CronError, parse_schedule
from controlplane.apiserver.validation.meta import validate_annotations, validate_labels
from controlplane.apiserver.validation.pod import validate_pod_template
from controlplane.apiserver.validation.selectors import SELECTOR_MISMATCH, validate_label_selector
from controlplane.apiserver.validation.zones import zone_problem
from kemu.api import errors, labels
from kemu.api.errors import FieldError
from kemu.v1 import batch_pb2, core_pb2

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
JOB_RESTART_POLICIES = ("OnFailure", "Never")
COMPLETION_MODES = ("NonIndexed", "Indexed")
REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")
FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
MAX_INDEXED_PARALLELISM = 100_000
CRONJOB_NAME_MAX = 52


def _optional_nonnegative(spec: batch_pb2.JobSpec, field: str, json: str,
                          path: str) -> list[FieldError]:
    if spec.HasField(field):
        return common.nonnegative(f"{path}.{json}", getattr(spec, field))
    return []


def _failure_policy(spec: batch_pb2.JobSpec, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    at = f"{path}.podFailurePolicy"
    for i, rule in enumerate(spec.pod_failure_policy.rules):
        item = f"{at}.rules[{i}]"
        if rule.action not in FAILURE_ACTIONS:
            found.append(errors.unsupported(f"{item}.action", rule.action, FAILURE_ACTIONS))
        elif rule.action == "FailIndex" and not spec.HasField("backoff_limit_per_index"):
            found.append(errors.forbidden(f"{item}.action",
                                          "requires the backoffLimitPerIndex to be set"))
        has_codes = rule.HasField("on_exit_codes")
        if has_codes and rule.on_pod_conditions:
            found.append(errors.invalid(item, common.message_json(rule), "specifying both "
                                        "OnExitCodes and OnPodConditions is not supported"))
        elif not has_codes and not rule.on_pod_conditions:
            found.append(errors.invalid(item, common.message_json(rule), "specifying one of "
                                        "OnExitCodes and OnPodConditions is required"))
        if has_codes:
            codes = rule.on_exit_codes
            if codes.operator not in ("In", "NotIn"):
                found.append(errors.unsupported(f"{item}.onExitCodes.operator", codes.operator,
                                                ("In", "NotIn")))
            if not codes.values:
                found.append(errors.required(f"{item}.onExitCodes.values",
                                             "at least one value is required"))
            if codes.operator == "In" and 0 in codes.values:
                found.append(errors.invalid(f"{item}.onExitCodes.values", 0,
                                            "must not be 0 for the In operator"))
        for j, pattern in enumerate(rule.on_pod_conditions):
            found.extend(common.qualified_name(f"{item}.onPodConditions[{j}].type", pattern.type))
            if pattern.status not in ("True", "False", "Unknown"):
                found.append(errors.unsupported(f"{item}.onPodConditions[{j}].status",
                                                pattern.status, ("False", "True", "Unknown")))
    if spec.template.spec.restart_policy != "Never":
        found.append(errors.invalid(f"{path}.template.spec.restartPolicy",
                                    spec.template.spec.restart_policy,
                                    'only "Never" is supported when podFailurePolicy is '
                                    "specified"))
    return found


def validate_job_spec(spec: batch_pb2.JobSpec, path: str) -> list[FieldError]:
    """validateJobSpec: everything but the selector (a job template has none)."""
    found: list[FieldError] = []
    for field, json in (("parallelism", "parallelism"), ("completions", "completions"),
                        ("active_deadline_seconds", "activeDeadlineSeconds"),
                        ("backoff_limit", "backoffLimit"),
                        ("ttl_seconds_after_finished", "ttlSecondsAfterFinished")):
        found.extend(_optional_nonnegative(spec, field, json, path))
    indexed = spec.HasField("completion_mode") and spec.completion_mode == "Indexed"
    if spec.HasField("backoff_limit_per_index"):
        found.extend(common.nonnegative(f"{path}.backoffLimitPerIndex",
                                        spec.backoff_limit_per_index))
        if not indexed:
            found.append(errors.forbidden(f"{path}.backoffLimitPerIndex",
                                          "requires indexed completion mode"))
    if spec.HasField("max_failed_indexes"):
        found.extend(common.nonnegative(f"{path}.maxFailedIndexes", spec.max_failed_indexes))
        if not spec.HasField("backoff_limit_per_index"):
            found.append(errors.required(f"{path}.backoffLimitPerIndex",
                                         "when maxFailedIndexes is specified"))
        if spec.HasField("completions") and spec.max_failed_indexes > spec.completions:
            found.append(errors.invalid(f"{path}.maxFailedIndexes", spec.max_failed_indexes,
                                        "must be less than or equal to completions"))
    if spec.HasField("completion_mode"):
        if spec.completion_mode not in COMPLETION_MODES:
            found.append(errors.unsupported(f"{path}.completionMode", spec.completion_mode,
                                            COMPLETION_MODES))
        if indexed:
            if not spec.HasField("completions"):
                found.append(errors.required(f"{path}.completions",
                                             "when completion mode is Indexed"))
            if spec.HasField("parallelism") and spec.parallelism > MAX_INDEXED_PARALLELISM:
                found.append(errors.invalid(
                    f"{path}.parallelism", spec.parallelism,
                    f"must be less than or equal to {MAX_INDEXED_PARALLELISM} when completion "
                    "mode is Indexed"))
    if spec.HasField("pod_replacement_policy"):
        allowed = ("Failed",) if spec.HasField("pod_failure_policy") else REPLACEMENT_POLICIES
        if spec.pod_replacement_policy not in allowed:
            found.append(errors.unsupported(f"{path}.podReplacementPolicy",
                                            spec.pod_replacement_policy, allowed))
    if spec.HasField("pod_failure_policy"):
        found.extend(_failure_policy(spec, path))
    found.extend(validate_pod_template(spec.template, f"{path}.template"))
    policy = spec.template.spec.restart_policy
    if policy not in JOB_RESTART_POLICIES:
        found.append(errors.unsupported(f"{path}.template.spec.restartPolicy", policy,
                                        JOB_RESTART_POLICIES))
    return found


def _has_label(template: core_pb2.PodTemplateSpec, key: str, expected: str) -> list[FieldError]:
    path = f"spec.template.metadata.labels[{key}]"
    actual = template.metadata.labels.get(key)
    if actual is None:
        return [errors.required(path, f"must be '{expected}'")]
    if actual != expected:
        return [errors.invalid(path, dict(template.metadata.labels), f"must be '{expected}'")]
    return []


def _generated_selector(job: batch_pb2.Job) -> list[FieldError]:
    if (job.spec.HasField("manual_selector") and job.spec.manual_selector) or \
            not job.spec.HasField("selector"):
        return []
    found: list[FieldError] = []
    uid, name, template = job.metadata.uid, job.metadata.name, job.spec.template
    if not uid:
        found.append(errors.required("metadata.uid"))
    for key, expected in ((LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name),
                          (CONTROLLER_UID, uid), (JOB_NAME, name)):
        found.extend(_has_label(template, key, expected))
    try:
        selector = labels.from_label_selector(job.spec.selector)
    except labels.SelectorError:
        return found
    if not selector.matches({CONTROLLER_UID: uid, JOB_NAME: name}):
        found.append(errors.invalid("spec.selector", common.message_json(job.spec.selector),
                                    "`selector` not auto-generated"))
    return found


def _job_selector(spec: batch_pb2.JobSpec) -> list[FieldError]:
    if not spec.HasField("selector"):
        return [errors.required("spec.selector")]
    found = validate_label_selector(spec.selector, "spec.selector")
    try:
        selector = labels.from_label_selector(spec.selector)
    except labels.SelectorError:
        return found
    if not selector.matches(spec.template.metadata.labels):
        found.append(errors.invalid("spec.template.metadata.labels",
                                    dict(spec.template.metadata.labels), SELECTOR_MISMATCH))
    return found


def validate_job(job: batch_pb2.Job) -> list[FieldError]:
    found = _generated_selector(job)
    found.extend(validate_job_spec(job.spec, "spec"))
    found.extend(_job_selector(job.spec))
    return found


def _suspended_and_never_started(job: batch_pb2.Job) -> bool:
    return job.spec.HasField("suspend") and job.spec.suspend and not job.status.start_time


def _template_update(new: batch_pb2.Job, old: batch_pb2.Job) -> list[FieldError]:
    template = new.spec.template
    before = core_pb2.PodTemplateSpec()
    before.CopyFrom(old.spec.template)
    if _suspended_and_never_started(old):
        if template.spec.HasField("affinity"):
            before.spec.affinity.node_affinity.CopyFrom(template.spec.affinity.node_affinity)
            if not template.spec.affinity.HasField("node_affinity"):
                before.spec.affinity.ClearField("node_affinity")
        elif before.spec.HasField("affinity"):
            before.spec.affinity.ClearField("node_affinity")
            if before.spec.affinity == core_pb2.Affinity():
                before.spec.ClearField("affinity")
        before.spec.node_selector.clear()
        before.spec.node_selector.update(template.spec.node_selector)
        del before.spec.tolerations[:]
        before.spec.tolerations.extend(template.spec.tolerations)
        before.metadata.labels.clear()
        before.metadata.labels.update(template.metadata.labels)
        before.metadata.annotations.clear()
        before.metadata.annotations.update(template.metadata.annotations)
    return common.immutable("spec.template", template, before, common.message_json(template))


def validate_job_update(new: batch_pb2.Job, old: batch_pb2.Job) -> list[FieldError]:
    spec, was = new.spec, old.spec
    found = validate_job_spec(spec, "spec")
    found.extend(_job_selector(spec))
    elastic = spec.completion_mode == "Indexed" and spec.HasField("completions") and \
        spec.HasField("parallelism") and spec.completions == spec.parallelism
    if not elastic and (spec.HasField("completions"), spec.completions) != \
            (was.HasField("completions"), was.completions):
        found.append(errors.invalid("spec.completions",
                                    spec.completions if spec.HasField("completions") else None,
                                    common.IMMUTABLE))
    found.extend(common.immutable("spec.selector", spec.selector, was.selector,
                                  common.message_json(spec.selector)))
    found.extend(_template_update(new, old))
    found.extend(common.immutable("spec.completionMode", spec.completion_mode,
                                  was.completion_mode))
    found.extend(common.immutable("spec.podFailurePolicy", spec.pod_failure_policy,
                                  was.pod_failure_policy,
                                  common.message_json(spec.pod_failure_policy)))
    if (spec.HasField("backoff_limit_per_index"), spec.backoff_limit_per_index) != \
            (was.HasField("backoff_limit_per_index"), was.backoff_limit_per_index):
        found.append(errors.invalid("spec.backoffLimitPerIndex", spec.backoff_limit_per_index,
                                    common.IMMUTABLE))
    return found


def validate_job_status(status: batch_pb2.JobStatus) -> list[FieldError]:
    found: list[FieldError] = []
    for field, json in (("active", "active"), ("succeeded", "succeeded"), ("failed", "failed"),
                        ("ready", "ready"), ("terminating", "terminating")):
        found.extend(common.nonnegative(f"status.{json}", getattr(status, field)))
    return found


# -- CronJob ---------------------------------------------------------------------------------

def _schedule(spec: batch_pb2.CronJobSpec, old: batch_pb2.CronJobSpec | None) -> list[FieldError]:
    path = "spec.schedule"
    if not spec.schedule:
        return [errors.required(path)]
    found: list[FieldError] = []
    try:
        parse_schedule(spec.schedule)
    except CronError as exc:
        found.append(errors.invalid(path, spec.schedule, str(exc)))
    tz_allowed = old is not None and "TZ" in old.schedule
    if tz_allowed and "TZ" in spec.schedule and spec.HasField("time_zone"):
        found.append(errors.invalid(path, spec.schedule, "cannot use both timeZone field and "
                                                         "TZ or CRON_TZ in schedule"))
    elif not tz_allowed and "TZ" in spec.schedule:
        found.append(errors.invalid(path, spec.schedule, "cannot use TZ or CRON_TZ in schedule, "
                                                         "use timeZone field instead"))
    return found


def _time_zone(spec: batch_pb2.CronJobSpec) -> list[FieldError]:
    if not spec.HasField("time_zone"):
        return []
    path, zone = "spec.timeZone", spec.time_zone
    if not zone:
        return [errors.invalid(path, zone, "timeZone must be nil or non-empty string")]
    if zone.lower() == "local":
        return [errors.invalid(path, zone, "timeZone must be an explicit time zone as defined "
                                           "in https://www.iana.org/time-zones")]
    problem = zone_problem(zone)
    return [errors.invalid(path, zone, problem)] if problem else []


def validate_cron_job_spec(spec: batch_pb2.CronJobSpec,
                           old: batch_pb2.CronJobSpec | None) -> list[FieldError]:
    found = _schedule(spec, old)
    if spec.HasField("starting_deadline_seconds"):
        found.extend(common.nonnegative("spec.startingDeadlineSeconds",
                                        spec.starting_deadline_seconds))
    if old is None or (old.HasField("time_zone"), old.time_zone) != \
            (spec.HasField("time_zone"), spec.time_zone):
        found.extend(_time_zone(spec))
    found.extend(common.supported("spec.concurrencyPolicy", spec.concurrency_policy,
                                  CONCURRENCY_POLICIES))
    template = spec.job_template
    found.extend(validate_labels(template.metadata.labels, "spec.jobTemplate.metadata.labels"))
    found.extend(validate_annotations(template.metadata.annotations,
                                      "spec.jobTemplate.metadata.annotations"))
    found.extend(validate_job_spec(template.spec, "spec.jobTemplate.spec"))
    if template.spec.HasField("selector"):
        found.append(errors.invalid("spec.jobTemplate.spec.selector",
                                    common.message_json(template.spec.selector),
                                    "`selector` will be auto-generated"))
    if template.spec.HasField("manual_selector") and template.spec.manual_selector:
        found.append(errors.unsupported("spec.jobTemplate.spec.manualSelector", True,
                                        ("nil", "false")))
    for field, json in (("successful_jobs_history_limit", "successfulJobsHistoryLimit"),
                        ("failed_jobs_history_limit", "failedJobsHistoryLimit")):
        if spec.HasField(field):
            found.extend(common.nonnegative(f"spec.{json}", getattr(spec, field)))
    return found


def validate_cron_job(cron_job: batch_pb2.CronJob) -> list[FieldError]:
    found = validate_cron_job_spec(cron_job.spec, None)
    name = cron_job.metadata.name
    if len(name) > CRONJOB_NAME_MAX:
        found.append(errors.invalid("metadata.name", name,
                                    f"must be no more than {CRONJOB_NAME_MAX} characters"))
    return found
