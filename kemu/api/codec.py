"""Convert between Kubernetes-shaped JSON (dicts from YAML or JSON) and the protobuf messages.

Decoding walks the message descriptor, so every problem is reported with the field path
Kubernetes would use: a wrong type is an error (``spec.replicas: Invalid value: "three":
expected an integer``), an unknown field is a warning (``unknown field "spec.replica"``), as
kubectl does by default. IntOrString, Quantity and RawExtension accept their several JSON forms.
Encoding omits unset and empty fields, the way Kubernetes' ``omitempty`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kemu.api import errors
from kemu.api.quantity import QuantityError, canonical_quantity

M = TypeVar("M", bound=Message)

_INT32 = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32)
_INT64 = (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
          FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32,
          FieldDescriptor.TYPE_FIXED64)
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)

INT_OR_STRING = "kemu.v1.IntOrString"
QUANTITY = "kemu.v1.Quantity"
RAW_EXTENSION = "kemu.v1.RawExtension"

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass
class DecodeResult:
    warnings: list[str] = field(default_factory=list)
    errors: list[errors.FieldError] = field(default_factory=list)


class DecodeError(ValueError):
    """The document does not fit the message; ``errors`` name every bad field."""

    def __init__(self, field_errors: list[errors.FieldError]):
        self.errors = field_errors
        super().__init__("; ".join(str(e) for e in field_errors))


@cache
def _fields_by_json_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    return {f.json_name: f for f in descriptor.fields}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _message_type(fd: FieldDescriptor) -> Descriptor:
    descriptor = fd.message_type
    assert descriptor is not None, fd.full_name
    return descriptor


def decode(message_class: type[M], document: Any, warnings: list[str] | None = None) -> M:
    """Build ``message_class`` from a JSON-shaped document; raise DecodeError on wrong types.

    Unknown fields are appended to ``warnings`` (when given) and otherwise dropped.
    """
    result = DecodeResult()
    message = message_class()
    if not isinstance(document, dict):
        result.errors.append(errors.invalid("<root>", document,
                                            f"expected an object, got {_json_type(document)}"))
    else:
        _decode_into(message, document, "", result)
    if warnings is not None:
        warnings.extend(result.warnings)
    if result.errors:
        raise DecodeError(result.errors)
    return message


def _decode_into(message: Message, document: Mapping[str, Any], path: str,
                 result: DecodeResult) -> None:
    table = _fields_by_json_name(message.DESCRIPTOR)
    for key, value in document.items():
        if not isinstance(key, str):
            result.errors.append(errors.invalid(path or "<root>", key, "object keys must be strings"))
            continue
        fd = table.get(key)
        child_path = _join(path, key)
        if fd is None:
            result.warnings.append(f'unknown field "{child_path}"')
            continue
        if value is None:
            continue
        if _is_map(fd):
            _decode_map(message, fd, value, child_path, result)
        elif fd.is_repeated:
            _decode_list(message, fd, value, child_path, result)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            _decode_message_field(getattr(message, fd.name), fd, value, child_path, result)
        else:
            scalar = _scalar(fd, value, child_path, result)
            if scalar is not None:
                setattr(message, fd.name, scalar)


def _decode_message_field(target: Message, fd: FieldDescriptor, value: Any, path: str,
                          result: DecodeResult) -> None:
    name = _message_type(fd).full_name
    if name in (INT_OR_STRING, QUANTITY, RAW_EXTENSION):
        _decode_special(target, name, value, path, result)
        return
    if not isinstance(value, dict):
        result.errors.append(errors.invalid(path, value, f"expected an object, got {_json_type(value)}"))
        return
    target.SetInParent()
    _decode_into(target, value, path, result)


def _decode_special(target: Message, name: str, value: Any, path: str,
                    result: DecodeResult) -> None:
    if name == INT_OR_STRING:
        if isinstance(value, bool) or not isinstance(value, int | str):
            result.errors.append(errors.invalid(
                path, value, f"expected an integer or a string, got {_json_type(value)}"))
            return
        if isinstance(value, int):
            if not _INT32_MIN <= value <= _INT32_MAX:
                result.errors.append(errors.invalid(path, value, "out of range for int32"))
                return
            target.int_value = value  # type: ignore[attr-defined]
        else:
            target.string_value = value  # type: ignore[attr-defined]
    elif name == QUANTITY:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            result.errors.append(errors.invalid(
                path, value, f"expected a quantity (a string or a number), got {_json_type(value)}"))
            return
        try:
            target.value = canonical_quantity(value)  # type: ignore[attr-defined]
        except QuantityError as exc:
            result.errors.append(errors.invalid(path, value, str(exc)))
    else:
        target.raw = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()  # type: ignore[attr-defined]


def _decode_list(message: Message, fd: FieldDescriptor, value: Any, path: str,
                 result: DecodeResult) -> None:
    if not isinstance(value, list):
        result.errors.append(errors.invalid(path, value, f"expected an array, got {_json_type(value)}"))
        return
    container = getattr(message, fd.name)
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if item is None:
                item = {}
            child = container.add()
            _decode_message_field(child, fd, item, item_path, result)
        else:
            if item is None:
                item = _zero(fd)  # as encoding/json leaves a null element at its zero value
            scalar = _scalar(fd, item, item_path, result)
            if scalar is not None:
                container.append(scalar)


def _decode_map(message: Message, fd: FieldDescriptor, value: Any, path: str,
                result: DecodeResult) -> None:
    if not isinstance(value, dict):
        result.errors.append(errors.invalid(path, value, f"expected an object, got {_json_type(value)}"))
        return
    container = getattr(message, fd.name)
    value_fd = _message_type(fd).fields_by_name["value"]
    for key, item in value.items():
        item_path = f"{path}[{key}]"
        if not isinstance(key, str):
            result.errors.append(errors.invalid(path, key, "map keys must be strings"))
            continue
        if value_fd.type == FieldDescriptor.TYPE_MESSAGE:
            if item is None:
                continue
            _decode_message_field(container[key], value_fd, item, item_path, result)
        else:
            if item is None:
                item = _zero(value_fd)
            scalar = _scalar(value_fd, item, item_path, result)
            if scalar is not None:
                container[key] = scalar


def _zero(fd: FieldDescriptor) -> Any:
    if fd.type == FieldDescriptor.TYPE_STRING:
        return ""
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return False
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return ""
    return 0


def _scalar(fd: FieldDescriptor, value: Any, path: str, result: DecodeResult) -> Any:
    kind = fd.type
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
        result.errors.append(errors.invalid(path, value, f"expected a string, got {_json_type(value)}"))
        return None
    if kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        result.errors.append(errors.invalid(path, value, f"expected a boolean, got {_json_type(value)}"))
        return None
    if kind in _INT32 or kind in _INT64:
        if isinstance(value, bool) or not isinstance(value, int):
            result.errors.append(errors.invalid(path, value, f"expected an integer, got {_json_type(value)}"))
            return None
        low, high = (_INT32_MIN, _INT32_MAX) if kind in _INT32 else (_INT64_MIN, _INT64_MAX)
        if not low <= value <= high:
            bits = "int32" if kind in _INT32 else "int64"
            result.errors.append(errors.invalid(path, value, f"out of range for {bits}"))
            return None
        return value
    if kind in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            result.errors.append(errors.invalid(path, value, f"expected a number, got {_json_type(value)}"))
            return None
        return float(value)
    if kind == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            result.errors.append(errors.invalid(
                path, value, f"expected a base64 string, got {_json_type(value)}"))
            return None
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            result.errors.append(errors.invalid(path, value, "illegal base64 data"))
            return None
    result.errors.append(errors.invalid(path, value, "unsupported field type"))
    return None


def encode(message: Message) -> dict[str, Any]:
    """The JSON form of a message: set fields only, empty collections and zero scalars left out."""
    out: dict[str, Any] = {}
    for fd, value in message.ListFields():
        out[fd.json_name] = _encode_value(fd, value)
    return out


def _encode_value(fd: FieldDescriptor, value: Any) -> Any:
    if _is_map(fd):
        value_fd = _message_type(fd).fields_by_name["value"]
        return {k: _encode_single(value_fd, v) for k, v in sorted(value.items())}
    if fd.is_repeated:
        return [_encode_single(fd, v) for v in value]
    return _encode_single(fd, value)


def _encode_single(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        name = _message_type(fd).full_name
        if name == INT_OR_STRING:
            which = value.WhichOneof("value")
            return value.string_value if which == "string_value" else value.int_value
        if name == QUANTITY:
            return value.value
        if name == RAW_EXTENSION:
            return json.loads(value.raw) if value.raw else None
        return encode(value)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value
