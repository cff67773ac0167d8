"""WatchCache._mark_after: consistent reads that wait together share one progress mark, a read
that comes after the mark was written still uses it, and a read newer than a finished mark
writes another (a store that only counts its marks)."""

from __future__ import annotations

import asyncio

import pytest

from controlplane.apiserver import keys
from controlplane.apiserver.objects import decode_object
from controlplane.apiserver.watchcache import WatchCache

pytestmark = pytest.mark.unit


class MarkingStore:
    """``touch`` gives the next revision once ``release`` is set; nothing else is called."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.touched: list[bytes] = []
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def touch(self, key: bytes) -> int:
        self.touched.append(key)
        self.asked.set()
        await self.release.wait()
        self.revision += 1
        return self.revision


async def test_reads_waiting_together_share_one_mark() -> None:
    store = MarkingStore(revision=10)
    store.release.clear()
    cache = WatchCache(store, decode_object)  # type: ignore[arg-type]
    waiting = [asyncio.create_task(cache._mark_after(r)) for r in (8, 9, 10, 10)]
    await store.asked.wait()
    store.release.set()
    assert await asyncio.gather(*waiting) == [11, 11, 11, 11]
    assert store.touched == [keys.PROGRESS_KEY]


async def test_a_read_newer_than_a_finished_mark_writes_another() -> None:
    """The mark is done (its waiters not yet resumed) when a read that began after it comes:
    awaiting the finished mark again would not yield, so that read must write a new one."""
    store = MarkingStore(revision=10)
    cache = WatchCache(store, decode_object)  # type: ignore[arg-type]
    finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    finished.set_result(5)
    cache._progress_mark = finished
    assert await asyncio.wait_for(cache._mark_after(10), 5) == 11
    assert store.touched == [keys.PROGRESS_KEY]


async def test_a_read_older_than_a_finished_mark_uses_it() -> None:
    """A read whose wait ran out just after the mark was written (on a busy loop, before the
    cache applied it): that mark is late enough, so no second one is written."""
    store = MarkingStore(revision=10)
    cache = WatchCache(store, decode_object)  # type: ignore[arg-type]
    assert await cache._mark_after(10) == 11
    assert await cache._mark_after(10) == 11
    assert await cache._mark_after(11) == 11
    assert store.touched == [keys.PROGRESS_KEY]
    assert await cache._mark_after(12) == 12


async def test_a_failed_mark_is_not_used() -> None:
    store = MarkingStore(revision=10)
    cache = WatchCache(store, decode_object)  # type: ignore[arg-type]
    failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    failed.set_exception(RuntimeError("etcd unavailable"))
    failed.exception()
    cache._progress_mark = failed
    assert await cache._mark_after(10) == 11
    assert store.touched == [keys.PROGRESS_KEY]
