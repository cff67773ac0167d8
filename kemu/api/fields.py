"""Field selectors (``spec.nodeName=node-1,status.phase!=Running``) and the fields each kind
lets clients select on, as Kubernetes defines them per resource."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kemu.api.kinds import Kind


class FieldSelectorError(ValueError):
    pass


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return not equal if self.negate else equal

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{self.value}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def required_value(self, field: str) -> str | None:
        """The value an ``=`` requirement pins ``field`` to, if any (for index look-ups)."""
        for r in self.requirements:
            if r.field == field and not r.negate:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _metadata(obj: Any) -> dict[str, str]:
    return {"metadata.name": obj.metadata.name, "metadata.namespace": obj.metadata.namespace}


def _pod(obj: Any) -> dict[str, str]:
    return {
        **_metadata(obj),
        "spec.nodeName": obj.spec.node_name,
        "spec.restartPolicy": obj.spec.restart_policy,
        "spec.schedulerName": obj.spec.scheduler_name,
        "spec.serviceAccountName": obj.spec.service_account_name,
        "spec.hostNetwork": "true" if obj.spec.host_network else "false",
        "status.phase": obj.status.phase,
        "status.podIP": obj.status.pod_ip,
        "status.nominatedNodeName": obj.status.nominated_node_name,
    }


def _event(obj: Any) -> dict[str, str]:
    ref = obj.involved_object
    return {
        **_metadata(obj),
        "involvedObject.kind": ref.kind, "involvedObject.namespace": ref.namespace,
        "involvedObject.name": ref.name, "involvedObject.uid": ref.uid,
        "involvedObject.apiVersion": ref.api_version,
        "involvedObject.resourceVersion": ref.resource_version,
        "involvedObject.fieldPath": ref.field_path,
        "reason": obj.reason, "reportingComponent": obj.reporting_component,
        "source": obj.source.component, "type": obj.type,
    }


_EXTRACTORS: dict[str, Callable[[Any], dict[str, str]]] = {
    "Pod": _pod,
    "Event": _event,
    "Node": lambda o: {**_metadata(o), "spec.unschedulable": "true" if o.spec.unschedulable else "false"},
    "Namespace": lambda o: {**_metadata(o), "status.phase": o.status.phase},
    "ReplicaSet": lambda o: {**_metadata(o), "status.replicas": str(o.status.replicas)},
    "ReplicationController": lambda o: {**_metadata(o), "status.replicas": str(o.status.replicas)},
    "Job": lambda o: {**_metadata(o), "status.successful": str(o.status.succeeded)},
}


def field_set(kind: Kind, obj: Any) -> dict[str, str]:
    """The selectable fields of ``obj`` and their string values."""
    return _EXTRACTORS.get(kind.name, _metadata)(obj)


def supported_fields(kind: Kind) -> list[str]:
    sample = kind.new()
    return sorted(field_set(kind, sample))


def parse(text: str, kind: Kind) -> FieldSelector:
    """Parse ``a=b,c!=d`` and check every field is selectable on ``kind``."""
    if not text.strip():
        return FieldSelector()
    allowed = supported_fields(kind)
    requirements: list[FieldRequirement] = []
    for term in text.split(","):
        term = term.strip()
        if "!=" in term:
            name, value = term.split("!=", 1)
            negate = True
        elif "==" in term:
            name, value = term.split("==", 1)
            negate = False
        elif "=" in term:
            name, value = term.split("=", 1)
            negate = False
        else:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        name = name.strip()
        if name not in allowed:
            raise FieldSelectorError(
                f'field label not supported: {name} ("{name}" is not a known field selector for '
                f'{kind.plural}: only {", ".join(repr(a) for a in allowed)})')
        requirements.append(FieldRequirement(name, value.strip(), negate))
    return FieldSelector(tuple(requirements))
