"""The small core kinds: Namespaces, Leases and Events."""

from __future__ import annotations

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.meta import finalizer_problems
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems, qualified_name_problems
from kemu.v1 import coordination_pb2, core_pb2

REPORTING_INSTANCE_MAX = 128
ACTION_MAX = 128
REASON_MAX = 128
NOTE_MAX = 1024


def validate_namespace(namespace: core_pb2.Namespace) -> list[FieldError]:
    found: list[FieldError] = []
    for i, name in enumerate(namespace.spec.finalizers):
        found.extend(common.invalid_each(f"spec.finalizers[{i}]", name, finalizer_problems(name)))
    return found


def validate_namespace_status(namespace: core_pb2.Namespace) -> list[FieldError]:
    phase = namespace.status.phase
    if not namespace.metadata.deletion_timestamp:
        if phase != "Active":
            return [errors.invalid("status.Phase", phase,
                                   "may only be 'Active' if `deletionTimestamp` is empty")]
    elif phase != "Terminating":
        return [errors.invalid("status.Phase", phase,
                               "may only be 'Terminating' if `deletionTimestamp` is not empty")]
    return []


def validate_lease(lease: coordination_pb2.Lease) -> list[FieldError]:
    spec = lease.spec
    found: list[FieldError] = []
    if spec.HasField("lease_duration_seconds") and spec.lease_duration_seconds <= 0:
        found.append(errors.invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds,
                                    "must be greater than 0"))
    if spec.HasField("lease_transitions"):
        found.extend(common.nonnegative("spec.leaseTransitions", spec.lease_transitions))
    return found


def validate_event(event: core_pb2.Event) -> list[FieldError]:
    """legacyValidateEvent for core/v1 Events."""
    found: list[FieldError] = []
    involved = event.involved_object.namespace
    namespace = event.metadata.namespace
    mismatch = errors.invalid("involvedObject.namespace", involved, "does not match event.namespace")
    if not event.event_time:
        if (not involved and namespace not in ("", "default")) or (involved and namespace != involved):
            found.append(mismatch)
    else:
        if not involved and namespace not in ("default", "kube-system"):
            found.append(mismatch)
        if not event.reporting_component:
            found.append(errors.required("reportingComponent"))
        found.extend(common.invalid_each("reportingComponent", event.reporting_component,
                                         qualified_name_problems(event.reporting_component)))
        for field, json, limit in (("reporting_instance", "reportingInstance",
                                    REPORTING_INSTANCE_MAX),
                                   ("action", "action", ACTION_MAX),
                                   ("reason", "reason", REASON_MAX)):
            value = getattr(event, field)
            if not value:
                found.append(errors.required(json))
            if len(value) > limit:
                found.append(errors.invalid(json, "", f"can have at most {limit} characters"))
        if len(event.message) > NOTE_MAX:
            found.append(errors.invalid("message", "", f"can have at most {NOTE_MAX} characters"))
    found.extend(common.invalid_each("namespace", namespace, dns1123_subdomain_problems(namespace)))
    return found
