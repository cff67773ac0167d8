"""Events are not held by the watch cache (as in Kubernetes); their gets, lists and watches go to
etcd and behave as every other kind's (real etcd, an in-process API)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.apiserver import keys
from controlplane.apiserver.api import Api
from controlplane.apiserver.registry import DeleteOptions, Registry
from controlplane.apiserver.watchcache import ADDED, DELETED, MODIFIED, CacheEvent, Filter
from controlplane.storage.etcd import EtcdStore, prefix_end
from kemu.api import fields
from kemu.api.kinds import by_name
from kemu.timing import FAST
from kemu.v1 import core_pb2

pytestmark = pytest.mark.integration

EVENT = by_name("Event")


@pytest.fixture
def events(api: Api) -> Registry:
    return api.registry(EVENT)


async def _namespace(api: Api) -> str:
    """A namespace of the test's own: lists and watches see no other test's events."""
    namespace = core_pb2.Namespace()
    namespace.metadata.name = f"ev-{uuid.uuid4().hex[:8]}"
    await api.registry("Namespace").create(namespace)
    return namespace.metadata.name


def _event(namespace: str, about: str, reason: str = "Started") -> core_pb2.Event:
    event = core_pb2.Event(reason=reason, message=f"{reason} {about}", type="Normal", count=1)
    event.metadata.name = f"{about}.{uuid.uuid4().hex[:12]}"  # as the kubelet names them
    event.metadata.namespace = namespace
    event.involved_object.kind = "Pod"
    event.involved_object.namespace = namespace
    event.involved_object.name = about
    return event


def _about(namespace: str, name: str) -> Filter:
    return Filter(namespace=namespace,
                  fields=fields.parse(f"involvedObject.name={name}", EVENT))


async def _next(watch: AsyncIterator[CacheEvent]) -> tuple[str, str, str]:
    event = await asyncio.wait_for(anext(watch), 10)
    return event.type, event.obj.involved_object.name, event.obj.reason


async def _drain(watch: Any) -> None:
    await watch.aclose()


async def test_an_event_is_served_from_etcd_not_held_by_the_cache(api: Api,
                                                                   events: Registry) -> None:
    namespace = await _namespace(api)
    created = await events.create(_event(namespace, "web-1"))
    key = events.key(namespace, created.metadata.name)
    assert not api.cache.holds(EVENT)
    assert api.cache.get(EVENT, key) is None
    assert api.cache.latest(EVENT, key) is None
    fetched = await events.get(namespace, created.metadata.name)
    assert fetched.metadata.resource_version == created.metadata.resource_version
    listed, _ = await events.list(Filter(namespace=namespace))
    assert [e.metadata.name for e in listed] == [created.metadata.name]


async def test_an_event_is_stored_outside_the_range_the_cache_watches(
        api: Api, events: Registry, store: EtcdStore) -> None:
    namespace = await _namespace(api)
    created = await events.create(_event(namespace, "web-1"))
    key = keys.object_key(EVENT, namespace, created.metadata.name)
    assert key.startswith(keys.UNCACHED_ROOT)
    assert not keys.ROOT <= key < prefix_end(keys.ROOT)  # the cache's one etcd watch
    stored = await store.get(key)
    assert stored is not None
    assert stored.mod_revision == int(created.metadata.resource_version)
    assert keys.resource_of(key) == "events"


def _count_store_calls(store: EtcdStore, monkeypatch: pytest.MonkeyPatch,
                       names: tuple[str, ...]) -> list[str]:
    """The calls of ``names`` made on ``store`` from now on (they still reach etcd)."""
    calls: list[str] = []
    for name in names:
        real = getattr(store, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


async def _config_map(api: Api, namespace: str) -> core_pb2.ConfigMap:
    config = core_pb2.ConfigMap()
    config.metadata.name = f"cm-{uuid.uuid4().hex[:8]}"
    config.metadata.namespace = namespace
    created: core_pb2.ConfigMap = await api.registry("ConfigMap").create(config)
    return created


async def test_a_consistent_list_after_an_event_is_served_fresh_from_the_cache(
        api: Api, other: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last write before the list is an Event, which never reaches the cache: the list
    must still see the ConfigMap another control plane wrote just before, and be served from
    the cache (a progress mark), not by timing out and listing etcd."""
    namespace = await _namespace(api)
    config = await _config_map(other, namespace)
    await other.registry(EVENT).create(_event(namespace, config.metadata.name))
    calls = _count_store_calls(store, monkeypatch, ("list", "touch"))
    listed, revision = await api.registry("ConfigMap").list(Filter(namespace=namespace))
    assert [c.metadata.name for c in listed] == [config.metadata.name]
    assert revision > int(config.metadata.resource_version)
    assert calls == ["touch"]
    assert keys.PROGRESS_KEY not in api.cache.by_kind["ConfigMap"].objects


