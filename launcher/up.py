"""``kemu up``: a whole cluster on this machine in one command.

It starts the control plane (with its embedded etcd) and N kubelet processes, shows a live
summary of nodes and pods, accepts ``kemu node add|stop|kill|freeze|thaw|restart|list`` through a
control socket, and tears everything down on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher import control
from launcher.cluster import LocalCluster


@dataclass
class UpConfig:
    nodes: int = 3
    folder: Path = Path(".kemu/up")
    listen_port: int = 6443
    timing_profile: str = "default"
    timing_overrides: dict[str, str] = field(default_factory=dict)
    node_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    fresh: bool = False
    summary_interval: float = 1.0
    log_level: str = "info"


def parse_node_labels(text: str) -> dict[str, dict[str, str]]:
    """``node-1:disk=ssd,zone=a;node-2:zone=b`` → per-node label maps."""
    out: dict[str, dict[str, str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, labels = part.partition(":")
        if not sep:
            raise ValueError(f"expected NODE:key=value,... in {part!r}")
        out[name.strip()] = parse_labels(labels)
    return out


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {item!r}")
        labels[key.strip()] = value.strip()
    return labels


class Up:
    def __init__(self, config: UpConfig):
        self.config = config
        if config.fresh and config.folder.exists():
            shutil.rmtree(config.folder)
        config.folder.mkdir(parents=True, exist_ok=True)
        self.cluster = LocalCluster(config.folder, timing_profile=config.timing_profile,
                                    timing_overrides=config.timing_overrides,
                                    etcd_unsafe_no_fsync=False, log_level=config.log_level)
        self.process_state: dict[str, str] = {}

    def node_name(self, index: int) -> str:
        return f"node-{index}"

    def start(self) -> None:
        print(f"kemu up: starting the control plane (logs in {self.config.folder / 'logs'})",
              flush=True)
        with contextlib.suppress(FileNotFoundError):
            (self.config.folder / control.SOCKET_NAME).unlink()
        self.cluster.start_control_plane(port=self.config.listen_port)
        for i in range(1, self.config.nodes + 1):
            self.add_node(self.node_name(i), {})
        print(f"kemu up: API on {self.cluster.address}; try: kemuctl --server "
              f"{self.cluster.address} get nodes", flush=True)

    def add_node(self, name: str, labels: Mapping[str, str], taints: list[str] | None = None
                 ) -> str:
        if name in self.cluster.nodes and self.cluster.nodes[name].alive():
            raise ValueError(f"node {name} is already running")
        merged = {**self.config.common_labels, **self.config.node_labels.get(name, {}),
                  **labels}
        process = self.cluster.add_node(name, merged, taints or [])
        self.process_state[name] = "running"
        return f"{name} started (pid {process.pid})"

    def handle(self, request: dict[str, Any]) -> str:
        op = request.get("op", "")
        name = str(request.get("name", ""))
        if op == "list":
            return self.process_table()
        if op == "add":
            if not name:
                name = self.node_name(len(self.cluster.nodes) + 1)
                while name in self.cluster.nodes:
                    name = self.node_name(int(name.split("-")[1]) + 1)
            return self.add_node(name, request.get("labels") or {}, request.get("taints") or [])
        if name not in self.cluster.nodes:
            raise ValueError(f"no node named {name!r}; known: {', '.join(self.cluster.nodes)}")
        process = self.cluster.nodes[name]
        if op == "kill":
            pid = process.pid
            self.cluster.kill_node(name)
            self.process_state[name] = "killed"
            return f"{name} killed with SIGKILL (pid {pid})"
        if op == "stop":
            self.cluster.stop_node(name)
            self.process_state[name] = "stopped"
            return f"{name} stopped with SIGTERM"
        if op == "freeze":
            self.cluster.freeze_node(name)
            self.process_state[name] = "frozen"
            return f"{name} frozen with SIGSTOP (pid {process.pid})"
        if op == "thaw":
            self.cluster.thaw_node(name)
            self.process_state[name] = "running"
            return f"{name} thawed with SIGCONT (pid {process.pid})"
        if op == "restart":
            restarted = self.cluster.restart_node(name)
            self.process_state[name] = "running"
            return f"{name} restarted (pid {restarted.pid})"
        raise ValueError(f"unknown operation {op!r}")

    def process_table(self) -> str:
        lines = [f"{'NODE':<16}{'PROCESS':<10}PID"]
        for name, process in sorted(self.cluster.nodes.items()):
            state = self.process_state.get(name, "running")
            if state in ("running", "frozen") and not process.alive():
                state = "exited"
            lines.append(f"{name:<16}{state:<10}{process.pid if process.alive() else '-'}")
        return "\n".join(lines)

    async def summary(self, client: GrpcClient) -> str:
        nodes = (await client.list(core_pb2.Node)).items
        pods = (await client.list(core_pb2.Pod)).items
        per_node: dict[str, int] = {}
        pending = 0
        for pod in pods:
            if pod.spec.node_name:
                per_node[pod.spec.node_name] = per_node.get(pod.spec.node_name, 0) + 1
            else:
                pending += 1
        lines = [time.strftime("%H:%M:%S") + f"  {len(nodes)} nodes, {len(pods)} pods "
                 f"({pending} unscheduled)   API {self.cluster.address}   Ctrl-C stops all",
                 f"{'NODE':<16}{'STATUS':<26}{'PROCESS':<10}{'PODS':<6}LABELS"]
        for node in sorted(nodes, key=lambda n: n.metadata.name):
            name = node.metadata.name
            ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "")
            status = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
            if node.spec.unschedulable:
                status += ",SchedulingDisabled"
            state = self.process_state.get(name, "-")
            process = self.cluster.nodes.get(name)
            if process is not None and state in ("running", "frozen") and not process.alive():
                state = "exited"
            labels = ",".join(f"{k}={v}" for k, v in sorted(node.metadata.labels.items())
                              if not k.startswith(("kubernetes.io/", "beta.kubernetes.io/")))
            lines.append(f"{name:<16}{status:<26}{state:<10}{per_node.get(name, 0):<6}"
                         f"{labels or '<none>'}")
        return "\n".join(lines)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await control.serve(self.config.folder / control.SOCKET_NAME, self.handle)
        interactive = sys.stdout.isatty()
        last = ""
        async with GrpcClient(self.cluster.address) as client:
            while not stop.is_set():
                try:
                    text = await self.summary(client)
                except ApiError as exc:
                    text = f"(API not answering: {exc})"
                if interactive:
                    print("\x1b[H\x1b[2J" + text, flush=True)
                elif text.split("\n", 1)[-1] != last:
                    print(text, flush=True)
                last = text.split("\n", 1)[-1]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.summary_interval)
        server.close()
        await server.wait_closed()

    def stop(self) -> None:
        print("kemu up: stopping nodes and the control plane", flush=True)
        self.cluster.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.config.folder / control.SOCKET_NAME).unlink()


def run_up(config: UpConfig) -> None:
    up = Up(config)
    try:
        up.start()
        asyncio.run(up.run())
    finally:
        up.stop()
