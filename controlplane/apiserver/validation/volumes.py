"""Pod volumes: unique DNS-label names, exactly one source each, and each source's own rules.

Returns the set of valid volume names so container volumeMounts can be checked against it.
Kubernetes defaults a volume without a source to an emptyDir before validation, so "must
specify a volume type" only appears for objects written without defaulting.
"""

from __future__ import annotations

import posixpath

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.downward import (
    VOLUME_FIELD_PATHS,
    validate_object_field_selector,
    validate_resource_field_selector,
)
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.v1 import core_pb2

FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                   "FileOrCreate", "Socket")
# Kubernetes checks the sources in this order; the second one found is the error.
_SOURCES = (("empty_dir", "emptyDir"), ("host_path", "hostPath"), ("secret", "secret"),
            ("nfs", "nfs"), ("persistent_volume_claim", "persistentVolumeClaim"),
            ("downward_api", "downwardAPI"), ("config_map", "configMap"),
            ("projected", "projected"))


def no_backsteps(path: str, value: str) -> list[FieldError]:
    if ".." in value.replace("\\", "/").split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def local_descending_path(path: str, value: str) -> list[FieldError]:
    found: list[FieldError] = []
    if posixpath.isabs(value):
        found.append(errors.invalid(path, value, "must be a relative path"))
    return found + no_backsteps(path, value)


def local_non_reserved_path(path: str, value: str) -> list[FieldError]:
    found = local_descending_path(path, value)
    if value.startswith("..") and not value.startswith("../"):
        found.append(errors.invalid(path, value, "must not start with '..'"))
    return found


def _mode(path: str, mode: int) -> list[FieldError]:
    return [] if 0 <= mode <= 0o777 else [errors.invalid(path, mode, FILE_MODE)]


