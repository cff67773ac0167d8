"""Turning stored bytes into objects and back, and the checks every stored object passes."""

from __future__ import annotations

import secrets
from typing import Any

from google.protobuf.message import Message

from kemu.api import errors
from kemu.api.errors import ApiError, Code, Reason
from kemu.api.kinds import Kind

# etcd's default request limit; Kubernetes objects cannot be larger either.
MAX_OBJECT_BYTES = 3 * 512 * 1024

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def decode_object(kind: Kind, data: bytes, revision: int) -> Any:
    obj: Any = kind.message.FromString(data)
    obj.metadata.resource_version = str(revision)
    return obj


def encode_object(obj: Any) -> bytes:
    """The stored form: the message without its resourceVersion (the key's revision is it)."""
    meta = obj.metadata
    version = meta.resource_version
    meta.resource_version = ""
    try:
        data: bytes = obj.SerializeToString(deterministic=True)
        return data
    finally:
        meta.resource_version = version


def clone(obj: Any) -> Any:
    copy = type(obj)()
    copy.CopyFrom(obj)
    return copy


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(length))


def _largest_field(message: Message, path: str, depth: int) -> tuple[str, int]:
    best = (path or "<root>", message.ByteSize())
    if depth == 0:
        return best
    biggest: tuple[str, int] = ("", -1)
    for fd, value in message.ListFields():
        child = f"{path}.{fd.json_name}" if path else fd.json_name
        if fd.type == fd.TYPE_MESSAGE and not fd.is_repeated:
            candidate = _largest_field(value, child, depth - 1)
        elif fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            sizes = [(f"{child}[{k}]", len(str(k)) + _entry_size(v)) for k, v in value.items()]
            total = sum(s for _, s in sizes)
            candidate = (child, total)
        elif fd.is_repeated and fd.type == fd.TYPE_MESSAGE:
            candidate = (child, sum(v.ByteSize() for v in value))
        else:
            candidate = (child, len(value) if isinstance(value, str | bytes) else 8)
        if candidate[1] > biggest[1]:
            biggest = candidate
    return biggest if biggest[1] >= 0 else best


def _entry_size(value: Any) -> int:
    if isinstance(value, Message):
        return value.ByteSize()
    return len(value) if isinstance(value, str | bytes) else 8


def check_size(kind: Kind, obj: Any, data: bytes) -> None:
    """Reject an object larger than etcd accepts, naming the field that makes it so."""
    if len(data) <= MAX_OBJECT_BYTES:
        return
    path, size = _largest_field(obj, "", 3)
    name = obj.metadata.name
    raise ApiError(
        Code.RESOURCE_EXHAUSTED, Reason.TOO_LARGE.value,
        f'{kind.qualified_kind} "{name}" is too large: {path}: Too long: the object is '
        f"{len(data)} bytes, over the limit of {MAX_OBJECT_BYTES} bytes ({path} holds {size} "
        f"bytes)", [errors.StatusCause("FieldValueTooLong", f"{path}: Too long", path)],
        kind=kind.name, name=name)
