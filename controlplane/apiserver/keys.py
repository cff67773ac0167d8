"""Where objects live in etcd: ``/registry/<resource>/<namespace>/<name>``.

Kinds the watch cache does not hold (Events) live under ``/registry-uncached/`` instead, outside
the range of the cache's one etcd watch, so etcd does not send the API server every one of them
only to be dropped (Kubernetes can go further and keep events in an etcd of their own). Every
key kemu stores starts with ``STORED_PREFIX``.
"""

from __future__ import annotations

from kemu.api.kinds import Kind

ROOT = b"/registry/"
UNCACHED_ROOT = b"/registry-uncached/"
STORED_PREFIX = b"/registry"
# Kinds served straight from etcd, not from the watch cache.
UNCACHED_KINDS = frozenset({"Event"})
# Written by a consistent list to learn when the watch cache has caught up with etcd (see
# WatchCache.catch_up); inside ROOT's range but no kind's, so no cache holds it.
PROGRESS_KEY = ROOT + b"kemu.io~progress"


def root_of(kind: Kind) -> bytes:
    return UNCACHED_ROOT if kind.name in UNCACHED_KINDS else ROOT


def kind_prefix(kind: Kind) -> bytes:
    return root_of(kind) + kind.plural.encode() + b"/"


def namespace_prefix(kind: Kind, namespace: str) -> bytes:
    if not kind.namespaced or not namespace:
        return kind_prefix(kind)
    return kind_prefix(kind) + namespace.encode() + b"/"


def object_key(kind: Kind, namespace: str, name: str) -> bytes:
    if kind.namespaced:
        return kind_prefix(kind) + f"{namespace}/{name}".encode()
    return kind_prefix(kind) + name.encode()


def resource_of(key: bytes) -> str:
    """The resource (``pods``, ``events`` ...) a stored key belongs to; "" for a key outside
    both roots or without one (PROGRESS_KEY)."""
    for root in (ROOT, UNCACHED_ROOT):
        if key.startswith(root):
            slash = key.find(b"/", len(root))
            return key[len(root):slash].decode() if slash > 0 else ""
    return ""
