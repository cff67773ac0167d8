"""Events are not held by the watch cache (as in Kubernetes); their gets, lists and watches go to
etcd and behave as every other kind's (real etcd, an in-process API)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.apiserver.api import Api
from controlplane.apiserver.registry import DeleteOptions, Registry
from controlplane.apiserver.watchcache import ADDED, DELETED, MODIFIED, CacheEvent, Filter
from kemu.api import fields
from kemu.api.kinds import by_name
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


async def test_the_cache_still_follows_event_revisions(api: Api, events: Registry) -> None:
    """Consistent lists of cached kinds wait for the cache to reach etcd's revision: an Event
    written last must not hold them up."""
    created = await events.create(_event(await _namespace(api), "web-1"))
    assert await api.cache.wait_for_revision(int(created.metadata.resource_version), 5)


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
