"""What ``kemu controlplane`` sets up in its own process before serving: the event loop it
runs on, its garbage collector threshold and gRPC's I/O path, by default and as configured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher import collector
from launcher.cluster import LocalCluster
from tests.support.grpc_threads import event_engine_switches

pytestmark = pytest.mark.integration


def test_defaults_uvloop_and_a_high_collector_threshold(shared_control_plane: LocalCluster
                                                        ) -> None:
    log = shared_control_plane.control_planes["controlplane"].log_path.read_text()
    assert "event loop: uvloop.Loop" in log
    assert (f"youngest generation collected after {collector.CONTROLPLANE_THRESHOLD} "
            "allocations") in log


def test_configured_from_the_environment(make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="",
                           extra_env={"KEMU_EVENT_LOOP": "asyncio", "KEMU_GC_THRESHOLD": "700"})
    plane = cluster.start_control_plane()
    log = plane.log_path.read_text()
    assert "event loop: asyncio." in log
    assert "youngest generation collected after 700 allocations" in log


CALLS = 200


async def _event_engine_switches_per_call(plane: LocalCluster) -> float:
    """How often gRPC's EventEngine threads in the control plane switch per API call served."""
    pid = plane.control_planes["controlplane"].pid
    async with GrpcClient(plane.address) as client:
        await client.list(core_pb2.Namespace)
        before = event_engine_switches(pid)
        for _ in range(CALLS):
            await client.list(core_pb2.Namespace)
        return (event_engine_switches(pid) - before) / CALLS


async def test_calls_are_served_without_the_event_engine_threads(
        shared_control_plane: LocalCluster) -> None:
    log = shared_control_plane.control_planes["controlplane"].log_path.read_text()
    assert "gRPC I/O: I/O manager" in log
    # Measured: 0.1-0.4 a call (timers and the process's own background work, 30-50
    # switches a second when idle, also land there).
    assert await _event_engine_switches_per_call(shared_control_plane) < 2


async def test_grpc_defaults_when_the_environment_asks(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="", extra_env={"GRPC_EXPERIMENTS": ""})
    plane = cluster.start_control_plane()
    assert "gRPC I/O: EventEngine (gRPC's defaults)" in plane.log_path.read_text()
    # The measure above can tell: by default those threads switch about ten times a call.
    assert await _event_engine_switches_per_call(cluster) > 5  # measured: 10-12


@pytest.mark.parametrize(("flag", "value", "complaint"), [
    ("--gc-threshold", "0", "0 is not in the range x>=1"),
    ("--event-loop", "tokio", "'tokio' is not one of 'uvloop', 'asyncio'"),
])
def test_bad_settings_are_refused_naming_the_flag(flag: str, value: str, complaint: str) -> None:
    result = subprocess.run([sys.executable, "-m", "launcher.main", "controlplane", flag, value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"Invalid value for '{flag}'" in result.stderr
    assert complaint in result.stderr
