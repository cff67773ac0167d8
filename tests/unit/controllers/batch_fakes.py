"""An in-memory API and plain objects for the Job and CronJob unit tests.

``FakeApi`` keeps objects by kind, namespace and name with resource versions (a stale update is
a conflict), generated names, UIDs and creation times from a settable clock, JSON and merge
patches, and deletion with finalizers (an object with finalizers gets a deletionTimestamp and
stays until they are removed). ``deliver`` hands the stored objects to informers as a watch
would, calling their handlers. ``pod_finished`` and friends play the kubelet.
"""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

from google.protobuf.message import Message

from controlplane.apiserver.patching import apply as apply_patch
from controlplane.controllers.informer import Informer
from kemu.api import codec, kinds
from kemu.api.errors import ApiError, Code, conflict_error, not_found_error
from kemu.api.meta import key_of, now_rfc3339
from kemu.client.interface import ListResult, clone
from kemu.v1 import batch_pb2, core_pb2

T = TypeVar("T", bound=Message)


class FakeApi:
    def __init__(self, clock: Any):
        self.clock = clock
        self.objects: dict[tuple[str, str, str], Any] = {}
        self.log: list[tuple[str, str, str]] = []
        self._revision = itertools.count(1)
        self._serial = itertools.count(1)
        self.fail_creates: ApiError | None = None

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _where(kind: type[Message] | Message, name: str, namespace: str) -> tuple[str, str, str]:
        k = kinds.of_class(kind) if isinstance(kind, type) else kinds.of(kind)
        return k.name, (namespace or "default") if k.namespaced else "", name

    def _store(self, obj: Any) -> Any:
        obj.metadata.resource_version = str(next(self._revision))
        self.objects[self._where(obj, obj.metadata.name, obj.metadata.namespace)] = clone(obj)
        return clone(obj)

    def all(self, kind: type[T], namespace: str = "default") -> list[T]:
        name = kinds.of_class(kind).name
        return [clone(o) for (k, ns, _), o in sorted(self.objects.items())
                if k == name and ns == namespace]

    def put(self, obj: Any) -> Any:
        """Store ``obj`` as the API server would have it after a create."""
        meta = obj.metadata
        if not meta.uid:
            meta.uid = f"uid-{next(self._serial)}"
        if not meta.creation_timestamp:
            meta.creation_timestamp = now_rfc3339(self.clock())
        if not meta.namespace and kinds.of(obj).namespaced:
            meta.namespace = "default"
        return self._store(obj)

    # -- the ApiClient protocol -------------------------------------------------------------
    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        meta: Any = obj.metadata  # type: ignore[attr-defined]
        if self.fail_creates is not None and kinds.of(obj).name == "Pod":
            raise self.fail_creates
        if not meta.name:
            meta.name = f"{meta.generate_name}{next(self._serial):05d}"
        if self._where(obj, meta.name, meta.namespace) in self.objects:
            raise ApiError(Code.ALREADY_EXISTS, "AlreadyExists",
                           f'{kinds.of(obj).plural} "{meta.name}" already exists')
        self.log.append(("create", kinds.of(obj).name, meta.name))
        result: T = self.put(clone(obj))
        return result

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T:
        found = self.objects.get(self._where(kind, name, namespace))
        if found is None:
            raise not_found_error(kinds.of_class(kind).plural, name)
        result: T = clone(found)
        return result

    async def list(self, kind: type[T], namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "") -> ListResult[T]:
        return ListResult(self.all(kind, namespace or "default"), "")

    def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the unit tests deliver objects by hand")

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        return await self._update(obj, "update")

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T:
        return await self._update(obj, "update_status")

    async def _update(self, obj: Any, verb: str) -> Any:
        meta = obj.metadata
        where = self._where(obj, meta.name, meta.namespace)
        current = self.objects.get(where)
        if current is None:
            raise not_found_error(kinds.of(obj).plural, meta.name)
        if meta.resource_version != current.metadata.resource_version:
            raise conflict_error(kinds.of(obj).plural, meta.name, "the object has been modified")
        self.log.append((verb, kinds.of(obj).name, meta.name))
        return self._store(clone(obj))

    async def patch(self, kind: type[T], name: str, namespace: str, patch: Any, *,
                    patch_type: str = "merge", subresource: str = "",
                    dry_run: bool = False) -> T:
        current = await self.get(kind, name, namespace)
        document = apply_patch(patch_type, codec.encode(current), patch)
        patched: Any = codec.decode(kind, document)
        self.log.append(("patch", kinds.of_class(kind).name, name))
        meta = patched.metadata
        if meta.deletion_timestamp and not meta.finalizers:
            del self.objects[self._where(kind, name, namespace)]
            return patched  # type: ignore[no-any-return]
        result: T = self._store(patched)
        return result

    async def delete(self, kind: type[T], name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     precondition_uid: str = "", precondition_resource_version: str = "",
                     dry_run: bool = False) -> T:
        current: Any = await self.get(kind, name, namespace)
        if precondition_uid and precondition_uid != current.metadata.uid:
            raise conflict_error(kinds.of_class(kind).plural, name, "Precondition failed")
        self.log.append(("delete", kinds.of_class(kind).name, f"{name}:{propagation_policy}"))
        if current.metadata.finalizers:
            if not current.metadata.deletion_timestamp:
                current.metadata.deletion_timestamp = now_rfc3339(self.clock())
                current.metadata.deletion_grace_period_seconds = 0
            return self._store(current)  # type: ignore[no-any-return]
        del self.objects[self._where(kind, name, namespace)]
        return current  # type: ignore[no-any-return]

    async def bind(self, namespace: str, name: str, node_name: str, pod_uid: str = "") -> Any:
        raise AssertionError("not used")

    async def close(self) -> None:
        return None

    # -- what a kubelet would do ------------------------------------------------------------
    def save(self, obj: Any) -> Any:
        """Store ``obj`` as changed by someone else (a kubelet's status write)."""
        return self._store(clone(obj))

    def events(self, involved: str = "") -> list[tuple[str, str, str]]:
        found = []
        for (kind, _, _), obj in sorted(self.objects.items(),
                                        key=lambda item: int(item[1].metadata.resource_version)):
            if kind == "Event" and (not involved or obj.involved_object.name == involved):
                found.append((obj.type, obj.reason, obj.message))
        return found


