"""Server-side read-modify-write starts from the watch cache's copy, or from this process's own
later write the cache has not shown yet; a stale copy must never decide the outcome (real etcd,
an in-process API whose watch cache is stopped to make it stale, and a second API on the same
etcd for the writes of another control plane).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from controlplane.apiserver.api import Api
from controlplane.apiserver.registry import DeleteOptions
from controlplane.storage import ConflictError
from controlplane.storage.etcd import EtcdStore
from kemu.api.errors import ApiError, Code
from kemu.v1 import core_pb2

pytestmark = pytest.mark.integration


def _name() -> str:
    return f"cached-{uuid.uuid4().hex[:10]}"


async def _config_map(api: Api, name: str, value: str) -> core_pb2.ConfigMap:
    config = core_pb2.ConfigMap()
    config.metadata.name = name
    config.metadata.namespace = "default"
    config.data["value"] = value
    created: core_pb2.ConfigMap = await api.registry("ConfigMap").create(config)
    assert await api.cache.wait_for_revision(int(created.metadata.resource_version), 5)
    return created


def _copy_with(config: core_pb2.ConfigMap, value: str) -> core_pb2.ConfigMap:
    copy = core_pb2.ConfigMap()
    copy.CopyFrom(config)
    copy.data["value"] = value
    return copy


async def _changed_behind_the_cache(api: Api, other: Api, name: str) -> None:
    """ConfigMap ``name`` created with value "one", then the cache stopped (it keeps that
    copy) and the stored object changed to "two" by another control plane."""
    created = await _config_map(api, name, "one")
    await api.cache.stop()
    newer = _copy_with(created, "two")
    await other.registry("ConfigMap").update(newer)


def _count_reads(store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The keys read from etcd from now on, until ``monkeypatch.undo()`` (the reads still go
    to the real store)."""
    reads: list[bytes] = []
    read = store.get

    async def counted_read(key: bytes) -> object:
        reads.append(key)
        return await read(key)

    monkeypatch.setattr(store, "get", counted_read)
    return reads


