"""The asyncio event loop the long-running processes (control plane, kubelet) run on.

uvloop by default: the control plane's one loop thread is what limits pod throughput, and
on uvloop the same work takes less of it (docs/benchmarks.md, sixth round). ``asyncio`` runs
the standard library's loop instead, e.g. to compare the two or to rule uvloop out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("kemu.eventloop")

LOOPS = ("uvloop", "asyncio")
DEFAULT_LOOP = "uvloop"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The constructor of the event loop called ``name``."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if name == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"event loop: Unsupported value: {name!r}: supported values: {', '.join(LOOPS)}")


def run(main: Coroutine[Any, Any, T], loop: str = DEFAULT_LOOP) -> T:
    """``asyncio.run(main)`` on the event loop called ``loop``."""
    try:
        factory = loop_factory(loop)
    except ValueError:
        main.close()  # never to run: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_announced(main))


async def _announced(main: Coroutine[Any, Any, T]) -> T:
    """Logs the class of the loop that really runs, then runs ``main``."""
    running = type(asyncio.get_running_loop())
    logger.info("event loop: %s.%s", running.__module__, running.__qualname__)
    return await main
