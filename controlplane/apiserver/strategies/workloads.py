"""ReplicaSets, ReplicationControllers, Deployments, DaemonSets, StatefulSets and
ControllerRevisions: their checks, and the apps/v1 rule that a selector never changes."""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.strategies.validated import ValidatedStrategy
from controlplane.apiserver.validation import common, workloads
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_label_problems


def _selector_immutable(new: Any, old: Any) -> list[FieldError]:
    return common.immutable("spec.selector", new.spec.selector, old.spec.selector,
                            common.message_json(new.spec.selector))


class ReplicaSetStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_replica_set(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return _selector_immutable(new, old)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return workloads.validate_replica_status(obj.status)


class ReplicationControllerStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_replication_controller(obj)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return workloads.validate_replica_status(obj.status)


class DeploymentStrategy(ValidatedStrategy):
    def prepare_for_update(self, new: Any, old: Any) -> None:
        super().prepare_for_update(new, old)
        # Kubernetes also bumps the generation when annotations change (rollbacks used them).
        if new.spec == old.spec and dict(new.metadata.annotations) != dict(old.metadata.annotations):
            new.metadata.generation = old.metadata.generation + 1

    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_deployment(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return _selector_immutable(new, old)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return workloads.validate_deployment_status(obj.status)

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate_status(new) + workloads.collision_count_not_decremented(new, old)


class DaemonSetStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_daemon_set(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return _selector_immutable(new, old)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return workloads.validate_daemon_set_status(obj.status)

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate_status(new) + workloads.collision_count_not_decremented(new, old)


class StatefulSetStrategy(ValidatedStrategy):
    # A StatefulSet's pods are named <name>-<ordinal> and are their own hostnames.
    name_check = staticmethod(dns1123_label_problems)

    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_stateful_set(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return workloads.validate_stateful_set_update(new, old)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return workloads.validate_stateful_set_status(obj.status)

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate_status(new) + workloads.collision_count_not_decremented(new, old)


class ControllerRevisionStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return workloads.validate_controller_revision(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return common.immutable("data", new.data, old.data, common.message_json(new).get("data"))
