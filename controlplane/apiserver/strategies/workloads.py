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


TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"


def _template_generation(ds: Any) -> int:
    try:
        return int(ds.metadata.annotations.get(TEMPLATE_GENERATION_ANNOTATION, "0"))
    except ValueError:
        return 0


class DaemonSetStrategy(ValidatedStrategy):
    """apps/v1 shows a DaemonSet's templateGeneration as an annotation clients cannot set: 1 at
    create, one more each time the pod template changes."""

    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.metadata.annotations[TEMPLATE_GENERATION_ANNOTATION] = "1"

    def prepare_for_update(self, new: Any, old: Any) -> None:
        super().prepare_for_update(new, old)
        generation = _template_generation(old)
        if new.spec.template != old.spec.template:
            generation += 1
        if generation:
            new.metadata.annotations[TEMPLATE_GENERATION_ANNOTATION] = str(generation)
        else:
            new.metadata.annotations.pop(TEMPLATE_GENERATION_ANNOTATION, None)

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
