"""The controller loop: workers take keys from the queue and call ``sync(key)``.

A sync that raises is retried with backoff; one that returns normally is forgotten. Workers
stop acting the moment leadership is in doubt (``is_leader`` false), so a control plane that
was frozen and lost its lease does not write on stale state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from controlplane.controllers.workqueue import ShutDownError, WorkQueue
from controlplane.metrics import WORKQUEUE_DEPTH, WORKQUEUE_SYNCS
from kemu.api.errors import ApiError, Code

log = logging.getLogger(__name__)


class Controller:
    """Subclasses set ``name`` and implement ``sync``; handlers call ``enqueue``."""

    name = "controller"
    workers = 1

    def __init__(self, queue_base_delay: float = 0.005, queue_max_delay: float = 1000.0,
                 is_leader: Callable[[], bool] = lambda: True):
        self.queue = WorkQueue(self.name, queue_base_delay, queue_max_delay)
        self.is_leader = is_leader
        self._tasks: list[asyncio.Task[None]] = []

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Start workers (and any loops of the controller's own)."""
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-{i}"))

    def spawn(self, coroutine: object, name: str) -> None:
        """Run a background loop that stops with the controller."""
        self._tasks.append(asyncio.create_task(coroutine, name=f"{self.name}-{name}"))  # type: ignore[arg-type]

    async def stop(self) -> None:
        self.queue.shut_down()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDownError:
                return
            WORKQUEUE_DEPTH.labels(self.name).set(len(self.queue))
            try:
                if not self.is_leader():
                    self.queue.add_after(key, 0.1)
                    continue
                await self.sync(key)
                self.queue.forget(key)
                WORKQUEUE_SYNCS.labels(self.name, "ok").inc()
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                WORKQUEUE_SYNCS.labels(self.name, "error").inc()
                level = logging.DEBUG if exc.code in (Code.ABORTED, Code.NOT_FOUND,
                                                      Code.ALREADY_EXISTS) else logging.WARNING
                log.log(level, "%s: sync %s failed: %s", self.name, key, exc)
                self.queue.add_rate_limited(key)
            except Exception:
                WORKQUEUE_SYNCS.labels(self.name, "error").inc()
                log.exception("%s: sync %s failed", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
