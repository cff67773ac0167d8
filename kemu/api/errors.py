"""Errors shaped like Kubernetes' field errors and API status errors.

A ``FieldError`` names a field path and renders the way ``k8s.io/apimachinery`` does
(``spec.replicas: Invalid value: -1: must be greater than or equal to 0``); an ``ApiError``
carries a status code, a reason and the field causes, and is what every API call raises.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class Code(enum.IntEnum):
    """Status codes; the values are gRPC's so they travel unchanged."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class Reason(enum.StrEnum):
    """metav1.StatusReason values used by kemu."""

    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    INVALID = "Invalid"
    BAD_REQUEST = "BadRequest"
    FORBIDDEN = "Forbidden"
    GONE = "Expired"
    TOO_LARGE = "RequestEntityTooLarge"
    INTERNAL = "InternalError"
    UNAVAILABLE = "ServiceUnavailable"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"


class FieldErrorType(enum.StrEnum):
    REQUIRED = "Required value"
    INVALID = "Invalid value"
    UNSUPPORTED = "Unsupported value"
    DUPLICATE = "Duplicate value"
    FORBIDDEN = "Forbidden"
    TOO_LONG = "Too long"
    TOO_MANY = "Too many"
    NOT_FOUND = "Not found"


# metav1.CauseType of each field error type, as a Status's causes carry it.
CAUSE_TYPES = {
    FieldErrorType.REQUIRED: "FieldValueRequired",
    FieldErrorType.INVALID: "FieldValueInvalid",
    FieldErrorType.UNSUPPORTED: "FieldValueNotSupported",
    FieldErrorType.DUPLICATE: "FieldValueDuplicate",
    FieldErrorType.FORBIDDEN: "FieldValueForbidden",
    FieldErrorType.TOO_LONG: "FieldValueTooLong",
    FieldErrorType.TOO_MANY: "FieldValueTooMany",
    FieldErrorType.NOT_FOUND: "FieldValueNotFound",
}

_OMIT = object()


def render_value(value: Any) -> str:
    """Render a bad value the way Kubernetes prints it in a field error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class FieldError:
    type: FieldErrorType
    field: str
    detail: str = ""
    value: Any = _OMIT

    def __str__(self) -> str:
        parts = [f"{self.field}: {self.type.value}"] if self.field else [self.type.value]
        if self.type in (FieldErrorType.REQUIRED, FieldErrorType.FORBIDDEN, FieldErrorType.TOO_LONG,
                         FieldErrorType.TOO_MANY) or self.value is _OMIT:
            head = ": ".join(parts)
            return f"{head}: {self.detail}" if self.detail else head
        parts.append(render_value(self.value))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(FieldErrorType.REQUIRED, path, detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(FieldErrorType.INVALID, path, detail, value)


def unsupported(path: str, value: Any, supported: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
    return FieldError(FieldErrorType.UNSUPPORTED, path, detail, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(FieldErrorType.FORBIDDEN, path, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(FieldErrorType.DUPLICATE, path, "", value)


def too_long(path: str, limit: int, unit: str = "bytes") -> FieldError:
    return FieldError(FieldErrorType.TOO_LONG, path, f"must have at most {limit} {unit}")


def too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError(FieldErrorType.TOO_MANY, path, f"must have at most {limit} items", actual)


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(FieldErrorType.NOT_FOUND, path, "", value)


@dataclass(frozen=True)
class StatusCause:
    reason: str
    message: str
    field: str


@dataclass
class ApiError(Exception):
    """An API call failed. ``code`` is the transport code, ``reason`` Kubernetes' reason."""

    code: Code
    reason: str
    message: str
    causes: list[StatusCause] = field(default_factory=list)
    kind: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.causes]


def not_found_error(resource: str, name: str) -> ApiError:
    return ApiError(Code.NOT_FOUND, Reason.NOT_FOUND.value, f'{resource} "{name}" not found',
                    name=name)


def already_exists_error(resource: str, name: str) -> ApiError:
    return ApiError(Code.ALREADY_EXISTS, Reason.ALREADY_EXISTS.value,
                    f'{resource} "{name}" already exists', name=name)


def conflict_error(resource: str, name: str, detail: str) -> ApiError:
    return ApiError(Code.ABORTED, Reason.CONFLICT.value,
                    f'Operation cannot be fulfilled on {resource} "{name}": {detail}', name=name)


def too_old_error(detail: str) -> ApiError:
    return ApiError(Code.OUT_OF_RANGE, Reason.GONE.value, f"too old resource version: {detail}")


def bad_request(message: str) -> ApiError:
    return ApiError(Code.INVALID_ARGUMENT, Reason.BAD_REQUEST.value, message)


def forbidden_error(message: str) -> ApiError:
    return ApiError(Code.PERMISSION_DENIED, Reason.FORBIDDEN.value, message)


def invalid_error(kind_qualified: str, name: str, errors: Iterable[FieldError]) -> ApiError:
    """``Deployment.apps "web" is invalid: spec.replicas: Invalid value: ...``."""
    errs = list(errors)
    rendered = [str(e) for e in errs]
    body = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    causes = [StatusCause(reason=CAUSE_TYPES[e.type], message=str(e), field=e.field)
              for e in errs]
    return ApiError(Code.INVALID_ARGUMENT, Reason.INVALID.value,
                    f'{kind_qualified} "{name}" is invalid: {body}', causes, name=name)
