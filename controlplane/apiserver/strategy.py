"""What differs between kinds when they are created, updated and deleted.

A Strategy defaults, validates and prepares objects of one kind (after Kubernetes'
``rest.RESTCreateStrategy`` and friends). The registry does the storage work the same way for
every kind and calls the strategy at fixed points.
"""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.validation.meta import (
    NameCheck,
    validate_object_meta,
    validate_object_meta_update,
)
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.kinds import Kind
from kemu.api.names import dns1123_subdomain_problems
from kemu.timing import Timing


class Strategy:
    """Defaults for a kind with nothing special: spec/status split, generation on spec change."""

    name_check: NameCheck = staticmethod(dns1123_subdomain_problems)

    def __init__(self, kind: Kind, timing: Timing):
        self.kind = kind
        self.timing = timing
        fields = kind.message.DESCRIPTOR.fields_by_name
        self.has_spec = "spec" in fields
        self.has_status = "status" in fields

    # -- defaulting -----------------------------------------------------------------------
    def default(self, obj: Any) -> None:
        """Fill defaults in place (runs on create and update, like Kubernetes' defaulters)."""

    # -- create ---------------------------------------------------------------------------
    def prepare_for_create(self, obj: Any) -> None:
        if self.has_status and self.kind.has_status:
            obj.ClearField("status")
        obj.metadata.generation = 1 if self.has_spec else 0

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, namespaced=self.kind.namespaced,
                                    name_check=self.name_check)

    # -- update ---------------------------------------------------------------------------
    def prepare_for_update(self, new: Any, old: Any) -> None:
        if self.has_status and self.kind.has_status:
            new.status.CopyFrom(old.status)
            if not old.HasField("status"):
                new.ClearField("status")
        generation = old.metadata.generation
        if self.has_spec and new.spec != old.spec:
            generation += 1
        new.metadata.generation = generation

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + validate_object_meta_update(new.metadata, old.metadata)

    def validate_raw_update(self, new: Any, old: Any) -> list[FieldError]:
        """Validation of a server-owned write (binding a pod) that skips the user rules."""
        return self.validate_update(new, old)

    # -- status subresource ---------------------------------------------------------------
    def prepare_for_status_update(self, new: Any, old: Any) -> None:
        """Status writes change status only: spec and metadata come from the stored object."""
        version = new.metadata.resource_version
        new.metadata.CopyFrom(old.metadata)
        new.metadata.resource_version = version
        if self.has_spec:
            new.spec.CopyFrom(old.spec)
            if not old.HasField("spec"):
                new.ClearField("spec")

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return []

    # -- delete ---------------------------------------------------------------------------
    def graceful_delete_seconds(self, obj: Any, requested: int | None) -> int:
        """Seconds the object lingers with a deletionTimestamp before removal (0: at once)."""
        return 0

    def default_propagation(self) -> str:
        return "Background"

    def prepare_for_delete(self, obj: Any) -> None:
        """Changes made when a deletion is recorded (a namespace turns Terminating)."""

    def delete_deferred(self, obj: Any) -> bool:
        """True while something besides ``metadata.finalizers`` keeps a deleted object (a
        namespace's ``spec.finalizers``)."""
        return False


def immutable(path: str, new: Any, old: Any, shown: Any = None) -> list[FieldError]:
    """An error when a field changed that may not."""
    if new == old:
        return []
    return [errors.invalid(path, shown if shown is not None else new, "field is immutable")]
