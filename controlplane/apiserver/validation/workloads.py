"""The pod controllers' specs: ReplicaSet, ReplicationController, Deployment, DaemonSet,
StatefulSet, and ControllerRevision, after pkg/apis/apps/validation and the core RC rules."""

from __future__ import annotations

import re
from typing import Any

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.pod import (
    TEMPLATE,
    PodSpecOptions,
    only_restart_policy,
    validate_pod_template,
)
from controlplane.apiserver.validation.selectors import SELECTOR_MISMATCH, workload_selector
from controlplane.apiserver.validation.storage import validate_claim_template
from kemu.api import errors, labels
from kemu.api.errors import FieldError
from kemu.v1 import apps_pb2, core_pb2, meta_pb2

_ALWAYS = ("Always",)


def _template(template: core_pb2.PodTemplateSpec, kind: str, path: str = "spec.template",
              options: PodSpecOptions = TEMPLATE) -> list[FieldError]:
    found = validate_pod_template(template, path, options)
    found.extend(only_restart_policy(template, path, _ALWAYS))
    if template.spec.HasField("active_deadline_seconds"):
        found.append(errors.forbidden(f"{path}.spec.activeDeadlineSeconds",
                                      f"activeDeadlineSeconds in {kind} is not Supported"))
    return found


def _selector(spec: Any, kind_word: str) -> list[FieldError]:
    selector = spec.selector if spec.HasField("selector") else None
    return workload_selector(selector, spec.template.metadata.labels, "spec.selector",
                             "spec.template", kind_word)


def _replicas_and_ready(spec: Any) -> list[FieldError]:
    found = common.nonnegative("spec.replicas", spec.replicas)
    found.extend(common.nonnegative("spec.minReadySeconds", spec.min_ready_seconds))
    return found


def _history(spec: Any) -> list[FieldError]:
    if spec.HasField("revision_history_limit"):
        return common.nonnegative("spec.revisionHistoryLimit", spec.revision_history_limit)
    return []


def validate_replica_set(rs: apps_pb2.ReplicaSet) -> list[FieldError]:
    found = _replicas_and_ready(rs.spec)
    found.extend(_selector(rs.spec, "deployment"))
    found.extend(_template(rs.spec.template, "ReplicaSet"))
    return found


def validate_replication_controller(rc: core_pb2.ReplicationController) -> list[FieldError]:
    spec = rc.spec
    found = common.nonnegative("spec.minReadySeconds", spec.min_ready_seconds)
    if not spec.selector:
        found.append(errors.required("spec.selector"))
    found.extend(common.nonnegative("spec.replicas", spec.replicas))
    if spec.selector and not labels.from_labels(spec.selector).matches(spec.template.metadata.labels):
        found.append(errors.invalid("spec.template.metadata.labels",
                                    dict(spec.template.metadata.labels), SELECTOR_MISMATCH))
    if not spec.HasField("template"):
        found.append(errors.required("spec.template"))
    else:
        found.extend(_template(spec.template, "ReplicationController"))
    return found


