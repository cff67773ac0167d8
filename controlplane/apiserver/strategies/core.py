"""The core kinds that need more than the generic Strategy: Namespaces, Nodes, Services,
Endpoints, ConfigMaps, PersistentVolumeClaims, Leases and Events."""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.defaults.core import NAMESPACE_NAME_LABEL, default_node
from controlplane.apiserver.strategies.validated import ValidatedStrategy
from controlplane.apiserver.validation import configmap, core, node, service, storage
from controlplane.apiserver.validation.common import dns1035_label_problems
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_label_problems


class NamespaceStrategy(ValidatedStrategy):
    name_check = staticmethod(dns1123_label_problems)

    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.status.phase = "Active"
        if "kubernetes" not in obj.spec.finalizers:
            obj.spec.finalizers.append("kubernetes")
        obj.metadata.labels[NAMESPACE_NAME_LABEL] = obj.metadata.name

    def prepare_for_update(self, new: Any, old: Any) -> None:
        super().prepare_for_update(new, old)
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(old.spec.finalizers)

    def prepare_for_delete(self, obj: Any) -> None:
        obj.status.phase = "Terminating"

    def delete_deferred(self, obj: Any) -> bool:
        # A deleted namespace stays, Terminating, until its spec.finalizers are gone.
        return bool(obj.spec.finalizers)

    def validate_object(self, obj: Any) -> list[FieldError]:
        return core.validate_namespace(obj)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return core.validate_namespace_status(obj)


class NodeStrategy(ValidatedStrategy):
    def prepare_for_create(self, obj: Any) -> None:
        # Nodes keep the status they register with, as in Kubernetes.
        obj.metadata.generation = 1

    def prepare_for_status_update(self, new: Any, old: Any) -> None:
        super().prepare_for_status_update(new, old)
        default_node(new)

    def validate_object(self, obj: Any) -> list[FieldError]:
        return node.validate_node(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return node.validate_node_update(new, old)

    def validate_status(self, obj: Any) -> list[FieldError]:
        return node.validate_node_status(obj)


class ServiceStrategy(ValidatedStrategy):
    name_check = staticmethod(dns1035_label_problems)

    def prepare_for_update(self, new: Any, old: Any) -> None:
        super().prepare_for_update(new, old)
        # An update that leaves the cluster IP out keeps the allocated one (patchAllocatedValues).
        if "ExternalName" not in (new.spec.type, old.spec.type):
            if not new.spec.cluster_ip:
                new.spec.cluster_ip = old.spec.cluster_ip
            if not new.spec.cluster_ips:
                new.spec.cluster_ips.extend(old.spec.cluster_ips)
            for port in new.spec.ports:
                if port.node_port == 0:
                    for was in old.spec.ports:
                        if (was.port, was.protocol) == (port.port, port.protocol):
                            port.node_port = was.node_port

    def validate_object(self, obj: Any) -> list[FieldError]:
        return service.validate_service(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return service.validate_service_update(new, old)


class EndpointsStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return service.validate_endpoints(obj)


class ConfigMapStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return configmap.validate_config_map(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return configmap.validate_config_map_update(new, old)


class PersistentVolumeClaimStrategy(ValidatedStrategy):
    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.status.phase = "Pending"

    def validate_object(self, obj: Any) -> list[FieldError]:
        return storage.validate_claim(obj)

    def validate_change(self, new: Any, old: Any) -> list[FieldError]:
        return storage.validate_claim_update(new, old)


class LeaseStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return core.validate_lease(obj)


class EventStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return core.validate_event(obj)
