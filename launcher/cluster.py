"""A local cluster of real processes: one or more control planes, optionally an external etcd,
and one kubelet process per node. ``kemu up``, the integration tests, the chaos suite and the
benchmarks all drive clusters through this class.

Each process writes its log to ``<workdir>/logs/<name>.log``; nodes can be killed, frozen,
thawed and restarted by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.etcd_process import free_port


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    address: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env,
                                            start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (thawing a frozen process first), then SIGKILL after ``timeout``."""
        if not self.alive():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class NodeSpec:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[str] = field(default_factory=list)
    capacity: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)


def _python_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "launcher.main", *args]


class LocalCluster:
    def __init__(self, workdir: Path, *, timing_profile: str = "fast",
                 timing_overrides: Mapping[str, str] | None = None,
                 etcd_unsafe_no_fsync: bool = True, controllers: str = "*",
                 external_etcd: bool = False, log_level: str = "info",
                 extra_env: Mapping[str, str] | None = None, kubelet_launcher: str = "exec"):
        self.workdir = workdir
        self.timing_profile = timing_profile
        self.timing_overrides = dict(timing_overrides or {})
        self.etcd_unsafe_no_fsync = etcd_unsafe_no_fsync
        self.controllers = controllers
        self.log_level = log_level
        self.external_etcd = external_etcd
        self.env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
        self.etcd: ManagedProcess | None = None
        self.etcd_endpoint = ""
        self.control_planes: dict[str, ManagedProcess] = {}
        self.nodes: dict[str, ManagedProcess] = {}
        self.node_specs: dict[str, NodeSpec] = {}
        # "exec": each kubelet a fresh interpreter; "fork": forked from a preloaded zygote
        # (launcher/zygote.py), still one process per node, with far less memory per node.
        if kubelet_launcher not in ("exec", "fork"):
            raise ValueError(f"kubelet_launcher must be 'exec' or 'fork', not {kubelet_launcher!r}")
        self.kubelet_launcher = kubelet_launcher
        self._zygote: Any = None

    # -- addresses ------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The API address of the first live control plane."""
        for plane in self.control_planes.values():
            if plane.alive() and plane.address:
                return plane.address
        for plane in self.control_planes.values():
            if plane.address:
                return plane.address
        raise RuntimeError("no control plane is running")

    def servers(self) -> list[str]:
        return [p.address for p in self.control_planes.values() if p.address]

    def _timing_args(self) -> list[str]:
        args = ["--timing-profile", self.timing_profile]
        for name, value in self.timing_overrides.items():
            args += ["--timing", f"{name}={value}"]
        return args

    # -- etcd -----------------------------------------------------------------------------
    def start_etcd(self) -> str:
        from controlplane.etcd_process import etcd_binary

        client, peer = free_port(), free_port()
        endpoint = f"http://127.0.0.1:{client}"
        command = [str(etcd_binary()), "--name", "kemu", "--data-dir",
                   str(self.workdir / "etcd"), "--listen-client-urls", endpoint,
                   "--advertise-client-urls", endpoint,
                   "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                   "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                   "--initial-cluster", f"kemu=http://127.0.0.1:{peer}", "--log-level", "error"]
        if self.etcd_unsafe_no_fsync:
            command.append("--unsafe-no-fsync")
        self.etcd = ManagedProcess("etcd", command, self.workdir / "logs" / "etcd.log", self.env)
        self.etcd.start()
        self.etcd_endpoint = endpoint
        return endpoint

    def restart_etcd(self) -> None:
        assert self.etcd is not None
        self.etcd.stop()
        self.etcd.start()

    # -- control planes -------------------------------------------------------------------
    def start_control_plane(self, name: str = "controlplane", port: int = 0,
                            extra_args: Sequence[str] = (), wait: float = 60.0) -> ManagedProcess:
        if self.external_etcd and self.etcd is None:
            self.start_etcd()
        ready = self.workdir / f"{name}.ready"
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        existing = self.control_planes.get(name)
        listen_port = port or (int(existing.address.rsplit(":", 1)[1]) if existing and
                               existing.address else free_port())
        args = ["controlplane", "--listen", f"127.0.0.1:{listen_port}",
                "--data-dir", str(self.workdir / name), "--ready-file", str(ready),
                "--controllers", self.controllers, "--identity", name,
                "--log-level", self.log_level, *self._timing_args(), *extra_args]
        if self.etcd_endpoint:
            args += ["--etcd-endpoints", self.etcd_endpoint]
        elif self.etcd_unsafe_no_fsync:
            args.append("--etcd-unsafe-no-fsync")
        plane = ManagedProcess(name, _python_command(*args), self.workdir / "logs" / f"{name}.log",
                               self.env)
        plane.start()
        self.control_planes[name] = plane
        self._wait_ready(plane, ready, wait)
        return plane

    def _wait_ready(self, plane: ManagedProcess, ready: Path, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if ready.exists() and ready.read_text().strip():
                plane.address = ready.read_text().strip()
                return
            if not plane.alive():
                raise RuntimeError(f"{plane.name} exited:\n{plane.log_tail()}")
            time.sleep(0.05)
        raise TimeoutError(f"{plane.name} not ready after {wait}s:\n{plane.log_tail()}")

    def restart_control_plane(self, name: str = "controlplane", hard: bool = False) -> None:
        plane = self.control_planes[name]
        if hard:
            plane.kill()
        else:
            plane.stop()
        self.start_control_plane(name)

    # -- nodes ----------------------------------------------------------------------------
    def add_node(self, name: str, labels: Mapping[str, str] | None = None,
                 taints: Sequence[str] = (), capacity: Mapping[str, str] | None = None,
                 extra_args: Sequence[str] = ()) -> ManagedProcess:
        spec = NodeSpec(name, dict(labels or {}), list(taints), dict(capacity or {}),
                        list(extra_args))
        self.node_specs[name] = spec
        process = self._node_process(spec)
        process.start()
        self.nodes[name] = process
        return process

    def _node_process(self, spec: NodeSpec) -> ManagedProcess:
        command = self._kubelet_command(spec)
        log = self.workdir / "logs" / f"{spec.name}.log"
        if self.kubelet_launcher == "fork":
            from launcher.forked import ForkedProcess, Zygote

            if self._zygote is None:
                self._zygote = Zygote(self.env, self.workdir / "logs" / "zygote.log")
            return ForkedProcess(spec.name, command, log, self.env, zygote=self._zygote)
        return ManagedProcess(spec.name, command, log, self.env)

    def _kubelet_command(self, spec: NodeSpec) -> list[str]:
        args = ["kubelet", "--node-name", spec.name, "--server", ",".join(self.servers()),
                "--log-level", self.log_level, *self._timing_args()]
        if spec.labels:
            args += ["--labels", ",".join(f"{k}={v}" for k, v in spec.labels.items())]
        if spec.taints:
            args += ["--taints", ",".join(spec.taints)]
        if spec.capacity:
            args += ["--capacity", ",".join(f"{k}={v}" for k, v in spec.capacity.items())]
        return _python_command(*args, *spec.extra_args)

    def kill_node(self, name: str) -> None:
        self.nodes[name].kill()

    def freeze_node(self, name: str) -> None:
        self.nodes[name].signal(signal.SIGSTOP)

    def thaw_node(self, name: str) -> None:
        self.nodes[name].signal(signal.SIGCONT)

    def stop_node(self, name: str) -> None:
        self.nodes[name].stop()

    def restart_node(self, name: str) -> ManagedProcess:
        self.nodes[name].stop()
        process = self._node_process(self.node_specs[name])
        process.start()
        self.nodes[name] = process
        return process

    # -- teardown -------------------------------------------------------------------------
    def stop(self) -> None:
        for process in self.nodes.values():
            process.stop(timeout=5)
        if self._zygote is not None:
            self._zygote.stop()
        for plane in self.control_planes.values():
            plane.stop(timeout=15)
        if self.etcd:
            self.etcd.stop()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
