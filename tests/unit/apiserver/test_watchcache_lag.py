"""WatchCache.lag: how long the oldest write of this process has waited to reach the cache."""

from __future__ import annotations

import time
from typing import Any

import pytest

from controlplane.apiserver.objects import decode_object
from controlplane.apiserver.watchcache import WatchCache
from kemu.api.kinds import by_name

pytestmark = pytest.mark.unit

POD = by_name("Pod")


async def test_lag_counts_from_the_oldest_write_not_yet_applied() -> None:
    store: Any = None
    cache = WatchCache(store, decode_object)
    await cache._advance(10)
    assert cache.lag() == 0.0
    cache.note_written(POD, 9)  # already applied: not behind
    assert cache.lag() == 0.0
    before = time.monotonic()
    cache.note_written(POD, 11)
    cache.note_written(POD, 12)
    assert 0.0 <= cache.lag() <= time.monotonic() - before + 0.001
    await cache._advance(11)
    assert cache._unseen and cache._unseen[0][0] == 12
    await cache._advance(12)
    assert cache.lag() == 0.0


async def test_a_write_the_cache_does_not_hold_is_not_waited_for() -> None:
    """An Event is stored outside the cache's etcd watch: it never reaches the cache, so it
    must not count as the cache falling behind."""
    store: Any = None
    cache = WatchCache(store, decode_object)
    await cache._advance(10)
    cache.note_written(by_name("Event"), 11)
    assert cache.lag() == 0.0
    assert not cache._unseen
