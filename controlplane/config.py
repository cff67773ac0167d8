"""The control plane's settings (data only; ``server.ControlPlane`` runs them)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from kemu.timing import DEFAULT, Timing


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}"


@dataclass
class ControlPlaneConfig:
    listen: str = "127.0.0.1:6443"
    # Empty: start and supervise a private etcd under data_dir.
    etcd_endpoints: list[str] = field(default_factory=list)
    data_dir: Path = Path(".kemu/controlplane")
    etcd_client_port: int = 0
    etcd_unsafe_no_fsync: bool = False
    timing: Timing = DEFAULT
    metrics_listen: str = ""
    identity: str = field(default_factory=default_identity)
    run_controllers: bool = True
    # Controllers to run ("*" for all, or names); see controlplane.controllers.
    controllers: list[str] = field(default_factory=lambda: ["*"])
    compaction_interval: float = 300.0
    watch_cache_capacity: int = 5000
