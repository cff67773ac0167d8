"""The downward API's selectors (fieldRef, resourceFieldRef) in env vars and volumes."""

from __future__ import annotations

import re

from controlplane.apiserver.validation.common import qualified_name
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.v1 import core_pb2

ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                   "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
                   "status.podIPs")
VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name",
                      "metadata.namespace", "metadata.uid")
RESOURCE_FIELD_PATHS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory",
                        "requests.cpu", "requests.ephemeral-storage", "requests.memory")
_HUGEPAGES_PREFIXES = ("requests.hugepages-", "limits.hugepages-")
_SUBSCRIPTED = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")
_CPU_DIVISORS = ("1m", "1")
_BYTE_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")


def validate_object_field_selector(selector: core_pb2.ObjectFieldSelector,
                                   allowed: tuple[str, ...], path: str) -> list[FieldError]:
    if not selector.api_version:
        return [errors.required(f"{path}.apiVersion")]
    if not selector.field_path:
        return [errors.required(f"{path}.fieldPath")]
    if selector.api_version != "v1":
        return [errors.invalid(f"{path}.fieldPath", selector.field_path,
                               f'error converting fieldPath: field label not supported: '
                               f'{selector.field_path} in version "{selector.api_version}"')]
    subscripted = _SUBSCRIPTED.match(selector.field_path)
    if subscripted:
        field, key = subscripted.groups()
        return qualified_name(path, key.lower() if field.endswith("annotations") else key)
    if "[" in selector.field_path:
        field = selector.field_path.split("[", 1)[0]
        return [errors.invalid(path, field, "does not support subscript")]
    if selector.field_path not in allowed:
        return [errors.unsupported(f"{path}.fieldPath", selector.field_path, allowed)]
    return []


def validate_resource_field_selector(selector: core_pb2.ResourceFieldSelector, path: str,
                                     volume: bool) -> list[FieldError]:
    found: list[FieldError] = []
    resource = selector.resource
    if volume and not selector.container_name:
        found.append(errors.required(f"{path}.containerName"))
    elif not resource:
        found.append(errors.required(f"{path}.resource"))
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(_HUGEPAGES_PREFIXES):
        found.append(errors.unsupported(f"{path}.resource", resource, RESOURCE_FIELD_PATHS))
    divisor = selector.divisor.value if selector.HasField("divisor") else ""
    if divisor and divisor not in ("0",):
        if resource in ("limits.cpu", "requests.cpu") and divisor not in _CPU_DIVISORS:
            found.append(errors.invalid(f"{path}.divisor", resource, "only divisor's values 1m "
                                        "and 1 are supported with the cpu resource"))
        elif resource in ("limits.memory", "requests.memory") and divisor not in _BYTE_DIVISORS:
            found.append(errors.invalid(
                f"{path}.divisor", resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, "
                "1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
        elif resource in ("limits.ephemeral-storage", "requests.ephemeral-storage") and \
                divisor not in _BYTE_DIVISORS:
            found.append(errors.invalid(
                f"{path}.divisor", resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, "
                "1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage "
                "resource"))
    return found
