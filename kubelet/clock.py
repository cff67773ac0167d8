"""Time for the kubelet: one injected clock, so time logic is testable without waiting.

Everything in the kubelet that waits, schedules or stamps a time asks a ``Clock``.
``LoopClock`` is the event loop's own time; ``FakeClock`` (after trio's MockClock) only moves
when a test advances it, firing due timers in order, so a test of probes, back-off or pod
lifecycle covers minutes of behaviour in milliseconds, deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: deadlines and durations."""

    def time(self) -> float:
        """Seconds since the epoch: timestamps written into objects."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once ``monotonic()`` reaches ``when``."""


async def sleep_until(clock: Clock, when: float) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    timer = clock.call_at(when, wake)
    try:
        await future
    finally:
        timer.cancel()


async def sleep(clock: Clock, seconds: float) -> None:
    await sleep_until(clock, clock.monotonic() + max(0.0, seconds))


async def wait_until(clock: Clock, event: asyncio.Event, when: float | None) -> bool:
    """Wait for ``event`` or for ``when`` (None: no deadline); True if the event is set."""
    if event.is_set():
        return True
    if when is None:
        await event.wait()
        return True
    if when <= clock.monotonic():
        return False
    timer = clock.call_at(when, event.set)
    try:
        await event.wait()
    finally:
        timer.cancel()
    return when > clock.monotonic()


class LoopClock:
    """The running event loop's clock (monotonic) and the system's wall clock."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def time(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_at(when, callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that stands still until ``advance`` moves it (for tests and simulations)."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0):
        self._now = start
        self._wall_offset = wall_offset
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._sequence = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._wall_offset

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._timers, (when, next(self._sequence), timer))
        return timer

    def next_deadline(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def settle(self, rounds: int = 30) -> None:
        """Let every task that can run at the current time run."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing each due timer at its own time and letting tasks react."""
        target = self._now + seconds
        await self.settle()
        while True:
            when = self.next_deadline()
            if when is None or when > target:
                break
            _, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            timer.callback()
            await self.settle()
        self._now = target
        await self.settle()
