"""The storage contract against a real etcd."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from controlplane.storage import (
    CompactedError,
    ConflictError,
    EventType,
    KeyExistsError,
    KeyNotFoundError,
)
from controlplane.storage.etcd import EtcdStore, prefix_end

pytestmark = pytest.mark.integration


def unique_prefix() -> bytes:
    return f"/test/{uuid.uuid4().hex}/".encode()


def test_prefix_end() -> None:
    assert prefix_end(b"/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"


async def test_create_is_create_if_absent(store: EtcdStore) -> None:
    key = unique_prefix() + b"x"
    first = await store.create(key, b"one")
    assert first.create_revision == first.mod_revision
    with pytest.raises(KeyExistsError):
        await store.create(key, b"two")
    got = await store.get(key)
    assert got is not None and got.value == b"one"


async def test_update_is_compare_and_swap(store: EtcdStore) -> None:
    key = unique_prefix() + b"x"
    created = await store.create(key, b"v1")
    updated = await store.update(key, b"v2", created.mod_revision)
    assert updated.mod_revision > created.mod_revision
    assert updated.create_revision == created.create_revision
    with pytest.raises(ConflictError) as stale:
        await store.update(key, b"v3", created.mod_revision)
    assert stale.value.current is not None and stale.value.current.value == b"v2"
    with pytest.raises(KeyNotFoundError):
        await store.update(unique_prefix() + b"missing", b"v", 1)


async def test_delete_guards_on_revision(store: EtcdStore) -> None:
    key = unique_prefix() + b"x"
    created = await store.create(key, b"v1")
    await store.update(key, b"v2", created.mod_revision)
    with pytest.raises(ConflictError):
        await store.delete(key, created.mod_revision)
    gone = await store.delete(key)
    assert gone.value == b"v2"
    assert await store.get(key) is None
    with pytest.raises(KeyNotFoundError):
        await store.delete(key)


async def test_list_pages_at_one_revision(store: EtcdStore) -> None:
    prefix = unique_prefix()
    for i in range(2500):  # more than one page
        await store.create(prefix + f"{i:05d}".encode(), str(i).encode())
    items, revision = await store.list(prefix)
    assert [kv.value for kv in items] == [str(i).encode() for i in range(2500)]
    await store.create(prefix + b"later", b"x")
    earlier, at = await store.list(prefix, revision)
    assert at == revision and len(earlier) == 2500


async def test_twenty_concurrent_writers_lose_nothing(store: EtcdStore) -> None:
    key = unique_prefix() + b"counter"
    await store.create(key, b"")
    conflicts = 0

    async def writer(name: str) -> None:
        nonlocal conflicts
        while True:
            current = await store.get(key)
            assert current is not None
            try:
                await store.update(key, current.value + name.encode() + b",", current.mod_revision)
                return
            except ConflictError:
                conflicts += 1

    await asyncio.gather(*(writer(f"w{i}") for i in range(20)))
    final = await store.get(key)
    assert final is not None
    assert sorted(final.value.decode().strip(",").split(",")) == sorted(f"w{i}" for i in range(20))
    assert conflicts > 0, "the writers never raced; the test proves nothing"


async def test_watch_from_revision_sees_every_change(store: EtcdStore) -> None:
    prefix = unique_prefix()
    start = await store.current_revision()
    a = await store.create(prefix + b"a", b"1")
    await store.update(prefix + b"a", b"2", a.mod_revision)
    await store.create(prefix + b"b", b"1")
    await store.delete(prefix + b"a")
    seen = []
    async for event in store.watch(prefix, start):
        seen.append((event.type, event.kv.key[len(prefix):], event.kv.value,
                     event.prev.value if event.prev else None, event.is_create))
        if len(seen) == 4:
            break
    assert seen == [
        (EventType.PUT, b"a", b"1", None, True),
        (EventType.PUT, b"a", b"2", b"1", False),
        (EventType.PUT, b"b", b"1", None, True),
        (EventType.DELETE, b"a", b"", b"2", False),
    ]


async def test_compacted_history_is_too_old(store: EtcdStore) -> None:
    prefix = unique_prefix()
    first = await store.create(prefix + b"a", b"1")
    second = await store.update(prefix + b"a", b"2", first.mod_revision)
    await store.compact(second.mod_revision)
    with pytest.raises(CompactedError):
        async for _ in store.watch(prefix, first.mod_revision - 1):
            pass
    with pytest.raises(CompactedError):
        await store.list(prefix, first.mod_revision)


async def test_ttl_keys_expire(store: EtcdStore) -> None:
    key = unique_prefix() + b"event"
    await store.create(key, b"x", ttl_seconds=1)
    assert await store.get(key) is not None


async def test_touch_writes_an_empty_value_whatever_is_there(store: EtcdStore) -> None:
    key = unique_prefix() + b"mark"
    first = await store.touch(key)
    second = await store.touch(key)
    assert second > first
    stored = await store.get(key)
    assert stored is not None
    assert (stored.value, stored.create_revision, stored.mod_revision) == (b"", first, second)
    assert await store.current_revision() >= second