def deliver(api: FakeApi, *informers: Informer[Any]) -> None:
    """Hand every stored object of each informer's kind to it, and drop the deleted ones."""
    for informer in informers:
        kind = kinds.of_class(informer.kind).name
        current = {key_of(obj): obj for (k, _, _), obj in api.objects.items() if k == kind}
        for key in [k for k in informer.items if k not in current]:
            informer._apply("DELETED", informer.items[key])
        for key, obj in current.items():
            seen = informer.items.get(key)
            if seen is None or seen.metadata.resource_version != obj.metadata.resource_version:
                informer._apply("MODIFIED" if seen is not None else "ADDED", clone(obj))


def job(name: str = "work", spec: dict[str, Any] | None = None,
        template_spec: dict[str, Any] | None = None, uid: str = "") -> batch_pb2.Job:
    """A Job as the API server stores it: defaulted, with the generated selector and labels."""
    uid = uid or f"uid-{name}"
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
              "controller-uid": uid, "job-name": name}
    document: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "uid": uid, "generation": 1},
        "spec": {
            "parallelism": 1, "completions": 1, "backoffLimit": 6,
            "completionMode": "NonIndexed", "suspend": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": labels},
                         "spec": {"restartPolicy": "Never",
                                  "containers": [{"name": "main", "image": "busybox"}],
                                  **(template_spec or {})}},
            **(spec or {}),
        },
    }
    if spec is not None and "completions" in spec and spec["completions"] is None:
        del document["spec"]["completions"]
    return codec.decode(batch_pb2.Job, document)


def set_phase(pod: core_pb2.Pod, phase: str, *, exit_code: int = 0, finished_at: str = "",
              restarts: int = 0, ready: bool = False) -> core_pb2.Pod:
    """The pod as its kubelet reports it: Running (ready or not), or finished."""
    changed = clone(pod)
    changed.spec.node_name = changed.spec.node_name or "node-1"
    changed.status.phase = phase
    del changed.status.container_statuses[:]
    del changed.status.conditions[:]
    for container in changed.spec.containers:
        status = changed.status.container_statuses.add(name=container.name,
                                                        restart_count=restarts)
        if phase in ("Succeeded", "Failed"):
            status.state.terminated.exit_code = exit_code
            status.state.terminated.finished_at = finished_at
        else:
            status.state.running.started_at = changed.metadata.creation_timestamp
            status.ready = ready
    changed.status.conditions.add(type="Ready", status="True" if ready else "False",
                                  last_transition_time=finished_at)
    return changed
