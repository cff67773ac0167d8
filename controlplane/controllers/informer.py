"""Informers: list + watch one kind into a local, indexed cache and call handlers on changes.

The watch resumes from the last resourceVersion it saw (bookmarks included); when the server
says that version is too old, the informer lists again and reports the differences as adds,
updates and deletes, so handlers never miss a change. Handlers must be quick and must not block:
they enqueue keys. Cached objects are shared and read-only.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from kemu.api.errors import ApiError, Code
from kemu.api.labels import Selector
from kemu.api.meta import controller_of, key_of
from kemu.client.interface import ApiClient

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Message)

IndexFunc = Callable[[Any], list[str]]


@dataclass
class Handler:
    on_add: Callable[[Any], None] | None = None
    on_update: Callable[[Any, Any], None] | None = None
    on_delete: Callable[[Any], None] | None = None


def by_namespace(obj: Any) -> list[str]:
    return [obj.metadata.namespace]


def by_node_name(pod: Any) -> list[str]:
    return [pod.spec.node_name]


# Index names the workload controllers share (informers are shared between controllers).
CONTROLLER_UID_INDEX = "controller-uid"
ORPHANS_INDEX = "orphans-by-namespace"


def by_controller_uid(obj: Any) -> list[str]:
    return [r.uid for r in obj.metadata.owner_references if r.controller]


def orphans_by_namespace(obj: Any) -> list[str]:
    """Index objects without a controller by namespace (candidates for adoption)."""
    return [] if controller_of(obj) is not None else [obj.metadata.namespace]


class Informer(Generic[T]):
    def __init__(self, client: ApiClient, kind: type[T], namespace: str = "", *,
                 label_selector: str = "", field_selector: str = "",
                 retry_delay: float = 0.5):
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.retry_delay = retry_delay
        self.items: dict[str, T] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self._handlers: list[Handler] = []
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- configuration --------------------------------------------------------------------
    def add_handler(self, on_add: Callable[[Any], None] | None = None,
                    on_update: Callable[[Any, Any], None] | None = None,
                    on_delete: Callable[[Any], None] | None = None) -> None:
        handler = Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add:
            for obj in list(self.items.values()):
                self._call(on_add, obj)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        if name in self._indexers:
            return
        self._indexers[name] = func
        index: dict[str, set[str]] = collections.defaultdict(set)
        for key, obj in self.items.items():
            for value in func(obj):
                index[value].add(key)
        self._indices[name] = index

    # -- reading --------------------------------------------------------------------------
    def get(self, key: str) -> T | None:
        return self.items.get(key)

    def get_by_name(self, namespace: str, name: str) -> T | None:
        return self.items.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str = "") -> builtins.list[T]:
        if not namespace:
            return list(self.items.values())
        if "namespace" in self._indices:
            return self.by_index("namespace", namespace)
        return [o for o in self.items.values() if o.metadata.namespace == namespace]  # type: ignore[attr-defined]

    def resolve_ref(self, kind: str, namespace: str, ref: Any) -> T | None:
        """The object an owner reference in ``namespace`` names, if it is of ``kind`` and still
        the same object (UID), as Kubernetes' resolveControllerRef."""
        if ref.kind != kind:
            return None
        found = self.get_by_name(namespace, ref.name)
        if found is None or found.metadata.uid != ref.uid:  # type: ignore[attr-defined]
            return None
        return found

    def selecting(self, obj: Any, selector_of: Callable[[T], Selector | None]) -> builtins.list[T]:
        """Objects in ``obj``'s namespace whose selector matches its labels: the owners that may
        adopt an orphan. An object without labels has none, and a missing or empty selector
        selects nothing (not everything)."""
        if not obj.metadata.labels:
            return []
        found = []
        for owner in self.list(obj.metadata.namespace):
            selector = selector_of(owner)
            if selector is not None and not selector.empty() and \
                    selector.matches(obj.metadata.labels):
                found.append(owner)
        return found

    def by_index(self, name: str, value: str) -> builtins.list[T]:
        keys = self._indices[name].get(value, ())
        return [self.items[k] for k in keys if k in self.items]

    def has_synced(self) -> bool:
        return self.synced.is_set()

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.kind.__name__}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        # Python 3.11's asyncio.wait_for (the watch cache waits with it) can swallow a
        # cancellation that races with the awaited event (gh-86296); the watch loop then runs
        # on and a leader that lost its lease never finished stopping. Cancel until it ends.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()

    async def run(self) -> None:
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                async for event in self.client.watch(
                        self.kind, self.namespace, label_selector=self.label_selector,
                        field_selector=self.field_selector,
                        resource_version=self.resource_version, allow_bookmarks=True):
                    if event.type == "BOOKMARK":
                        self.resource_version = event.resource_version
                        continue
                    self._apply(event.type, event.object)
                    self.resource_version = event.resource_version
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                if exc.code == Code.OUT_OF_RANGE:
                    log.info("informer %s: %s; re-listing", self.kind.__name__, exc)
                    self.resource_version = ""
                    continue
                log.warning("informer %s: %s", self.kind.__name__, exc)
                await asyncio.sleep(self.retry_delay)
            except Exception as exc:
                log.warning("informer %s watch failed: %r", self.kind.__name__, exc)
                await asyncio.sleep(self.retry_delay)

    async def _relist(self) -> None:
        result = await self.client.list(self.kind, self.namespace,
                                        label_selector=self.label_selector,
                                        field_selector=self.field_selector)
        fresh = {key_of(o): o for o in result.items}  # type: ignore[arg-type]
        for key in [k for k in self.items if k not in fresh]:
            self._apply("DELETED", self.items[key])
        for key, obj in fresh.items():
            old = self.items.get(key)
            if old is None:
                self._apply("ADDED", obj)
            elif old.metadata.resource_version != obj.metadata.resource_version:  # type: ignore[attr-defined]
                self._apply("MODIFIED", obj)
        self.resource_version = result.resource_version
        self.synced.set()

    def _apply(self, kind: str, obj: Any) -> None:
        key = key_of(obj)
        old = self.items.get(key)
        if kind == "DELETED":
            if old is None:
                return
            del self.items[key]
            self._reindex(key, old, None)
            for h in self._handlers:
                if h.on_delete:
                    self._call(h.on_delete, obj)
            return
        self.items[key] = obj
        self._reindex(key, old, obj)
        for h in self._handlers:
            if old is None:
                if h.on_add:
                    self._call(h.on_add, obj)
            elif h.on_update:
                self._call(h.on_update, old, obj)

    def _reindex(self, key: str, old: Any, new: Any) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            if old is not None:
                for value in func(old):
                    group = index.get(value)
                    if group is not None:
                        group.discard(key)
                        if not group:
                            del index[value]
            if new is not None:
                for value in func(new):
                    index[value].add(key)

    @staticmethod
    def _call(func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except Exception:
            log.exception("informer handler failed")


class InformerFactory:
    """One shared informer per kind for every controller in the process."""

    def __init__(self, client: ApiClient):
        self.client = client
        self._informers: dict[type[Message], Informer[Any]] = {}
        self._started = False

    def informer(self, kind: type[T]) -> Informer[T]:
        found = self._informers.get(kind)
        if found is None:
            found = Informer(self.client, kind)
            found.add_indexer("namespace", by_namespace)
            self._informers[kind] = found
            if self._started:
                found.start()
        return found

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))

    async def stop(self) -> None:
        for informer in self._informers.values():
            await informer.stop()
