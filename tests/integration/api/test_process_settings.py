"""What ``kemu controlplane`` sets up in its own process before serving: the event loop it
runs on and its garbage collector threshold, by default and as configured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from launcher import collector
from launcher.cluster import LocalCluster

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
