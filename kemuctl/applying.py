"""Client-side apply: the last-applied-configuration annotation and the three-way merge.

The patch sent is a JSON merge patch (RFC 7386) computed from three documents, as kubectl does:
``original`` (the manifest applied last time, from the annotation), ``modified`` (the manifest
now, carrying the new annotation) and ``current`` (the live object). Fields that differ between
``current`` and ``modified`` are set; fields in ``original`` that ``modified`` no longer has are
removed. Lists are compared whole, like Kubernetes' strategic merge for lists it cannot merge by
key, with one refinement standing in for merge keys: a list the manifest has not changed since
the last apply is left alone while every element is still there in the live object (the server
may have added defaults inside elements).

Maps Kubernetes marks ``patchStrategy: retainKeys`` (a Deployment's ``spec.strategy``) are
unions: when the manifest changes one, the keys the live object has beyond the manifest's are
removed, as kubectl's ``$retainKeys`` directive makes the server do — so switching a
Deployment to ``type: Recreate`` drops the ``rollingUpdate`` the server had defaulted.
"""

from __future__ import annotations

import copy
from typing import Any

from kemu.api import codec
from kemu.api.kinds import Kind
from kemuctl.gojson import marshal

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MISSING: Any = object()
# Fields whose patch strategy is retainKeys, per kind (paths from the object's root).
RETAIN_KEYS: dict[str, frozenset[tuple[str, ...]]] = {
    "Deployment": frozenset({("spec", "strategy")}),
}


def retain_keys_of(kind: Kind) -> frozenset[tuple[str, ...]]:
    return RETAIN_KEYS.get(kind.name, frozenset())


def annotated(document: dict[str, Any], namespace: str) -> tuple[dict[str, Any], str]:
    """``modified``: the manifest with its namespace set and the last-applied annotation (the
    manifest itself, as compact JSON, the way kubectl writes it)."""
    doc = copy.deepcopy(document)
    metadata = doc.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        metadata = doc["metadata"] = {}
    if namespace:
        metadata["namespace"] = namespace
    annotations = metadata.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, dict) else {}
    annotations.pop(LAST_APPLIED, None)
    metadata["annotations"] = annotations
    original = marshal(doc) + "\n"
    modified = copy.deepcopy(doc)
    modified["metadata"]["annotations"] = {**annotations, LAST_APPLIED: original}
    return modified, original


def normalized(kind: Kind, document: Any) -> dict[str, Any] | None:
    """``document`` as the server would store it (unknown fields and zero values dropped), or
    None when it does not decode."""
    if not isinstance(document, dict):
        return None
    try:
        return codec.encode(codec.decode(kind.message, document))
    except codec.DecodeError:
        return None


def is_subset(part: Any, whole: Any) -> bool:
    """Every field of ``part`` is in ``whole`` with the same value (lists element by element)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and is_subset(v, whole[k])
                                               for k, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(part) == len(whole) and \
            all(is_subset(a, b) for a, b in zip(part, whole, strict=True))
    return _same(part, whole)


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any],
                    retain_keys: frozenset[tuple[str, ...]] = frozenset(),
                    path: tuple[str, ...] = ()) -> dict[str, Any]:
    """The merge patch; ``retain_keys``: paths of the kind's retainKeys maps."""
    patch: dict[str, Any] = {}
    for key, want in modified.items():
        have = current.get(key, _MISSING)
        was = original.get(key, _MISSING) if original is not None else _MISSING
        if isinstance(want, dict) and isinstance(have, dict):
            nested = three_way_patch(was if isinstance(was, dict) else None, want, have,
                                     retain_keys, (*path, key))
            if (*path, key) in retain_keys and was != want:
                nested.update({extra: None for extra in have if extra not in want})
            if nested:
                patch[key] = nested
        elif isinstance(want, list) and isinstance(have, list):
            unchanged_by_user = was is _MISSING or was == want
            if not (unchanged_by_user and is_subset(want, have)):
                patch[key] = want
        elif have is _MISSING or not _same(want, have):
            patch[key] = want
    if original is not None:
        for key in original:
            if key not in modified and key in current:
                patch[key] = None
    return patch


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and bool(a == b)) or (
        isinstance(a, int | float) and isinstance(b, int | float)
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b)
