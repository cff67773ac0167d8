"""The fake container runtime: a real ContainerRuntime whose containers are timers.

Pulls take ``timing.image_pull_delay``, starts ``timing.container_start_delay``; a container
runs until its scripted exit (``kubelet.runtime.behaviour``) or until it is stopped, and its
probes answer from the same script. No process is spawned: a running container costs one
small object and at most one timer, so a node can hold hundreds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
from dataclasses import dataclass, field

from kemu.timing import Timing
from kubelet.clock import Clock, Timer, sleep
from kubelet.runtime.behaviour import Behaviour, behaviour_of, image_pull_error
from kubelet.runtime.interface import (
    ContainerConfig,
    ContainerInfo,
    ContainerState,
    ImagePullError,
    ProbeKind,
    ProbeResult,
)

log = logging.getLogger(__name__)

SIGKILL_EXIT = 137


def normalize_image(image: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``, as containerd reports images."""
    name, digest = image, ""
    if "@" in image:
        name, digest = image.split("@", 1)
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _digest(image: str) -> str:
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


@dataclass
class _Container:
    info: ContainerInfo
    config: ContainerConfig
    behaviour: Behaviour
    started_mono: float = 0.0
    timer: Timer | None = None
    kill_at: float = math.inf
    exited: asyncio.Event = field(default_factory=asyncio.Event)


