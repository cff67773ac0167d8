"""Which event loop ``kemu controlplane`` and ``kemu kubelet`` run on."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from launcher import eventloop

pytestmark = pytest.mark.unit


async def running_loop() -> asyncio.AbstractEventLoop:
    await asyncio.sleep(0)
    return asyncio.get_running_loop()


def test_default_is_uvloop() -> None:
    assert isinstance(eventloop.run(running_loop()), uvloop.Loop)


def test_asyncio_runs_the_standard_loop() -> None:
    loop = eventloop.run(running_loop(), "asyncio")
    assert not isinstance(loop, uvloop.Loop)
    assert type(loop).__module__.startswith("asyncio.")


def test_the_loop_is_closed_afterwards_and_the_result_returned() -> None:
    async def answer() -> tuple[asyncio.AbstractEventLoop, int]:
        return asyncio.get_running_loop(), 42

    loop, value = eventloop.run(answer(), "uvloop")
    assert value == 42
    assert loop.is_closed()


def test_the_running_loop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="kemu.eventloop"):
        eventloop.run(running_loop(), "uvloop")
    assert "event loop: uvloop.Loop" in caplog.text


def test_an_unknown_loop_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"event loop: Unsupported value: 'tokio': "
                                         r"supported values: uvloop, asyncio"):
        eventloop.run(running_loop(), "tokio")