def _key_to_path(item: core_pb2.KeyToPath, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if not item.key:
        found.append(errors.required(f"{path}.key"))
    if not item.path:
        found.append(errors.required(f"{path}.path"))
    found.extend(local_non_reserved_path(f"{path}.path", item.path))
    if item.HasField("mode"):
        found.extend(_mode(f"{path}.mode", item.mode))
    return found


def _items(items: list[core_pb2.KeyToPath], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for i, item in enumerate(items):
        found.extend(_key_to_path(item, f"{path}.items[{i}]"))
    return found


def _downward_file(item: core_pb2.DownwardAPIVolumeFile, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if not item.path:
        found.append(errors.required(f"{path}.path"))
    found.extend(local_non_reserved_path(f"{path}.path", item.path))
    if item.HasField("field_ref"):
        found.extend(validate_object_field_selector(item.field_ref, VOLUME_FIELD_PATHS,
                                                    f"{path}.fieldRef"))
        if item.HasField("resource_field_ref"):
            found.append(errors.invalid(path, "resource", "fieldRef and resourceFieldRef can "
                                                          "not be specified simultaneously"))
    elif item.HasField("resource_field_ref"):
        found.extend(validate_resource_field_selector(item.resource_field_ref,
                                                      f"{path}.resourceFieldRef", volume=True))
    else:
        found.append(errors.required(path, "one of fieldRef and resourceFieldRef is required"))
    if item.HasField("mode"):
        found.extend(_mode(f"{path}.mode", item.mode))
    return found


def _projected(source: core_pb2.ProjectedVolumeSource, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if source.HasField("default_mode"):
        found.extend(_mode(f"{path}.defaultMode", source.default_mode))
    seen: set[str] = set()

    def claim(file_path: str, shown: str) -> None:
        if file_path in seen:
            found.append(errors.invalid(path, shown, "conflicting duplicate paths"))
        seen.add(file_path)

    for i, projection in enumerate(source.sources):
        item = f"{path}.sources[{i}]"
        count = 0
        if projection.HasField("secret"):
            count += 1
            if not projection.secret.name:
                found.append(errors.required(f"{item}.secret.name"))
            found.extend(_items(list(projection.secret.items), f"{item}.secret"))
            for kp in projection.secret.items:
                if kp.path:
                    claim(kp.path, projection.secret.name)
        if projection.HasField("config_map"):
            count += 1
            if not projection.config_map.name:
                found.append(errors.required(f"{item}.configMap.name"))
            found.extend(_items(list(projection.config_map.items), f"{item}.configMap"))
            for kp in projection.config_map.items:
                if kp.path:
                    claim(kp.path, projection.config_map.name)
        if projection.HasField("downward_api"):
            count += 1
            for file in projection.downward_api.items:
                found.extend(_downward_file(file, f"{item}.downwardAPI"))
                if file.path:
                    claim(file.path, file.path)
        if projection.HasField("service_account_token"):
            count += 1
            token = projection.service_account_token
            expiry = f"{item}.serviceAccountToken.expirationSeconds"
            if token.expiration_seconds < 600:
                found.append(errors.invalid(expiry, token.expiration_seconds,
                                            "may not specify a duration less than 10 minutes"))
            if token.expiration_seconds > 2**32:
                found.append(errors.invalid(expiry, token.expiration_seconds,
                                            "may not specify a duration larger than 2^32 seconds"))
            if not token.path:
                found.append(errors.required(f"{path}.path"))
            else:
                found.extend(local_non_reserved_path(f"{path}.path", token.path))
        if count > 1:
            found.append(errors.forbidden(item, "may not specify more than 1 volume type per "
                                                "source"))
    return found


def _source(volume: core_pb2.Volume, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    present = [(field, json) for field, json in _SOURCES if volume.HasField(field)]
    if not present:
        return [errors.required(path, "must specify a volume type")]
    for _, json in present[1:]:
        found.append(errors.forbidden(f"{path}.{json}", "may not specify more than 1 volume type"))
    field, json = present[0]
    at = f"{path}.{json}"
    if field == "empty_dir" and volume.empty_dir.HasField("size_limit"):
        size, problems = common.quantity(f"{at}.sizeLimit", volume.empty_dir.size_limit.value)
        if size is not None and size < 0:
            found.append(errors.forbidden(f"{at}.sizeLimit",
                                          "SizeLimit field must be a valid resource quantity"))
        elif problems:
            found.extend(problems)
    elif field == "host_path":
        host = volume.host_path
        if not host.path:
            return [*found, errors.required(f"{at}.path")]
        found.extend(no_backsteps(f"{at}.path", host.path))
        if host.HasField("type") and host.type not in HOST_PATH_TYPES:
            found.append(errors.unsupported(f"{at}.type", host.type, HOST_PATH_TYPES))
    elif field == "secret":
        if not volume.secret.secret_name:
            found.append(errors.required(f"{at}.secretName"))
        if volume.secret.HasField("default_mode"):
            found.extend(_mode(f"{at}.defaultMode", volume.secret.default_mode))
        found.extend(_items(list(volume.secret.items), at))
    elif field == "config_map":
        if not volume.config_map.name:
            found.append(errors.required(f"{at}.name"))
        if volume.config_map.HasField("default_mode"):
            found.extend(_mode(f"{at}.defaultMode", volume.config_map.default_mode))
        found.extend(_items(list(volume.config_map.items), at))
    elif field == "nfs":
        if not volume.nfs.server:
            found.append(errors.required(f"{at}.server"))
        if not volume.nfs.path:
            found.append(errors.required(f"{at}.path"))
        if not posixpath.isabs(volume.nfs.path):
            found.append(errors.invalid(f"{at}.path", volume.nfs.path, "must be an absolute path"))
    elif field == "persistent_volume_claim":
        if not volume.persistent_volume_claim.claim_name:
            found.append(errors.required(f"{at}.claimName"))
    elif field == "downward_api":
        if volume.downward_api.HasField("default_mode"):
            found.extend(_mode(f"{at}.defaultMode", volume.downward_api.default_mode))
        for item in volume.downward_api.items:
            found.extend(_downward_file(item, at))
    elif field == "projected":
        found.extend(_projected(volume.projected, at))
    return found


def validate_volumes(volumes: list[core_pb2.Volume], path: str) -> tuple[set[str], list[FieldError]]:
    """The names of the valid volumes, and the errors of the others."""
    names: set[str] = set()
    found: list[FieldError] = []
    for i, volume in enumerate(volumes):
        item = f"{path}[{i}]"
        problems = _source(volume, item)
        if not volume.name:
            problems.append(errors.required(f"{item}.name"))
        else:
            problems.extend(common.dns_label(f"{item}.name", volume.name))
        if volume.name in names:
            problems.append(errors.duplicate(f"{item}.name", volume.name))
        if problems:
            found.extend(problems)
        else:
            names.add(volume.name)
    return names, found
