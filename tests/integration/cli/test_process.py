"""kemuctl as a process: the console entry point, KEMU_SERVER and --server, an unreachable
server, and ``get -w`` streaming rows as objects change."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from controlplane.etcd_process import free_port
from launcher.cluster import LocalCluster
from tests.integration.cli.conftest import Api
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.integration

KEMUCTL = [sys.executable, "-m", "kemuctl"]


def environment(server: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KEMU_SERVER"}
    if server is not None:
        env["KEMU_SERVER"] = server
    return env


def test_console_script_and_server_from_the_environment(shared_control_plane: LocalCluster
                                                        ) -> None:
    script = Path(sys.executable).parent / "kemuctl"
    result = subprocess.run([str(script), "get", "ns", "default"], capture_output=True, text=True,
                            env=environment(shared_control_plane.address), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:4] == ["NAME", "STATUS", "AGE", "default"]


def test_unreachable_server(shared_control_plane: LocalCluster) -> None:
    dead = f"127.0.0.1:{free_port()}"
    result = subprocess.run([*KEMUCTL, "get", "pods"], capture_output=True, text=True,
                            env=environment(dead), timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"The connection to the server {dead} was refused - did you "
                                     "specify the right host or port?")
    # --server after the command wins over the environment.
    flagged = subprocess.run([*KEMUCTL, "get", "ns", "default", "--server",
                              shared_control_plane.address], capture_output=True, text=True,
                             env=environment(dead), timeout=60)
    assert flagged.returncode == 0, flagged.stderr


def test_watch_prints_rows_as_objects_change(shared_control_plane: LocalCluster, api: Api,
                                             namespace: str) -> None:
    api.create("Pod", {"metadata": {"name": "first", "namespace": namespace},
                       "spec": {"containers": [{"name": "c", "image": "x"}]}})
    with subprocess.Popen([*KEMUCTL, "get", "pods", "-w", "-n", namespace],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env=environment(shared_control_plane.address)) as watcher:
        lines: list[str] = []

        def read() -> None:
            assert watcher.stdout is not None
            for line in watcher.stdout:
                lines.append(line.rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            eventually_sync(lambda: len(lines) >= 2, timeout=60, what="the initial listing")
            assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
            assert lines[1].split()[0] == "first"
            api.create("Pod", {"metadata": {"name": "second", "namespace": namespace},
                               "spec": {"containers": [{"name": "c", "image": "x"}]}})
            eventually_sync(lambda: any(line.split()[:1] == ["second"] for line in lines),
                            timeout=60, what="a row for the new pod")
            api.set_status("Pod", "first", namespace, {"phase": "Running"})
            eventually_sync(lambda: any(line.split()[:3] == ["first", "0/1", "Running"]
                                        for line in lines), timeout=60,
                            what="a row for the changed pod")
            assert lines.count(lines[0]) == 1, "the header prints once"
        finally:
            watcher.terminate()
            watcher.wait(timeout=30)
            reader.join(timeout=30)
