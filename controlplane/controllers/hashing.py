"""Stable short hashes of pod templates: ``pod-template-hash`` (Deployments) and
``controller-revision-hash`` (DaemonSets, StatefulSets).

The hash covers the template's deterministic protobuf encoding and, when there has been a
name collision, the collision count; it is FNV-1a (32 bit) written in the consonant-and-digit
alphabet Kubernetes uses, so it never spells a word and is valid in names and label values.
"""

from __future__ import annotations

from google.protobuf.message import Message

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    value = _FNV_OFFSET
    for byte in data:
        value ^= byte
        value = (value * _FNV_PRIME) & 0xFFFFFFFF
    return value


def template_hash(template: Message, collision_count: int | None = None) -> str:
    data = template.SerializeToString(deterministic=True)
    if collision_count:
        data += b"#" + str(collision_count).encode()
    return _encode(fnv32a(data))


def _encode(value: int) -> str:
    """Base-27 digits of ``value`` in the safe alphabet (10 characters at most)."""
    out = []
    while True:
        value, digit = divmod(value, len(_SAFE))
        out.append(_SAFE[digit])
        if value == 0:
            break
    return "".join(reversed(out))
