"""Runs the controllers while this control plane holds the leader lease.

On becoming leader it builds fresh informers and controllers; on losing the lease it stops them
all, and campaigns again. Several control planes can therefore run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from controlplane.controllers import catalog  # noqa: F401 - registers the controllers
from controlplane.controllers.base import Controller
from controlplane.controllers.informer import InformerFactory
from controlplane.controllers.registry import CONTROLLERS, ControllerContext
from controlplane.leaderelection import LeaderElector
from controlplane.leaderguard import LeaderGuardedClient

if TYPE_CHECKING:
    from controlplane.server import ControlPlane

log = logging.getLogger(__name__)


def enabled(names: list[str]) -> list[str]:
    chosen = sorted(CONTROLLERS) if "*" in names else []
    for name in names:
        if name == "*":
            continue
        if name.startswith("-"):
            chosen = [c for c in chosen if c != name[1:]]
        elif name in CONTROLLERS:
            chosen.append(name)
        else:
            raise ValueError(f"unknown controller {name!r}; known: {', '.join(sorted(CONTROLLERS))}")
    return chosen


async def start_controllers(plane: ControlPlane) -> Callable[[], Awaitable[None]]:
    assert plane.client is not None
    client = plane.client
    config = plane.config
    names = enabled(config.controllers)
    elector = LeaderElector(client, config.identity, config.timing)
    view_lag = plane.api.cache.lag if plane.api is not None else (lambda: 0.0)

    async def lead() -> None:
        informers = InformerFactory(client)
        guarded = LeaderGuardedClient(client, elector.is_leader, config.identity)
        context = ControllerContext(guarded, informers, config.timing, elector.is_leader,
                                    config.identity, view_lag)
        controllers: list[Controller] = [CONTROLLERS[name](context) for name in names]
        informers.start()
        try:
            await informers.wait_synced()
            for controller in controllers:
                await controller.start()
            log.info("controllers running: %s", ", ".join(names) or "none")
            await asyncio.Event().wait()
        finally:
            for controller in controllers:
                with contextlib.suppress(Exception):
                    await controller.stop()
            await informers.stop()

    task = asyncio.create_task(elector.run(lead), name="leader-election")
    plane.elector = elector

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await elector.release()

    return stop