class FakeRuntime:
    """``ContainerRuntime`` for emulated nodes (see docs/runtime.md for the behaviour knobs)."""

    name = "kemu"
    version = "0.1.0"

    def __init__(self, clock: Clock, timing: Timing):
        self.clock = clock
        self.timing = timing
        self._images: dict[str, str] = {}
        self._pulling: dict[str, asyncio.Future[str]] = {}
        self._containers: dict[str, _Container] = {}

    # -- images ---------------------------------------------------------------------------
    def image_present(self, image: str) -> bool:
        return normalize_image(image) in self._images

    def image_id(self, image: str) -> str:
        ref = normalize_image(image)
        return self._images.get(ref) or f"{ref.split('@')[0].rsplit(':', 1)[0]}@{_digest(ref)}"

    async def pull_image(self, config: ContainerConfig) -> tuple[str, int]:
        ref = normalize_image(config.image)
        size = 1_000_000 + int(_digest(ref)[7:13], 16) % 100_000_000
        failure = image_pull_error(config.annotations, config.name, config.main)
        if failure is not None:
            await sleep(self.clock, self.timing.image_pull_delay)
            raise ImagePullError(failure or f"rpc error: code = NotFound desc = failed to pull and "
                                 f'unpack image "{ref}": {ref}: not found')
        pending = self._pulling.get(ref)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pulling[ref] = pending
            try:
                await sleep(self.clock, self.timing.image_pull_delay)
            finally:
                del self._pulling[ref]
            self._images[ref] = self.image_id(ref)
            pending.set_result(self._images[ref])
        return await asyncio.shield(pending), size

    # -- containers -----------------------------------------------------------------------
    async def create_container(self, config: ContainerConfig) -> str:
        behaviour = behaviour_of(config.argv, config.annotations, config.name, config.main,
                                 self.timing.scale)
        container_id = os.urandom(32).hex()
        self._containers[container_id] = _Container(
            ContainerInfo(id=container_id, name=config.name, image=normalize_image(config.image),
                          image_id=self.image_id(config.image), state=ContainerState.CREATED,
                          created_at=self.clock.time()),
            config, behaviour)
        return container_id

    async def start_container(self, container_id: str) -> None:
        container = self._containers[container_id]
        if container.info.state is not ContainerState.CREATED:
            raise RuntimeError(f"container {container_id[:12]} is {container.info.state}")
        await sleep(self.clock, self.timing.container_start_delay)
        if container.info.state is not ContainerState.CREATED:
            return
        self._run(container, self.clock.monotonic(), self.clock.time())

    def recover_container(self, config: ContainerConfig, container_id: str, image_id: str,
                          started_at: float) -> str:
        behaviour = behaviour_of(config.argv, config.annotations, config.name, config.main,
                                 self.timing.scale)
        container = _Container(
            ContainerInfo(id=container_id, name=config.name, image=normalize_image(config.image),
                          image_id=image_id or self.image_id(config.image),
                          state=ContainerState.CREATED, created_at=started_at),
            config, behaviour)
        self._containers[container_id] = container
        ref = normalize_image(config.image)
        self._images.setdefault(ref, container.info.image_id)
        elapsed = max(0.0, self.clock.time() - started_at)
        self._run(container, self.clock.monotonic() - elapsed, started_at)
        return container_id

    def _run(self, container: _Container, started_mono: float, started_wall: float) -> None:
        container.info.state = ContainerState.RUNNING
        container.info.started_at = started_wall
        container.started_mono = started_mono
        exit_after = container.behaviour.exit_after
        if exit_after <= 0:
            # `sh -c "exit 1"`, `true`: gone before anyone could see it run.
            self._exit(container, container.behaviour.exit_code)
        elif exit_after != math.inf:
            code = container.behaviour.exit_code
            container.timer = self.clock.call_at(started_mono + exit_after,
                                                 lambda: self._exit(container, code))

    def _exit(self, container: _Container, code: int, reason: str = "") -> None:
        if container.info.state is ContainerState.EXITED:
            return
        if container.timer is not None:
            container.timer.cancel()
            container.timer = None
        info = container.info
        info.state = ContainerState.EXITED
        info.finished_at = self.clock.time()
        info.exit_code = code
        info.reason = reason or ("Completed" if code == 0 else "Error")
        container.exited.set()
        if container.config.on_exit is not None:
            container.config.on_exit()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        container = self._containers.get(container_id)
        if container is None:
            return
        if container.info.state is ContainerState.CREATED:
            self._exit(container, SIGKILL_EXIT)
        if container.info.state is ContainerState.EXITED:
            return
        now = self.clock.monotonic()
        grace = max(0.0, timeout)
        stops_by_itself = container.behaviour.terminate_after <= grace
        when = now + min(container.behaviour.terminate_after, grace)
        if when < container.kill_at:
            container.kill_at = when
            if container.timer is not None:
                container.timer.cancel()
            code = 0 if stops_by_itself else SIGKILL_EXIT
            if when <= now:
                self._exit(container, code)
            else:
                container.timer = self.clock.call_at(when, lambda: self._exit(container, code))
        await container.exited.wait()

    def container_status(self, container_id: str) -> ContainerInfo:
        return self._containers[container_id].info

    def remove_container(self, container_id: str) -> None:
        container = self._containers.pop(container_id, None)
        if container is not None and container.timer is not None:
            container.timer.cancel()

    def container_count(self) -> int:
        return sum(1 for c in self._containers.values() if c.info.state is ContainerState.RUNNING)

    # -- probes ---------------------------------------------------------------------------
    async def probe(self, container_id: str, kind: ProbeKind) -> ProbeResult:
        container = self._containers.get(container_id)
        if container is None or container.info.state is not ContainerState.RUNNING:
            return ProbeResult(False, "container is not running", None)
        b = container.behaviour
        start = container.started_mono
        elapsed = self.clock.monotonic() - start
        if kind is ProbeKind.READINESS:
            if elapsed < b.ready_after:
                return ProbeResult(False, self._failure(container, kind), start + b.ready_after)
            if elapsed < b.not_ready_after:
                return ProbeResult(True, "", start + b.not_ready_after)
            return ProbeResult(False, self._failure(container, kind), math.inf)
        if kind is ProbeKind.LIVENESS:
            if elapsed < b.liveness_fail_after:
                return ProbeResult(True, "", start + b.liveness_fail_after)
            return ProbeResult(False, self._failure(container, kind), math.inf)
        if elapsed < b.startup_after:
            return ProbeResult(False, self._failure(container, kind), start + b.startup_after)
        return ProbeResult(True, "", math.inf)

    def builtin_probes(self, container_id: str) -> frozenset[ProbeKind]:
        """The checks a container's annotations script (see ``Behaviour``)."""
        container = self._containers.get(container_id)
        if container is None:
            return frozenset()
        b = container.behaviour
        kinds = set()
        if b.scripted_readiness:
            kinds.add(ProbeKind.READINESS)
        if b.scripted_liveness:
            kinds.add(ProbeKind.LIVENESS)
        if b.startup_after > 0:
            kinds.add(ProbeKind.STARTUP)
        return frozenset(kinds)

    @staticmethod
    def _failure(container: _Container, kind: ProbeKind) -> str:
        """What a failing probe of this kind would print, worded after the kubelet's probers."""
        probe = container.config.probes.get(kind)
        if probe is None:
            return f"{kind.lower()} check failed (scripted by kemu.io/ annotations)"
        if probe.HasField("http_get"):
            return "HTTP probe failed with statuscode: 503"
        if probe.HasField("tcp_socket"):
            port = probe.tcp_socket.port
            number = port.int_value if port.HasField("int_value") else port.string_value
            return f"dial tcp :{number}: connect: connection refused"
        if probe.HasField("grpc"):
            return f'timeout: failed to connect service ":{probe.grpc.port}" within 1s'
        if probe.HasField("exec"):
            return f"command {' '.join(probe.exec.command)!r} exited with code 1"
        return "probe failed"
