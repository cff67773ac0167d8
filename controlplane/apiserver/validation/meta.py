"""ObjectMeta validation: names, namespaces, labels, annotations, owner references, finalizers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import (
    dns1123_label_problems,
    dns1123_subdomain_problems,
    label_value_problems,
    qualified_name_problems,
)
from kemu.v1 import meta_pb2

NameCheck = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_labels(labels: Mapping[str, str], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for key, value in sorted(labels.items()):
        for problem in qualified_name_problems(key):
            found.append(errors.invalid(path, key, problem))
        for problem in label_value_problems(value):
            found.append(errors.invalid(path, value, problem))
    return found


def validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    total = 0
    for key, value in sorted(annotations.items()):
        for problem in qualified_name_problems(key.lower()):
            found.append(errors.invalid(path, key, problem))
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        found.append(errors.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return found


def validate_owner_references(refs: list[meta_pb2.OwnerReference], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    controllers = 0
    for i, ref in enumerate(refs):
        item = f"{path}[{i}]"
        if not ref.api_version:
            found.append(errors.invalid(f"{item}.apiVersion", ref.api_version, "version must not be empty"))
        if not ref.kind:
            found.append(errors.invalid(f"{item}.kind", ref.kind, "kind must not be empty"))
        if not ref.name:
            found.append(errors.invalid(f"{item}.name", ref.name, "name must not be empty"))
        if not ref.uid:
            found.append(errors.invalid(f"{item}.uid", ref.uid, "uid must not be empty"))
        if ref.HasField("controller") and ref.controller:
            controllers += 1
    if controllers > 1:
        found.append(errors.invalid(path, [r.name for r in refs],
                                    "Only one reference can have Controller set to true"))
    return found


STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def finalizer_problems(name: str) -> list[str]:
    """A finalizer is a qualified name, and fully qualified (``domain/name``) unless standard."""
    problems = qualified_name_problems(name)
    if not problems and "/" not in name and name not in STANDARD_FINALIZERS:
        problems.append("name is neither a standard finalizer name nor is it fully qualified")
    return problems


def validate_finalizers(finalizers: list[str], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    seen: set[str] = set()
    for i, name in enumerate(finalizers):
        for problem in finalizer_problems(name):
            found.append(errors.invalid(f"{path}[{i}]", name, problem))
        if name in seen:
            found.append(errors.duplicate(f"{path}[{i}]", name))
        seen.add(name)
    return found


def validate_object_meta(meta: meta_pb2.ObjectMeta, *, namespaced: bool,
                         name_check: NameCheck = dns1123_subdomain_problems,
                         path: str = "metadata") -> list[FieldError]:
    found: list[FieldError] = []
    if not meta.name and not meta.generate_name:
        found.append(errors.required(f"{path}.name", "name or generateName is required"))
    if meta.name:
        for problem in name_check(meta.name):
            found.append(errors.invalid(f"{path}.name", meta.name, problem))
    if meta.generate_name:
        prefix = meta.generate_name.rstrip("-") or "x"
        for problem in name_check(prefix):
            found.append(errors.invalid(f"{path}.generateName", meta.generate_name, problem))
    if namespaced:
        if not meta.namespace:
            found.append(errors.required(f"{path}.namespace"))
        else:
            for problem in dns1123_label_problems(meta.namespace):
                found.append(errors.invalid(f"{path}.namespace", meta.namespace, problem))
    elif meta.namespace:
        found.append(errors.forbidden(f"{path}.namespace", "not allowed on this type"))
    found.extend(validate_labels(meta.labels, f"{path}.labels"))
    found.extend(validate_annotations(meta.annotations, f"{path}.annotations"))
    found.extend(validate_owner_references(list(meta.owner_references), f"{path}.ownerReferences"))
    found.extend(validate_finalizers(list(meta.finalizers), f"{path}.finalizers"))
    return found


def validate_object_meta_update(new: meta_pb2.ObjectMeta, old: meta_pb2.ObjectMeta,
                                path: str = "metadata") -> list[FieldError]:
    found: list[FieldError] = []
    if new.name != old.name:
        found.append(errors.invalid(f"{path}.name", new.name, "field is immutable"))
    if new.namespace != old.namespace:
        found.append(errors.invalid(f"{path}.namespace", new.namespace, "field is immutable"))
    if old.deletion_timestamp:
        added = set(new.finalizers) - set(old.finalizers)
        if added:
            found.append(errors.forbidden(f"{path}.finalizers",
                                          "no new finalizers can be added if the object is being "
                                          "deleted, found new finalizers " + str(sorted(added))))
    return found
