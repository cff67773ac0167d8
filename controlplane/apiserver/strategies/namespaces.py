"""Namespaces: Active on creation, Terminating while their content is deleted.

As in Kubernetes, a new namespace gets the ``kubernetes`` finalizer in ``spec.finalizers``.
Deleting it records the deletion and sets ``status.phase`` to Terminating, but the namespace
stays until the namespace controller has deleted everything in it and removed that finalizer.
Ordinary updates cannot change ``spec.finalizers``; Kubernetes' ``finalize`` subresource is, in
kemu, the status write, which may remove (never add) spec finalizers.
"""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.strategy import Strategy

FINALIZER_KUBERNETES = "kubernetes"
ACTIVE = "Active"
TERMINATING = "Terminating"


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.status.phase = ACTIVE
        if FINALIZER_KUBERNETES not in obj.spec.finalizers:
            obj.spec.finalizers.append(FINALIZER_KUBERNETES)

    def prepare_for_update(self, new: Any, old: Any) -> None:
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(old.spec.finalizers)
        super().prepare_for_update(new, old)

    def prepare_for_status_update(self, new: Any, old: Any) -> None:
        kept = [f for f in old.spec.finalizers if f in set(new.spec.finalizers)]
        super().prepare_for_status_update(new, old)
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(kept)
        if old.metadata.deletion_timestamp:
            new.status.phase = TERMINATING

    def prepare_for_delete(self, obj: Any) -> None:
        obj.status.phase = TERMINATING

    def delete_deferred(self, obj: Any) -> bool:
        return bool(obj.spec.finalizers)