def _count_writes(store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """"stored" or "conflict" for every compare-and-swap update from now on, until
    ``monkeypatch.undo()`` (the writes still go to the real store)."""
    outcomes: list[str] = []
    write = store.update

    async def counted_write(*args: object, **kwargs: object) -> object:
        try:
            written = await write(*args, **kwargs)  # type: ignore[arg-type]
        except ConflictError:
            outcomes.append("conflict")
            raise
        outcomes.append("stored")
        return written

    monkeypatch.setattr(store, "update", counted_write)
    return outcomes


def _add(key: str, value: str) -> Callable[[core_pb2.ConfigMap], core_pb2.ConfigMap]:
    def add(config: core_pb2.ConfigMap) -> core_pb2.ConfigMap:
        config.data[key] = value
        return config
    return add


async def test_fresh_cache_update_applies_the_change(api: Api) -> None:
    name = _name()
    await _config_map(api, name, "one")

    def add(config: core_pb2.ConfigMap) -> core_pb2.ConfigMap:
        config.data["extra"] = "yes"
        return config

    updated = await api.registry("ConfigMap").guaranteed_update("default", name, add)
    stored = await api.registry("ConfigMap").get("default", name)
    assert dict(stored.data) == {"value": "one", "extra": "yes"}
    assert stored.metadata.resource_version == updated.metadata.resource_version


async def test_stale_cache_copy_never_loses_a_newer_write(api: Api, other: Api) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    created = await _config_map(api, name, "one")
    await api.cache.stop()  # from here on the cache holds the old copy
    newer = _copy_with(created, "two")
    await other.registry("ConfigMap").update(newer)

    def add(config: core_pb2.ConfigMap) -> core_pb2.ConfigMap:
        config.data["extra"] = "yes"
        return config

    await registry.guaranteed_update("default", name, add)
    stored = await registry.get("default", name)
    assert dict(stored.data) == {"value": "two", "extra": "yes"}


async def test_a_conflict_on_the_stale_copy_retries_from_what_the_write_found(
        api: Api, other: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    await _changed_behind_the_cache(api, other, name)
    reads = _count_reads(store, monkeypatch)

    def add(config: core_pb2.ConfigMap) -> core_pb2.ConfigMap:
        config.data["extra"] = "yes"
        return config

    await registry.guaranteed_update("default", name, add)
    # The failed compare-and-swap returned the stored object; the retry started from it.
    assert reads == []
    monkeypatch.undo()
    stored = await registry.get("default", name)
    assert dict(stored.data) == {"value": "two", "extra": "yes"}


async def test_no_change_on_a_stale_copy_is_checked_against_the_stored_object(
        api: Api, other: Api) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    await _changed_behind_the_cache(api, other, name)

    def set_one(config: core_pb2.ConfigMap) -> core_pb2.ConfigMap | None:
        if config.data["value"] == "one":
            return None  # nothing to do, judged on the stale copy
        config.data["value"] = "one"
        return config

    result = await registry.guaranteed_update("default", name, set_one)
    stored = await registry.get("default", name)
    assert stored.data["value"] == "one"
    assert result.metadata.resource_version == stored.metadata.resource_version


async def test_a_refusal_comes_from_the_stored_object_not_the_stale_copy(
        api: Api, other: Api) -> None:
    name = _name()
    pod = core_pb2.Pod()
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.spec.containers.add(name="app", image="nginx:1.25")
    created = await api.registry("Pod").create(pod)
    assert await api.cache.wait_for_revision(int(created.metadata.resource_version), 5)
    await api.cache.stop()  # the cache will keep showing the pod unbound
    await other.bind("default", name, "node-a")
    with pytest.raises(ApiError) as refused:
        await api.bind("default", name, "node-b")
    assert refused.value.code == Code.ABORTED
    assert 'already assigned to node "node-a"' in refused.value.message
    stored = await api.registry("Pod").get("default", name)
    assert stored.spec.node_name == "node-a"


async def test_update_is_judged_on_the_stored_revision_whatever_the_cache_holds(
        api: Api, other: Api) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    created = await _config_map(api, name, "one")
    await api.cache.stop()  # the cache keeps the created version
    newer = _copy_with(created, "two")
    second = await other.registry("ConfigMap").update(newer)
    # A writer still holding the first version: refused, though the cache shows that version.
    stale = _copy_with(created, "three")
    with pytest.raises(ApiError) as refused:
        await registry.update(stale)
    assert refused.value.code == Code.ABORTED
    # A writer holding the stored version: accepted, though the cache has not seen it.
    current = _copy_with(second, "four")
    await registry.update(current)
    assert (await registry.get("default", name)).data["value"] == "four"


async def test_an_update_older_than_the_cached_version_is_refused_without_reading_etcd(
        api: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    created = await _config_map(api, name, "one")
    newer = _copy_with(created, "two")
    second = await registry.update(newer)
    assert await api.cache.wait_for_revision(int(second.metadata.resource_version), 5)
    reads = _count_reads(store, monkeypatch)
    stale = _copy_with(created, "three")
    with pytest.raises(ApiError) as refused:
        await registry.update(stale)
    assert refused.value.code == Code.ABORTED
    assert reads == []
    monkeypatch.undo()
    assert (await registry.get("default", name)).data["value"] == "two"


async def test_a_read_modify_write_starts_from_this_process_own_write_the_cache_has_not_shown(
        api: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Lease renewed again before the cache shows the last renewal: one compare-and-swap,
    not a failed one on the cache's older copy and a second."""
    registry = api.registry("ConfigMap")
    name = _name()
    await _config_map(api, name, "one")
    await api.cache.stop()
    await registry.guaranteed_update("default", name, _add("first", "yes"))
    reads, writes = _count_reads(store, monkeypatch), _count_writes(store, monkeypatch)
    await registry.guaranteed_update("default", name, _add("second", "yes"))
    assert (reads, writes) == ([], ["stored"])
    monkeypatch.undo()
    stored = await registry.get("default", name)
    assert dict(stored.data) == {"value": "one", "first": "yes", "second": "yes"}


async def test_an_update_naming_this_process_own_unseen_write_needs_no_read(
        api: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    created = await _config_map(api, name, "one")
    await api.cache.stop()
    second = await registry.update(_copy_with(created, "two"))
    reads, writes = _count_reads(store, monkeypatch), _count_writes(store, monkeypatch)
    third = await registry.update(_copy_with(second, "three"))
    # And the version it replaced is now stale, though the cache still shows an older one.
    with pytest.raises(ApiError) as refused:
        await registry.update(_copy_with(second, "four"))
    assert refused.value.code == Code.ABORTED
    assert (reads, writes) == ([], ["stored"])
    monkeypatch.undo()
    stored = await registry.get("default", name)
    assert (stored.data["value"], stored.metadata.resource_version) == \
        ("three", third.metadata.resource_version)


async def test_another_writer_after_this_process_own_write_is_not_overwritten(
        api: Api, other: Api, store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    await _config_map(api, name, "one")
    await api.cache.stop()
    await registry.guaranteed_update("default", name, _add("ours", "first"))
    await other.registry("ConfigMap").guaranteed_update("default", name, _add("theirs", "yes"))
    writes = _count_writes(store, monkeypatch)
    await registry.guaranteed_update("default", name, _add("ours", "second"))
    # Our remembered write was stale: its compare-and-swap failed, the retry kept their change.
    assert writes == ["conflict", "stored"]
    monkeypatch.undo()
    stored = await registry.get("default", name)
    assert dict(stored.data) == {"value": "one", "ours": "second", "theirs": "yes"}


async def test_a_deleted_object_is_no_longer_a_base(api: Api) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    await _config_map(api, name, "one")
    await api.cache.stop()
    await registry.guaranteed_update("default", name, _add("first", "yes"))
    await registry.delete("default", name, DeleteOptions())
    with pytest.raises(ApiError) as missing:
        await registry.guaranteed_update("default", name, _add("second", "yes"))
    assert missing.value.code == Code.NOT_FOUND


async def test_a_remembered_write_is_dropped_once_the_cache_shows_it(api: Api) -> None:
    registry = api.registry("ConfigMap")
    name = _name()
    await _config_map(api, name, "one")
    updated = await registry.guaranteed_update("default", name, _add("first", "yes"))
    key = registry.key("default", name)
    assert await api.cache.wait_for_revision(int(updated.metadata.resource_version), 5)
    assert key not in api.cache.by_kind["ConfigMap"].written
    assert api.cache.latest(registry.kind, key) is api.cache.get(registry.kind, key)
