"""Where objects live in etcd: ``/registry/<resource>/<namespace>/<name>``."""

from __future__ import annotations

from kemu.api.kinds import Kind

ROOT = b"/registry/"


def kind_prefix(kind: Kind) -> bytes:
    return ROOT + kind.plural.encode() + b"/"


def namespace_prefix(kind: Kind, namespace: str) -> bytes:
    if not kind.namespaced or not namespace:
        return kind_prefix(kind)
    return kind_prefix(kind) + namespace.encode() + b"/"


def object_key(kind: Kind, namespace: str, name: str) -> bytes:
    if kind.namespaced:
        return kind_prefix(kind) + f"{namespace}/{name}".encode()
    return kind_prefix(kind) + name.encode()


def split(key: bytes) -> tuple[str, str, str]:
    """(resource, namespace, name) of a key; namespace is empty for cluster-scoped kinds."""
    parts = key[len(ROOT):].decode().split("/")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], "", parts[1]