def _int_or_percent(value: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    if value.WhichOneof("value") == "string_value":
        return [errors.invalid(path, value.string_value, p)
                for p in common.percent_problems(value.string_value)]
    return common.nonnegative(path, value.int_value)


def _amount(value: meta_pb2.IntOrString) -> int:
    """getIntOrPercentValue: the number of a valid percent, the int otherwise (0 if neither)."""
    if value.WhichOneof("value") == "string_value":
        text = value.string_value
        return int(text[:-1]) if re.fullmatch(r"[0-9]+%", text) else 0
    return int(value.int_value)


def _shown(value: meta_pb2.IntOrString) -> Any:
    return value.string_value if value.WhichOneof("value") == "string_value" else value.int_value


def _not_over_100(value: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    text = value.string_value if value.WhichOneof("value") == "string_value" else ""
    if re.fullmatch(r"[0-9]+%", text) and int(text[:-1]) > 100:
        return [errors.invalid(path, text, "must not be greater than 100%")]
    return []


def _deployment_strategy(strategy: apps_pb2.DeploymentStrategy) -> list[FieldError]:
    path = "spec.strategy"
    if strategy.type == "Recreate":
        if strategy.HasField("rolling_update"):
            return [errors.forbidden(f"{path}.rollingUpdate", "may not be specified when "
                                                              "strategy `type` is 'Recreate'")]
        return []
    if strategy.type == "RollingUpdate":
        if not strategy.HasField("rolling_update"):
            return [errors.required(f"{path}.rollingUpdate",
                                    "this should be defaulted and never be nil")]
        rolling = strategy.rolling_update
        at = f"{path}.rollingUpdate"
        found = _int_or_percent(rolling.max_unavailable, f"{at}.maxUnavailable")
        found.extend(_int_or_percent(rolling.max_surge, f"{at}.maxSurge"))
        if _amount(rolling.max_unavailable) == 0 and _amount(rolling.max_surge) == 0:
            found.append(errors.invalid(f"{at}.maxUnavailable", _shown(rolling.max_unavailable),
                                        "may not be 0 when `maxSurge` is 0"))
        found.extend(_not_over_100(rolling.max_unavailable, f"{at}.maxUnavailable"))
        return found
    return [errors.unsupported(path, strategy.type, ("Recreate", "RollingUpdate"))]


def validate_deployment(deployment: apps_pb2.Deployment) -> list[FieldError]:
    spec = deployment.spec
    found = common.nonnegative("spec.replicas", spec.replicas)
    found.extend(_selector(spec, "deployment"))
    found.extend(_template(spec.template, "Deployment"))
    found.extend(_deployment_strategy(spec.strategy))
    found.extend(common.nonnegative("spec.minReadySeconds", spec.min_ready_seconds))
    found.extend(_history(spec))
    if spec.HasField("progress_deadline_seconds"):
        deadline = spec.progress_deadline_seconds
        found.extend(common.nonnegative("spec.progressDeadlineSeconds", deadline))
        if deadline <= spec.min_ready_seconds:
            found.append(errors.invalid("spec.progressDeadlineSeconds", deadline,
                                        "must be greater than minReadySeconds"))
    return found


def _daemon_set_strategy(strategy: apps_pb2.DaemonSetUpdateStrategy) -> list[FieldError]:
    path = "spec.updateStrategy"
    if strategy.type == "OnDelete":
        return []
    if strategy.type != "RollingUpdate":
        return [errors.unsupported(path, strategy.type, ("RollingUpdate", "OnDelete"))]
    if not strategy.HasField("rolling_update"):
        return [errors.required(f"{path}.rollingUpdate")]
    rolling = strategy.rolling_update
    at = f"{path}.rollingUpdate"
    found = _int_or_percent(rolling.max_unavailable, f"{at}.maxUnavailable")
    found.extend(_int_or_percent(rolling.max_surge, f"{at}.maxSurge"))
    found.extend(_not_over_100(rolling.max_unavailable, f"{at}.maxUnavailable"))
    found.extend(_not_over_100(rolling.max_surge, f"{at}.maxSurge"))
    unavailable = _amount(rolling.max_unavailable) != 0
    surge = _amount(rolling.max_surge) != 0
    if unavailable and surge:
        found.append(errors.invalid(f"{at}.maxSurge", _shown(rolling.max_surge),
                                    "may not be set when maxUnavailable is non-zero"))
    elif not unavailable and not surge:
        found.append(errors.required(f"{at}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return found


def validate_daemon_set(ds: apps_pb2.DaemonSet) -> list[FieldError]:
    spec = ds.spec
    found = _selector(spec, "daemonset")
    found.extend(_template(spec.template, "DaemonSet"))
    found.extend(common.nonnegative("spec.minReadySeconds", spec.min_ready_seconds))
    found.extend(_daemon_set_strategy(spec.update_strategy))
    found.extend(_history(spec))
    return found


def _stateful_set_strategy(strategy: apps_pb2.StatefulSetUpdateStrategy) -> list[FieldError]:
    path = "spec.updateStrategy"
    if not strategy.type:
        return [errors.required(path)]
    if strategy.type == "OnDelete":
        if strategy.HasField("rolling_update"):
            return [errors.invalid(f"{path}.rollingUpdate",
                                   common.message_json(strategy.rolling_update),
                                   "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if strategy.type != "RollingUpdate":
        return [errors.invalid(path, common.message_json(strategy),
                               "must be 'RollingUpdate' or 'OnDelete'")]
    if not strategy.HasField("rolling_update"):
        return []
    rolling = strategy.rolling_update
    at = f"{path}.rollingUpdate"
    found = common.nonnegative(f"{at}.partition", rolling.partition)
    if rolling.HasField("max_unavailable"):
        found.extend(_int_or_percent(rolling.max_unavailable, f"{at}.maxUnavailable"))
        if _amount(rolling.max_unavailable) == 0:
            found.append(errors.invalid(f"{at}.maxUnavailable", _shown(rolling.max_unavailable),
                                        "cannot be 0"))
        found.extend(_not_over_100(rolling.max_unavailable, f"{at}.maxUnavailable"))
    return found


def validate_stateful_set(sts: apps_pb2.StatefulSet) -> list[FieldError]:
    spec = sts.spec
    found: list[FieldError] = []
    if not spec.pod_management_policy:
        found.append(errors.required("spec.podManagementPolicy"))
    elif spec.pod_management_policy not in ("OrderedReady", "Parallel"):
        found.append(errors.invalid("spec.podManagementPolicy", spec.pod_management_policy,
                                    "must be 'OrderedReady' or 'Parallel'"))
    found.extend(_stateful_set_strategy(spec.update_strategy))
    if spec.HasField("persistent_volume_claim_retention_policy"):
        policy = spec.persistent_volume_claim_retention_policy
        for field, json in (("when_deleted", "whenDeleted"), ("when_scaled", "whenScaled")):
            value = getattr(policy, field)
            if value not in ("Retain", "Delete"):
                found.append(errors.unsupported(
                    f"spec.persistentVolumeClaimRetentionPolicy.{json}", value,
                    ("Retain", "Delete")))
    found.extend(_replicas_and_ready(spec))
    if spec.HasField("ordinals"):
        found.extend(common.nonnegative("spec.ordinals.start", spec.ordinals.start))
    found.extend(_selector(spec, "statefulset"))
    claims: set[str] = set()
    for i, claim in enumerate(spec.volume_claim_templates):
        found.extend(validate_claim_template(claim, f"spec.volumeClaimTemplates[{i}]"))
        claims.add(claim.metadata.name)
    found.extend(_template(spec.template, "StatefulSet",
                           options=PodSpecOptions(extra_volumes=frozenset(claims))))
    found.extend(_history(spec))
    return found


_STS_MUTABLE = ("replicas", "ordinals", "template", "update_strategy",
                "persistent_volume_claim_retention_policy", "min_ready_seconds")


def validate_stateful_set_update(new: apps_pb2.StatefulSet,
                                 old: apps_pb2.StatefulSet) -> list[FieldError]:
    rest_new, rest_old = apps_pb2.StatefulSetSpec(), apps_pb2.StatefulSetSpec()
    rest_new.CopyFrom(new.spec)
    rest_old.CopyFrom(old.spec)
    for field in _STS_MUTABLE:
        rest_new.ClearField(field)
        rest_old.ClearField(field)
    if rest_new == rest_old:
        return []
    return [errors.forbidden("spec", "updates to statefulset spec for fields other than "
                                     "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                     "'persistentVolumeClaimRetentionPolicy' and "
                                     "'minReadySeconds' are forbidden")]


def validate_controller_revision(revision: apps_pb2.ControllerRevision) -> list[FieldError]:
    found: list[FieldError] = []
    if not revision.HasField("data") or not revision.data.raw:
        found.append(errors.required("data", "data is mandatory"))
    found.extend(common.nonnegative("revision", revision.revision))
    return found


# -- status ----------------------------------------------------------------------------------

def _counts(status: Any, fields: tuple[tuple[str, str], ...]) -> list[FieldError]:
    found: list[FieldError] = []
    for field, json in fields:
        found.extend(common.nonnegative(f"status.{json}", getattr(status, field)))
    return found


def _not_above(status: Any, field: str, json: str, limit_field: str,
               message: str) -> list[FieldError]:
    value = getattr(status, field)
    if value > getattr(status, limit_field):
        return [errors.invalid(f"status.{json}", value, message)]
    return []


def validate_replica_status(status: Any) -> list[FieldError]:
    """ReplicaSet and ReplicationController status."""
    found = _counts(status, (("replicas", "replicas"),
                             ("fully_labeled_replicas", "fullyLabeledReplicas"),
                             ("ready_replicas", "readyReplicas"),
                             ("available_replicas", "availableReplicas"),
                             ("observed_generation", "observedGeneration")))
    above = "cannot be greater than status.replicas"
    found.extend(_not_above(status, "fully_labeled_replicas", "fullyLabeledReplicas", "replicas",
                            above))
    found.extend(_not_above(status, "ready_replicas", "readyReplicas", "replicas", above))
    found.extend(_not_above(status, "available_replicas", "availableReplicas", "replicas", above))
    found.extend(_not_above(status, "available_replicas", "availableReplicas", "ready_replicas",
                            "cannot be greater than readyReplicas"))
    return found


def validate_deployment_status(status: apps_pb2.DeploymentStatus) -> list[FieldError]:
    found = _counts(status, (("observed_generation", "observedGeneration"),
                             ("replicas", "replicas"), ("updated_replicas", "updatedReplicas"),
                             ("ready_replicas", "readyReplicas"),
                             ("available_replicas", "availableReplicas"),
                             ("unavailable_replicas", "unavailableReplicas")))
    if status.HasField("collision_count"):
        found.extend(common.nonnegative("status.collisionCount", status.collision_count))
    above = "cannot be greater than status.replicas"
    found.extend(_not_above(status, "updated_replicas", "updatedReplicas", "replicas", above))
    found.extend(_not_above(status, "ready_replicas", "readyReplicas", "replicas", above))
    found.extend(_not_above(status, "available_replicas", "availableReplicas", "replicas", above))
    found.extend(_not_above(status, "available_replicas", "availableReplicas", "ready_replicas",
                            "cannot be greater than readyReplicas"))
    return found


def validate_daemon_set_status(status: apps_pb2.DaemonSetStatus) -> list[FieldError]:
    found = _counts(status, (("current_number_scheduled", "currentNumberScheduled"),
                             ("number_misscheduled", "numberMisscheduled"),
                             ("desired_number_scheduled", "desiredNumberScheduled"),
                             ("number_ready", "numberReady"),
                             ("observed_generation", "observedGeneration"),
                             ("updated_number_scheduled", "updatedNumberScheduled"),
                             ("number_available", "numberAvailable"),
                             ("number_unavailable", "numberUnavailable")))
    if status.HasField("collision_count"):
        found.extend(common.nonnegative("status.collisionCount", status.collision_count))
    return found


def validate_stateful_set_status(status: apps_pb2.StatefulSetStatus) -> list[FieldError]:
    found = _counts(status, (("replicas", "replicas"), ("ready_replicas", "readyReplicas"),
                             ("current_replicas", "currentReplicas"),
                             ("updated_replicas", "updatedReplicas"),
                             ("available_replicas", "availableReplicas"),
                             ("observed_generation", "observedGeneration")))
    if status.HasField("collision_count"):
        found.extend(common.nonnegative("status.collisionCount", status.collision_count))
    above = "cannot be greater than status.replicas"
    for field, json in (("ready_replicas", "readyReplicas"), ("current_replicas", "currentReplicas"),
                        ("updated_replicas", "updatedReplicas"),
                        ("available_replicas", "availableReplicas")):
        found.extend(_not_above(status, field, json, "replicas", above))
    found.extend(_not_above(status, "available_replicas", "availableReplicas", "ready_replicas",
                            "cannot be greater than status.readyReplicas"))
    return found


def collision_count_not_decremented(new: Any, old: Any) -> list[FieldError]:
    if not old.status.HasField("collision_count"):
        return []
    value = new.status.collision_count if new.status.HasField("collision_count") else 0
    if not new.status.HasField("collision_count") or value < old.status.collision_count:
        return [errors.invalid("status.collisionCount", value, "cannot be decremented")]
    return []
