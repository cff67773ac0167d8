"""Which I/O path gRPC takes in kemu's processes (launcher/grpc_io.py): the choice, the user's
own value, and a process that imported gRPC too early to choose."""

from __future__ import annotations

import os
import sys
import types

import pytest

from launcher import grpc_io

pytestmark = pytest.mark.unit


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """As a process that has not imported gRPC yet and whose environment does not name it."""
    monkeypatch.delitem(sys.modules, "grpc", raising=False)
    # setenv first, so that the variable configure() sets is removed again afterwards.
    monkeypatch.setenv(grpc_io.ENVIRONMENT_VARIABLE, "")
    monkeypatch.delenv(grpc_io.ENVIRONMENT_VARIABLE)
    monkeypatch.setattr(grpc_io, "_chosen", None)
    return monkeypatch


def test_the_io_manager_is_chosen_before_grpc_is_imported(fresh: pytest.MonkeyPatch) -> None:
    grpc_io.configure()
    assert os.environ[grpc_io.ENVIRONMENT_VARIABLE] == grpc_io.IOMGR
    assert grpc_io.describe() == "I/O manager"


@pytest.mark.parametrize(("value", "described"), [
    ("", "EventEngine (gRPC's defaults)"),
    ("-event_engine_client", "GRPC_EXPERIMENTS=-event_engine_client"),
])
def test_a_value_in_the_environment_is_kept(fresh: pytest.MonkeyPatch, value: str,
                                            described: str) -> None:
    fresh.setenv(grpc_io.ENVIRONMENT_VARIABLE, value)
    grpc_io.configure()
    assert os.environ[grpc_io.ENVIRONMENT_VARIABLE] == value
    assert grpc_io.describe() == described


def test_too_late_once_grpc_is_imported(fresh: pytest.MonkeyPatch) -> None:
    fresh.setitem(sys.modules, "grpc", types.ModuleType("grpc"))
    grpc_io.configure()
    assert grpc_io.ENVIRONMENT_VARIABLE not in os.environ
    assert grpc_io.describe() == "as gRPC was imported (before kemu could choose)"


def test_announced_in_the_log(fresh: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
                              ) -> None:
    grpc_io.configure()
    with caplog.at_level("INFO", logger="kemu.grpc"):
        grpc_io.announce()
    assert "gRPC I/O: I/O manager" in caplog.text
