"""The namespace controller: empties a namespace that is being deleted, then lets it go.

A deleted namespace stays, Terminating, while its ``kubernetes`` finalizer is in
``spec.finalizers``. This controller deletes every namespaced object in it (in the background,
so the garbage collector takes care of what they own; pods gracefully, so their kubelets stop
them), waits until nothing is left, then removes the finalizer, upon which the API server
removes the namespace. New content cannot be created meanwhile (admission refuses it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import kinds
from kemu.api.errors import ApiError, Code, Reason
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

FINALIZER_KUBERNETES = "kubernetes"


class NamespaceController(Controller):
    name = "namespace"
    workers = 2

    def __init__(self, context: ControllerContext):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.timing = timing
        self.namespaces = context.informers.informer(core_pb2.Namespace)
        self.namespaces.add_handler(self._observe, lambda _old, new: self._observe(new))
        self._content_kinds = [k for k in kinds.all_kinds() if k.namespaced]
        # Wake a terminating namespace up when something in it is finally gone. Not for
        # Events: they go at once when deleted, and an informer on them would hold every
        # event of the cluster (the API server does not cache them either).
        for kind in self._content_kinds:
            if kind.name != "Event":
                context.informers.informer(kind.message).add_handler(on_delete=self._content_gone)

    def _observe(self, namespace: core_pb2.Namespace) -> None:
        if namespace.metadata.deletion_timestamp:
            self.enqueue(namespace.metadata.name)

    def _content_gone(self, obj: Any) -> None:
        namespace = self.namespaces.get(obj.metadata.namespace)
        if namespace is not None and namespace.metadata.deletion_timestamp:
            self.enqueue(namespace.metadata.name)

    async def sync(self, key: str) -> None:
        cached = self.namespaces.get(key)
        if cached is None or not cached.metadata.deletion_timestamp:
            return
        try:
            namespace = await self.client.get(core_pb2.Namespace, key)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return
            raise
        if namespace.metadata.uid != cached.metadata.uid or \
                FINALIZER_KUBERNETES not in namespace.spec.finalizers:
            return
        remaining = await self.delete_content(key)
        if remaining:
            log.info("namespace %s: %d objects left, waiting", key, len(remaining))
            self.queue.add_after(key, self._estimate(remaining))
            return
        await self.finalize(namespace)

    async def delete_content(self, namespace: str) -> list[Any]:
        """Delete every namespaced object in ``namespace``; returns what is still there."""
        remaining: list[Any] = []
        for kind in self._content_kinds:
            items: list[Any] = (await self.client.list(kind.message, namespace)).items
            targets = [o for o in items if not o.metadata.deletion_timestamp]
            await asyncio.gather(*(self._delete(kind, o) for o in targets))
            remaining.extend((await self.client.list(kind.message, namespace)).items)
        return remaining

    async def _delete(self, kind: kinds.Kind, obj: Any) -> None:
        try:
            await self.client.delete(kind.message, obj.metadata.name, obj.metadata.namespace,
                                     propagation_policy="Background",
                                     precondition_uid=obj.metadata.uid)
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND and exc.reason != Reason.CONFLICT.value:
                raise

    def _estimate(self, remaining: list[Any]) -> float:
        """How long until the rest should be gone: the longest grace period among them (as
        the kubelets act on it), at least one (scaled) second."""
        longest = max((o.metadata.deletion_grace_period_seconds for o in remaining), default=0)
        return max(1.0, float(longest)) * self.timing.scale

    async def finalize(self, namespace: core_pb2.Namespace) -> None:
        """Remove the ``kubernetes`` finalizer; the API server then removes the namespace."""
        current = namespace
        while True:
            remaining = [f for f in current.spec.finalizers if f != FINALIZER_KUBERNETES]
            try:
                # The namespaces/finalize subresource; the resourceVersion makes it a
                # compare-and-swap, so a finalizer added meanwhile is not dropped.
                await self.client.patch(
                    core_pb2.Namespace, current.metadata.name, "",
                    {"metadata": {"resourceVersion": current.metadata.resource_version},
                     "spec": {"finalizers": remaining}}, subresource="finalize")
                log.info("namespace %s: content deleted, finalized", current.metadata.name)
                return
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    return
                if exc.reason != Reason.CONFLICT.value:
                    raise
            current = await self.client.get(core_pb2.Namespace, namespace.metadata.name)
            if current.metadata.uid != namespace.metadata.uid or \
                    FINALIZER_KUBERNETES not in current.spec.finalizers:
                return


@register("namespace")
def _namespace_controller(context: ControllerContext) -> Controller:
    return NamespaceController(context)
