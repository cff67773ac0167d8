"""Waiting for a condition instead of sleeping for a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], *,
                     timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    """Call ``check`` until it returns a truthy value without raising AssertionError.

    Returns that value; on timeout raises AssertionError with the last failure.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    value: Any = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            detail = f": {last}" if last else f" (last value {value!r})"
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}{detail}")
        await asyncio.sleep(interval)


def eventually_sync(check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05,
                    what: str = "") -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: {last}")
        time.sleep(interval)
