"""PersistentVolumeClaims, on their own and as a StatefulSet's volumeClaimTemplates."""

from __future__ import annotations

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.meta import validate_annotations, validate_labels
from controlplane.apiserver.validation.selectors import validate_label_selector
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems
from kemu.api.quantity import QuantityError, parse_quantity
from kemu.v1 import apps_pb2, core_pb2

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
SPEC_IMMUTABLE = ("spec is immutable after creation except resources.requests and "
                  "volumeAttributesClassName for bound claims")


def validate_claim_spec(spec: core_pb2.PersistentVolumeClaimSpec, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if not spec.access_modes:
        found.append(errors.required(f"{path}.accessModes", "at least 1 access mode is required"))
    if spec.HasField("selector"):
        found.extend(validate_label_selector(spec.selector, f"{path}.selector"))
    once_pod = others = False
    for mode in spec.access_modes:
        if mode not in ACCESS_MODES:
            found.append(errors.unsupported(f"{path}.accessModes", mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            once_pod = True
        else:
            others = True
    if once_pod and others:
        found.append(errors.forbidden(f"{path}.accessModes",
                                      "may not use ReadWriteOncePod with other access modes"))
    storage_path = f"{path}.resources[storage]"
    storage = spec.resources.requests.get("storage")
    if storage is None:
        found.append(errors.required(storage_path))
    else:
        value, problems = common.quantity(storage_path, storage.value)
        if problems:
            found.extend(problems)
        elif value is not None and value <= 0:
            found.append(errors.invalid(storage_path, storage.value, "must be greater than zero"))
    if spec.HasField("storage_class_name") and spec.storage_class_name:
        found.extend(common.invalid_each(f"{path}.storageClassName", spec.storage_class_name,
                                         dns1123_subdomain_problems(spec.storage_class_name)))
    if spec.HasField("volume_mode") and spec.volume_mode not in VOLUME_MODES:
        found.append(errors.unsupported(f"{path}.volumeMode", spec.volume_mode, VOLUME_MODES))
    return found


def validate_claim(claim: core_pb2.PersistentVolumeClaim) -> list[FieldError]:
    return validate_claim_spec(claim.spec, "spec")


def validate_claim_template(claim: apps_pb2.PersistentVolumeClaimTemplate,
                            path: str) -> list[FieldError]:
    """A StatefulSet's claim template: a name (it becomes a volume name), labels, a spec."""
    found: list[FieldError] = []
    name = claim.metadata.name
    if not name:
        found.append(errors.required(f"{path}.metadata.name"))
    else:
        found.extend(common.dns_label(f"{path}.metadata.name", name))
    found.extend(validate_labels(claim.metadata.labels, f"{path}.metadata.labels"))
    found.extend(validate_annotations(claim.metadata.annotations, f"{path}.metadata.annotations"))
    found.extend(validate_claim_spec(claim.spec, f"{path}.spec"))
    return found


def _storage(spec: core_pb2.PersistentVolumeClaimSpec) -> str:
    quantity = spec.resources.requests.get("storage")
    return quantity.value if quantity is not None else "0"


def validate_claim_update(new: core_pb2.PersistentVolumeClaim,
                          old: core_pb2.PersistentVolumeClaim) -> list[FieldError]:
    found: list[FieldError] = []
    new_spec, old_spec = core_pb2.PersistentVolumeClaimSpec(), core_pb2.PersistentVolumeClaimSpec()
    new_spec.CopyFrom(new.spec)
    old_spec.CopyFrom(old.spec)
    if not old.spec.volume_name:
        old_spec.volume_name = new_spec.volume_name
    if new.status.phase == "Bound":
        new_spec.resources.requests["storage"].CopyFrom(old_spec.resources.requests["storage"])
    if new_spec != old_spec:
        found.append(errors.forbidden("spec", SPEC_IMMUTABLE))
    try:
        shrunk = parse_quantity(_storage(new.spec)) < parse_quantity(_storage(old.spec))
    except QuantityError:
        shrunk = False
    if shrunk:
        found.append(errors.forbidden("spec.resources.requests.storage",
                                      "field can not be less than previous value"))
    return found
