"""Container resource requirements: resource names, quantity syntax, and requests <= limits.

Resources that cannot be overcommitted (hugepages, extended resources such as
``example.com/gpu``) need a limit equal to their request, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from controlplane.apiserver.validation import common
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import qualified_name_problems
from kemu.v1 import meta_pb2

STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STANDARD_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "storage", "pods", "services",
    "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    "requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage"})


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-") or name.startswith("requests.hugepages-")


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    if is_native(name) or name.startswith("requests."):
        return False
    return not qualified_name_problems("requests." + name)


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def container_resource_name(name: str, path: str) -> list[FieldError]:
    problems = qualified_name_problems(name)
    if problems:
        return common.invalid_each(path, name, problems)
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not is_hugepages(name):
            return [errors.invalid(path, name, "must be a standard resource type or fully "
                                               "qualified")]
        if name not in STANDARD_CONTAINER_RESOURCES and not is_hugepages(name):
            return [errors.invalid(path, name, "must be a standard resource for containers")]
    elif not is_native(name) and not is_extended(name):
        return [errors.invalid(path, name, "doesn't follow extended resource name standard")]
    return []


def _amounts(resources: Mapping[str, meta_pb2.Quantity], path: str,
             found: list[FieldError]) -> dict[str, Fraction]:
    amounts: dict[str, Fraction] = {}
    for name in sorted(resources):
        at = f"{path}[{name}]"
        found.extend(container_resource_name(name, at))
        text = resources[name].value
        value, problems = common.quantity(at, text)
        found.extend(problems)
        if value is None:
            continue
        if is_extended(name) and value.denominator != 1:
            found.append(errors.invalid(at, text, "must be an integer"))
        amounts[name] = value
    return amounts


def validate_resource_requirements(limits: Mapping[str, meta_pb2.Quantity],
                                   requests: Mapping[str, meta_pb2.Quantity],
                                   path: str) -> list[FieldError]:
    found: list[FieldError] = []
    limit_values = _amounts(limits, f"{path}.limits", found)
    request_values = _amounts(requests, f"{path}.requests", found)
    for name in sorted(requests):
        if name not in request_values:
            continue
        request = request_values[name]
        shown = requests[name].value
        if name in limit_values:
            limit = limit_values[name]
            if request != limit and not overcommit_allowed(name):
                found.append(errors.invalid(f"{path}.requests", shown,
                                            f"must be equal to {name} limit of {limits[name].value}"))
            elif request > limit:
                found.append(errors.invalid(
                    f"{path}.requests", shown,
                    f"must be less than or equal to {name} limit of {limits[name].value}"))
        elif not overcommit_allowed(name) and name not in limits:
            found.append(errors.required(f"{path}.limits",
                                         "Limit must be set for non overcommitable resources"))
    has_cpu_or_memory = any(n in ("cpu", "memory") for n in [*limits, *requests])
    if not has_cpu_or_memory and any(is_hugepages(n) for n in [*limits, *requests]):
        found.append(errors.forbidden(path, "HugePages require cpu or memory"))
    return found
