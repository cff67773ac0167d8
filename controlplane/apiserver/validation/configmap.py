"""ConfigMaps: key syntax, keys unique across data and binaryData, 1 MiB in total, and the
``immutable`` flag."""

from __future__ import annotations

from controlplane.apiserver.validation import common
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.v1 import core_pb2

MAX_CONFIG_MAP_BYTES = 1024 * 1024
IMMUTABLE_SET = "field is immutable when `immutable` is set"


def validate_config_map(config_map: core_pb2.ConfigMap) -> list[FieldError]:
    found: list[FieldError] = []
    total = 0
    for key in sorted(config_map.data):
        found.extend(common.invalid_each(f"data[{key}]", key, common.config_key_problems(key)))
        if key in config_map.binary_data:
            found.append(errors.invalid(f"data[{key}]", key,
                                        "duplicate of key present in binaryData"))
        total += len(config_map.data[key].encode())
    for key in sorted(config_map.binary_data):
        found.extend(common.invalid_each(f"binaryData[{key}]", key,
                                         common.config_key_problems(key)))
        total += len(config_map.binary_data[key])
    if total > MAX_CONFIG_MAP_BYTES:
        found.append(errors.too_long("data", MAX_CONFIG_MAP_BYTES))
    return found


def validate_config_map_update(new: core_pb2.ConfigMap,
                               old: core_pb2.ConfigMap) -> list[FieldError]:
    if not (old.HasField("immutable") and old.immutable):
        return []
    found: list[FieldError] = []
    if not (new.HasField("immutable") and new.immutable):
        found.append(errors.forbidden("immutable", IMMUTABLE_SET))
    if dict(new.data) != dict(old.data):
        found.append(errors.forbidden("data", IMMUTABLE_SET))
    if dict(new.binary_data) != dict(old.binary_data):
        found.append(errors.forbidden("binaryData", IMMUTABLE_SET))
    return found
