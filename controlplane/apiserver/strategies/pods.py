"""Pods: defaults, validation, what updates may change, a Pending status with a QoS class on
create, binding, and graceful deletion through the kubelet."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from controlplane.apiserver.strategies.validated import ValidatedStrategy
from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.meta import validate_object_meta_update
from controlplane.apiserver.validation.pod import (
    validate_pod,
    validate_pod_status,
    validate_pod_update,
)
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems
from kemu.v1 import core_pb2

DEFAULT_TERMINATION_GRACE_PERIOD = 30
_QOS_RESOURCES = ("cpu", "memory")


def _positive(text: str) -> Fraction | None:
    value = common.parsed_quantity(text)
    return value if isinstance(value, Fraction) and value > 0 else None


def qos_class(pod: core_pb2.Pod) -> str:
    """Guaranteed, Burstable or BestEffort, computed as Kubernetes' qos.ComputePodQOS does."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for container in (*pod.spec.containers, *pod.spec.init_containers):
        for name, quantity in container.resources.requests.items():
            value = _positive(quantity.value) if name in _QOS_RESOURCES else None
            if value is not None:
                requests[name] = requests.get(name, Fraction(0)) + value
        found: set[str] = set()
        for name, quantity in container.resources.limits.items():
            value = _positive(quantity.value) if name in _QOS_RESOURCES else None
            if value is not None:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + value
        if not found >= set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == v for n, v in requests.items()) and \
            len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


class PodStrategy(ValidatedStrategy):
    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.status.phase = "Pending"
        obj.status.qos_class = qos_class(obj)

    def validate_object(self, obj: Any) -> list[FieldError]:
        return validate_pod(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        found = validate_object_meta_update(new.metadata, old.metadata)
        found.extend(super(ValidatedStrategy, self).validate(new))
        found.extend(validate_pod_update(new, old))
        return found

    def validate_raw_update(self, new: Any, old: Any) -> list[FieldError]:
        """Binding: the scheduler sets spec.nodeName, which no user update may do."""
        found = validate_object_meta_update(new.metadata, old.metadata)
        found.extend(common.invalid_each("spec.nodeName", new.spec.node_name,
                                         dns1123_subdomain_problems(new.spec.node_name)))
        return found

    def prepare_for_status_update(self, new: Any, old: Any) -> None:
        super().prepare_for_status_update(new, old)
        if not new.status.qos_class:
            new.status.qos_class = old.status.qos_class

    def validate_status(self, obj: Any) -> list[FieldError]:
        return validate_pod_status(obj)

    def graceful_delete_seconds(self, obj: Any, requested: int | None) -> int:
        # A pod no kubelet runs (unscheduled, or finished) goes at once, as in Kubernetes.
        if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return requested
        if obj.spec.HasField("termination_grace_period_seconds"):
            return int(obj.spec.termination_grace_period_seconds)
        return DEFAULT_TERMINATION_GRACE_PERIOD
