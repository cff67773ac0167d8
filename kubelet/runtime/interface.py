"""The container runtime interface the kubelet drives (the CRI, reduced to what kemu needs).

The kubelet decides *when* (pull, create, start, stop, probe, restart); the runtime decides
*what happens* (how long a pull takes, whether a container exits and with which code, what a
probe answers). ``kubelet.runtime.fake.FakeRuntime`` is the implementation kemu ships.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kemu.v1 import core_pb2


class ContainerState(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"


class ProbeKind(enum.StrEnum):
    READINESS = "Readiness"
    LIVENESS = "Liveness"
    STARTUP = "Startup"


class ImagePullError(Exception):
    """The image could not be pulled; ``str(error)`` is the runtime's message."""


class ContainerConfigError(Exception):
    """The container cannot be created from its configuration (CreateContainerConfigError)."""


@dataclass(frozen=True)
class ContainerConfig:
    """What a container is created from."""

    pod_uid: str
    pod_namespace: str
    pod_name: str
    name: str
    image: str
    # command + args, or args alone when the image's entrypoint is used.
    argv: tuple[str, ...] = ()
    # The pod's annotations (the fake runtime's behaviour knobs live there).
    annotations: Mapping[str, str] = field(default_factory=dict)
    # The pod's main container: the one un-suffixed behaviour annotations apply to.
    main: bool = False
    # Probes the container declares, so a runtime can word its probe answers.
    probes: Mapping[ProbeKind, core_pb2.Probe] = field(default_factory=dict)
    # Called (from the event loop) when the container exits.
    on_exit: Callable[[], None] | None = None


@dataclass
class ContainerInfo:
    """A container as the runtime sees it. Times are wall-clock seconds (0: not yet)."""

    id: str
    name: str
    image: str
    image_id: str
    state: ContainerState
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class ProbeResult:
    success: bool
    output: str = ""
    # A promise that the answer stays the same until this monotonic time (inf: for good;
    # None: no promise). Lets the kubelet skip probe runs that cannot change anything.
    unchanged_until: float | None = None


class ContainerRuntime(Protocol):
    name: str
    version: str

    def image_present(self, image: str) -> bool: ...

    async def pull_image(self, config: ContainerConfig) -> tuple[str, int]:
        """Pull ``config.image`` for that container (the pod's annotations travel with it, as
        CRI's sandbox config carries them); returns (image ID, size in bytes). Raises
        ImagePullError."""

    def image_id(self, image: str) -> str: ...

    async def create_container(self, config: ContainerConfig) -> str:
        """A new container in state CREATED; returns its ID. Raises ContainerConfigError."""

    async def start_container(self, container_id: str) -> None:
        """Start a CREATED container; returns once it runs."""

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """Ask the container to stop (SIGTERM); kill it (SIGKILL) if it still runs after
        ``timeout`` seconds. Returns once it has exited. Calling again with a shorter timeout
        shortens the wait."""

    def container_status(self, container_id: str) -> ContainerInfo: ...

    def remove_container(self, container_id: str) -> None: ...

    async def probe(self, container_id: str, kind: ProbeKind) -> ProbeResult: ...

    def builtin_probes(self, container_id: str) -> frozenset[ProbeKind]:
        """Health checks the container brings itself (like an image's HEALTHCHECK); the kubelet
        runs them where the pod declares no probe of that kind."""

    def recover_container(self, config: ContainerConfig, container_id: str, image_id: str,
                          started_at: float) -> str:
        """Attach to a container that ran before this kubelet process started (a real runtime
        outlives the kubelet; the fake one re-creates it, running since ``started_at``)."""