async def test_a_consistent_list_behind_only_on_cached_writes_writes_no_mark(
        store: EtcdStore, other: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache reaches etcd's revision by itself when the last write was of a cached kind: no
    mark is written (a long mark delay here, so a slow machine cannot make one)."""
    patient = Api(store, dataclasses.replace(FAST, consistent_read_mark_delay=10.0))
    await patient.start()
    try:
        namespace = await _namespace(patient)
        config = await _config_map(other, namespace)
        calls = _count_store_calls(store, monkeypatch, ("list", "touch"))
        listed, _ = await patient.registry("ConfigMap").list(Filter(namespace=namespace))
        assert [c.metadata.name for c in listed] == [config.metadata.name]
        assert calls == []
    finally:
        await patient.stop()


async def test_consistent_lists_waiting_together_share_one_progress_mark(
        api: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = await _namespace(api)
    config = await _config_map(api, namespace)
    await api.registry(EVENT).create(_event(namespace, config.metadata.name))
    calls = _count_store_calls(store, monkeypatch, ("list", "touch"))
    # The lists wait together: each has read etcd's revision before any goes on to wait for the
    # cache. (Unheld, on a loaded machine they read it tens of ms apart, and a list that read it
    # after the first mark landed needed a mark of its own: 3 marks in one CI run.)
    readers = 10
    all_read = asyncio.Event()
    real_revision = store.current_revision
    read: list[int] = []

    async def read_together() -> int:
        revision = await real_revision()
        read.append(revision)
        if len(read) == readers:
            all_read.set()
        await all_read.wait()
        return revision

    monkeypatch.setattr(store, "current_revision", read_together)
    lists = await asyncio.gather(*(api.registry("ConfigMap").list(Filter(namespace=namespace))
                                   for _ in range(readers)))
    assert all([c.metadata.name for c in items] == [config.metadata.name] for items, _ in lists)
    assert len(read) == readers
    assert "list" not in calls
    assert calls.count("touch") == 1


async def test_lists_and_watches_select_by_field(api: Api, events: Registry) -> None:
    namespace = await _namespace(api)
    await events.create(_event(namespace, "web-1"))
    await events.create(_event(namespace, "web-2"))
    listed, revision = await events.list(_about(namespace, "web-2"))
    assert [e.involved_object.name for e in listed] == ["web-2"]
    watch = events.watch(_about(namespace, "web-1"), str(revision))
    try:
        await events.create(_event(namespace, "web-2", "Killing"))
        await events.create(_event(namespace, "web-1", "Killing"))
        assert await _next(watch) == (ADDED, "web-1", "Killing")
    finally:
        await _drain(watch)


async def test_a_watch_without_a_version_starts_with_the_events_there(
        api: Api, events: Registry) -> None:
    namespace = await _namespace(api)
    await events.create(_event(namespace, "web-1", "Pulled"))
    watch = events.watch(Filter(namespace=namespace), "")
    try:
        assert await _next(watch) == (ADDED, "web-1", "Pulled")
        await events.create(_event(namespace, "web-1", "Created"))
        assert await _next(watch) == (ADDED, "web-1", "Created")
    finally:
        await _drain(watch)


async def test_a_watch_from_a_version_sees_updates_and_deletes(
        api: Api, events: Registry) -> None:
    namespace = await _namespace(api)
    created = await events.create(_event(namespace, "web-1", "BackOff"))
    watch = events.watch(Filter(namespace=namespace), created.metadata.resource_version)
    try:
        def repeat(event: core_pb2.Event) -> core_pb2.Event:
            event.count += 1
            return event

        updated = await events.guaranteed_update(namespace, created.metadata.name, repeat)
        kind, _, _ = await _next(watch)
        assert kind == MODIFIED
        assert updated.count == 2
        await events.delete(namespace, created.metadata.name, DeleteOptions())
        assert await _next(watch) == (DELETED, "web-1", "BackOff")
    finally:
        await _drain(watch)
