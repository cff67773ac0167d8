"""The Strategy most kinds use: Kubernetes' defaults, then metadata plus the kind's own checks.

Subclasses name their validation functions; updates re-run the create checks on the new object
and add the kind's update rules (what may not change), as Kubernetes' ValidateXUpdate does.
"""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.defaults import apply_defaults
from controlplane.apiserver.strategy import Strategy
from controlplane.apiserver.validation.meta import validate_object_meta_update
from kemu.api.errors import FieldError


class ValidatedStrategy(Strategy):
    def default(self, obj: Any) -> None:
        apply_defaults(self.kind.name, obj)

    def validate_object(self, obj: Any) -> list[FieldError]:
        """The kind's own checks of a whole object (spec and friends), on create and update."""
        return []

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        """What an update may not do (immutable fields), beyond validate_object(new)."""
        return []

    def validate_status(self, obj: Any) -> list[FieldError]:
        return []

    def validate(self, obj: Any) -> list[FieldError]:
        return super().validate(obj) + self.validate_object(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        found = validate_object_meta_update(new.metadata, old.metadata)
        found.extend(super().validate(new))
        found.extend(self.validate_object(new))
        found.extend(self.validate_change(new, old))
        return found

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate_status(new)
