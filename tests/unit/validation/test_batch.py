"""Job and CronJob validation, the generated Job selector, and cron schedule parsing."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.apiserver.validation.cron import CronError, parse_schedule
from kemu.api import codec
from tests.unit.validation.helpers import container, create, fields, rendered, update, valid

pytestmark = pytest.mark.unit


def job(name: str = "work", restart: str | None = "Never", **spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [container()]}
    if restart:
        pod_spec["restartPolicy"] = restart
    return {"metadata": {"name": name}, "spec": {"template": {"spec": pod_spec}, **spec}}


def cron_job(name: str = "nightly", schedule: str = "0 3 * * *", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "schedule": schedule, "jobTemplate": {"spec": job()["spec"]}, **spec}}


def errors_of(kind: str, document: dict[str, Any]) -> list[str]:
    return rendered(create(kind, document)[1])


def test_job_restart_policy_defaults_to_always_and_is_rejected() -> None:
    assert errors_of("Job", job(restart=None)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
        '"OnFailure", "Never"']


@pytest.mark.parametrize(("spec", "expected"), [
    ({"parallelism": -1}, "spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
    ({"completions": -2}, "spec.completions: Invalid value: -2: must be greater than or equal to 0"),
    ({"backoffLimit": -1}, "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"),
    ({"activeDeadlineSeconds": -1},
     "spec.activeDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"),
    ({"ttlSecondsAfterFinished": -1},
     "spec.ttlSecondsAfterFinished: Invalid value: -1: must be greater than or equal to 0"),
    ({"completionMode": "Sometimes"},
     'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", '
     '"Indexed"'),
    ({"completionMode": "Indexed", "parallelism": 2},
     "spec.completions: Required value: when completion mode is Indexed"),
    ({"backoffLimitPerIndex": 1, "completions": 2},
     "spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode"),
    ({"podReplacementPolicy": "Never"},
     'spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", '
     '"TerminatingOrFailed"'),
])
def test_job_spec_rules(spec: dict[str, Any], expected: str) -> None:
    assert expected in errors_of("Job", job(**spec))


def test_pod_failure_policy_needs_restart_policy_never() -> None:
    found = errors_of("Job", job(restart="OnFailure", podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}))
    assert found == ['spec.template.spec.restartPolicy: Invalid value: "OnFailure": only '
                     '"Never" is supported when podFailurePolicy is specified']
    bad = errors_of("Job", job(podFailurePolicy={"rules": [{"action": "Retry"}]}))
    assert 'spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry": supported ' \
           'values: "Count", "FailIndex", "FailJob", "Ignore"' in bad


def test_user_selector_without_manual_selector_is_rejected() -> None:
    document = job(selector={"matchLabels": {"app": "batch"}})
    document["spec"]["template"]["metadata"] = {"labels": {"app": "batch"}}
    obj, found = create("Job", document)
    assert fields(found) == ["spec.selector"]
    assert rendered(found)[0].endswith(": `selector` not auto-generated")
    assert dict(obj.spec.selector.match_labels) == {
        "app": "batch", "batch.kubernetes.io/controller-uid": obj.metadata.uid}


def test_conflicting_generated_labels_are_rejected() -> None:
    document = job()
    document["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    found = rendered(create("Job", document)[1])
    assert found[0].startswith("spec.template.metadata.labels[job-name]: Invalid value: {")
    assert found[0].endswith(": must be 'work'")


def test_long_job_names_break_the_job_name_label() -> None:
    found = rendered(create("Job", job(name="j" * 64))[1])
    assert any(e.startswith("spec.template.labels: Invalid value:") and
               "must be no more than 63 characters" in e for e in found)


def test_job_updates() -> None:
    old = valid("Job", job(completions=3))
    changed = codec.decode(type(old), codec.encode(old))
    changed.spec.completions = 4
    changed.spec.template.spec.containers[0].image = "other"
    found = rendered(update("Job", changed, old)[1])
    assert "spec.completions: Invalid value: 4: field is immutable" in found
    assert any(e.startswith("spec.template: Invalid value: {") and e.endswith("field is immutable")
               for e in found)
    parallel = codec.decode(type(old), codec.encode(old))
    parallel.spec.parallelism = 3
    parallel.spec.active_deadline_seconds = 100
    assert update("Job", parallel, old)[1] == []


def test_suspended_jobs_may_change_scheduling_directives() -> None:
    old = valid("Job", job(suspend=True))
    moved = codec.decode(type(old), codec.encode(old))
    moved.spec.template.spec.node_selector["zone"] = "b"
    moved.spec.template.spec.tolerations.add(key="k", operator="Exists")
    moved.spec.template.metadata.annotations["note"] = "x"
    assert update("Job", moved, old)[1] == []
    moved.spec.template.spec.containers[0].image = "other"
    assert fields(update("Job", moved, old)[1]) == ["spec.template"]
    running = valid("Job", job())
    nudged = codec.decode(type(running), codec.encode(running))
    nudged.spec.template.spec.node_selector["zone"] = "b"
    assert fields(update("Job", nudged, running)[1]) == ["spec.template"]


def test_job_selector_is_immutable_with_manual_selector() -> None:
    document = job(manualSelector=True, selector={"matchLabels": {"app": "batch"}})
    document["spec"]["template"]["metadata"] = {"labels": {"app": "batch", "v": "1"}}
    old = valid("Job", document)
    changed = codec.decode(type(old), codec.encode(old))
    changed.spec.selector.match_labels["v"] = "1"
    assert rendered(update("Job", changed, old)[1]) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"batch","v":"1"}}: field is '
        "immutable"]


@pytest.mark.parametrize("schedule", [
    "* * * * *", "*/5 * * * *", "0 0 1 1 *", "0 9-17/2 * * mon-fri", "30 4 1,15 * ?",
    "0 0 * JAN,jul sun", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
    "@hourly", "@every 1h30m", "59 23 31 12 6"])
def test_valid_schedules(schedule: str) -> None:
    parse_schedule(schedule)
    valid("CronJob", cron_job(schedule=schedule))


@pytest.mark.parametrize(("schedule", "message"), [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* 24 * * *", "end of range (24) above maximum (23): 24"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * 13 *", "end of range (13) above maximum (12): 13"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("", "empty spec string"),
])
def test_invalid_schedules(schedule: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_schedule(schedule)
    assert str(caught.value) == message


def test_cron_job_schedule_errors() -> None:
    assert errors_of("CronJob", cron_job(schedule="61 * * * *")) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']
    assert errors_of("CronJob", cron_job(schedule="")) == ["spec.schedule: Required value"]
    assert errors_of("CronJob", cron_job(schedule="TZ=Europe/Paris 0 3 * * *")) == [
        'spec.schedule: Invalid value: "TZ=Europe/Paris 0 3 * * *": cannot use TZ or CRON_TZ '
        "in schedule, use timeZone field instead"]


def test_cron_job_time_zone_concurrency_and_history() -> None:
    valid("CronJob", cron_job(timeZone="Europe/Paris"))
    assert errors_of("CronJob", cron_job(timeZone="Mars/Olympus")) == [
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    assert errors_of("CronJob", cron_job(timeZone="Local")) == [
        'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as '
        "defined in https://www.iana.org/time-zones"]
    assert errors_of("CronJob", cron_job(concurrencyPolicy="Queue")) == [
        'spec.concurrencyPolicy: Unsupported value: "Queue": supported values: "Allow", '
        '"Forbid", "Replace"']
    assert errors_of("CronJob", cron_job(successfulJobsHistoryLimit=-1)) == [
        "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"]
    assert errors_of("CronJob", cron_job(startingDeadlineSeconds=-5)) == [
        "spec.startingDeadlineSeconds: Invalid value: -5: must be greater than or equal to 0"]


def test_cron_job_template_rules() -> None:
    document = cron_job()
    document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert errors_of("CronJob", document) == [
        'spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": '
        'supported values: "OnFailure", "Never"']
    document = cron_job()
    document["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert errors_of("CronJob", document) == [
        'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` '
        "will be auto-generated"]


def test_cron_job_names_at_most_52_characters_on_create_only() -> None:
    name = "c" * 53
    assert errors_of("CronJob", cron_job(name=name)) == [
        f'metadata.name: Invalid value: "{name}": must be no more than 52 characters']
    valid("CronJob", cron_job(name="c" * 52))
    stored, _ = create("CronJob", cron_job(name=name))
    again = codec.decode(type(stored), codec.encode(stored))
    again.spec.suspend = True
    assert update("CronJob", again, stored)[1] == []
