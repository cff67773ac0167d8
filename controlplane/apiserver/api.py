"""The API as one object: a registry per kind over one store and one watch cache.

The gRPC services and the in-process controllers both call this; nothing else touches etcd.
"""

from __future__ import annotations

import logging
from typing import Any

from controlplane.apiserver.admission import ClusterAdmission
from controlplane.apiserver.objects import decode_object
from controlplane.apiserver.registry import Registry
from controlplane.apiserver.strategies import strategy_for
from controlplane.apiserver.watchcache import WatchCache
from controlplane.storage import Store
from kemu.api import errors, kinds
from kemu.api.kinds import Kind
from kemu.api.meta import now_rfc3339
from kemu.timing import Timing
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Api:
    def __init__(self, store: Store, timing: Timing, cache_capacity: int = 5000):
        self.store = store
        self.timing = timing
        self.cache = WatchCache(store, decode_object, capacity=cache_capacity,
                                bookmark_interval=timing.watch_bookmark_interval,
                                mark_delay=timing.consistent_read_mark_delay)
        self.admission = ClusterAdmission(store, self.cache, timing)
        self.registries: dict[str, Registry] = {}
        for kind in kinds.all_kinds():
            ttl = max(1, int(timing.event_ttl)) if kind.name == "Event" else None
            self.registries[kind.name] = Registry(kind, strategy_for(kind, timing), store,
                                                  self.cache, self.admission, ttl)

    def registry(self, kind: Kind | str) -> Registry:
        name = kind if isinstance(kind, str) else kind.name
        return self.registries[name]

    async def start(self) -> None:
        await self.cache.start()
        await self.ensure_namespaces()

    async def stop(self) -> None:
        await self.cache.stop()

    async def ensure_namespaces(self) -> None:
        registry = self.registry("Namespace")
        for name in SYSTEM_NAMESPACES:
            namespace = core_pb2.Namespace()
            namespace.metadata.name = name
            namespace.status.phase = "Active"
            try:
                await registry.create(namespace)
            except errors.ApiError as exc:
                if exc.code != errors.Code.ALREADY_EXISTS:
                    raise

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any:
        """The pods/binding subresource: set spec.nodeName once, and PodScheduled=True."""

        def assign(pod: core_pb2.Pod) -> core_pb2.Pod:
            if pod_uid and pod.metadata.uid != pod_uid:
                raise errors.conflict_error("pods", name, "the pod's UID does not match the binding")
            if pod.metadata.deletion_timestamp:
                raise errors.conflict_error("pods", name,
                                            "pod is being deleted, cannot be assigned to a host")
            if pod.spec.node_name:
                raise errors.conflict_error(
                    "pods", name, f'pod {name} is already assigned to node "{pod.spec.node_name}"')
            pod.spec.node_name = node_name
            set_pod_condition(pod, "PodScheduled", "True")
            return pod

        if not node_name:
            raise errors.invalid_error("Binding", name, [errors.required("target.name")])
        return await self.registry("Pod").guaranteed_update_raw(namespace, name, assign)


def set_pod_condition(pod: core_pb2.Pod, kind: str, status: str, reason: str = "",
                      message: str = "") -> bool:
    """Set a pod condition; the transition time moves only when the status changes."""
    for condition in pod.status.conditions:
        if condition.type == kind:
            changed = (condition.status, condition.reason, condition.message) != (status, reason, message)
            if condition.status != status:
                condition.last_transition_time = now_rfc3339()
            condition.status, condition.reason, condition.message = status, reason, message
            return changed
    pod.status.conditions.add(type=kind, status=status, reason=reason, message=message,
                              last_transition_time=now_rfc3339())
    return True
