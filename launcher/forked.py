"""Kubelet processes forked from a zygote (launcher/zygote.py), managed like any other.

``ForkedProcess`` is a ManagedProcess whose process comes from the zygote instead of a fresh
interpreter: one OS process per node all the same, but starting in milliseconds and sharing
its imported code with every other node. It is not a child of this process, so it is watched
through a pidfd, which stays bound to that process even after its pid is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from launcher.cluster import ManagedProcess


class Zygote:
    """The ``python -m launcher.zygote`` process and its request pipe."""

    def __init__(self, env: dict[str, str], log_path: Path):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "launcher.zygote"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, env=env, text=True, start_new_session=True)
        self._lock = threading.Lock()

    def spawn(self, argv: list[str], log_path: Path, env: dict[str, str]) -> int:
        """Fork a child running ``kemu <argv>``; its pid."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = json.dumps({"argv": argv, "log": str(log_path), "env": env})
        with self._lock:
            self.process.stdin.write(request + "\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline().strip()
        if not reply.isdigit():
            raise RuntimeError(f"the kubelet zygote could not fork: {reply or 'it exited'}")
        return int(reply)

    def stop(self) -> None:
        """Close the request pipe (the zygote exits; its children live on) and wait."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class ForkedProcess(ManagedProcess):
    zygote: Zygote | None = None
    _pid: int = 0
    _pidfd: int = field(default=-1, repr=False)

    @property
    def pid(self) -> int:
        return self._pid

    def start(self) -> None:
        assert self.zygote is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_pidfd()
        # The command is "python -m launcher.main <argv>"; the zygote runs launcher.main.
        self._pid = self.zygote.spawn(self.command[3:], self.log_path, self.env)
        self._pidfd = os.pidfd_open(self._pid)

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    def _exited(self, timeout: float = 0.0) -> bool:
        if self._pidfd < 0:
            return True
        readable, _, _ = select.select([self._pidfd], [], [], timeout)
        return bool(readable)

    def alive(self) -> bool:
        return not self._exited()

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._exited(max(0.0, min(0.1, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (thawing a frozen process first), then SIGKILL after ``timeout``."""
        if not self.alive():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if not self._wait(timeout):
            self.kill()

    def kill(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            self._wait(10.0)
