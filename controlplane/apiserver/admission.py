"""Admission: what is checked or added on create beyond the object itself.

- NamespaceLifecycle: namespaced objects need an existing namespace that is not terminating.
- DefaultTolerationSeconds: pods tolerate ``not-ready`` and ``unreachable`` NoExecute taints for
  300 seconds unless they say otherwise (the eviction scales it by the timing profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controlplane.apiserver import keys
from controlplane.apiserver.objects import decode_object
from kemu.api import errors
from kemu.api.kinds import Kind, by_name
from kemu.timing import Timing
from kemu.v1 import core_pb2

if TYPE_CHECKING:
    from controlplane.apiserver.watchcache import WatchCache
    from controlplane.storage import Store

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
# Written into pod specs as Kubernetes does; acted on after tolerationSeconds x timing.scale.
DEFAULT_TOLERATION_SECONDS = 300

_NAMESPACE = by_name("Namespace")


def _tolerates(pod: core_pb2.Pod, key: str) -> bool:
    for t in pod.spec.tolerations:
        if (t.key == key or (not t.key and t.operator == "Exists")) and \
                t.effect in ("", "NoExecute"):
            return True
    return False


class ClusterAdmission:
    def __init__(self, store: Store, cache: WatchCache, timing: Timing):
        self.store = store
        self.cache = cache
        self.timing = timing

    def mutate_create(self, kind: Kind, obj: Any) -> None:
        if kind.name == "Pod":
            seconds = DEFAULT_TOLERATION_SECONDS
            for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
                if not _tolerates(obj, key):
                    obj.spec.tolerations.add(key=key, operator="Exists", effect="NoExecute",
                                             toleration_seconds=seconds)

    async def admit_create(self, kind: Kind, obj: Any) -> None:
        if not kind.namespaced:
            return
        name = obj.metadata.namespace
        key = keys.object_key(_NAMESPACE, "", name)
        namespace = self.cache.get(_NAMESPACE, key)
        if namespace is None:
            kv = await self.store.get(key)
            if kv is None:
                raise errors.not_found_error("namespaces", name)
            namespace = decode_object(_NAMESPACE, kv.value, kv.mod_revision)
        if namespace.metadata.deletion_timestamp:
            raise errors.forbidden_error(
                f'{kind.plural} "{obj.metadata.name}" is forbidden: unable to create new content '
                f"in namespace {name} because it is being terminated")
