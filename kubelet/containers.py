"""What the kubelet remembers about each container of a pod, and its API ContainerStatus.

A record follows one container name across its instances: the one the runtime has now, the
last one that exited, the one before (``lastState``), the restart count, the waiting reason
while nothing runs, and the probe workers of the current instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kemu.api.meta import now_rfc3339
from kemu.v1 import core_pb2
from kubelet.probes import Prober
from kubelet.runtime.interface import ContainerRuntime, ContainerState

UNKNOWN_EXIT = 137


@dataclass
class ContainerRecord:
    spec: core_pb2.Container
    init: bool = False
    sidecar: bool = False
    main: bool = False
    # Runtime ID of the current instance (created or running); "" when none.
    instance: str = ""
    # The latest instance once it exited, and the one before (shown as lastState).
    exited: core_pb2.ContainerStateTerminated | None = None
    previous: core_pb2.ContainerStateTerminated | None = None
    exited_at: float = 0.0
    ran_for: float = 0.0
    exit_by_probe: bool = False
    # The kubelet stopped the last instance to run a changed spec: it restarts whatever the
    # restartPolicy says.
    forced_restart: bool = False
    # The spec's image changed while an instance runs.
    changed: bool = False
    restart_count: int = 0
    waiting: tuple[str, str] | None = None
    image_id: str = ""
    # The image as the runtime names it (docker.io/library/nginx:1.25), once created.
    image_ref: str = ""
    ready: bool = False
    started: bool = False
    startup: Prober | None = None
    liveness: Prober | None = None
    readiness: Prober | None = None
    # Why the kubelet is stopping the current instance ("liveness", "startup", "pod").
    kill_reason: str = ""
    stop_deadline: float = math.inf
    # Earliest time to try again after an image pull or configuration failure.
    next_try: float = 0.0
    announced: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def succeeded(self) -> bool:
        """A run-to-completion container whose last instance exited 0 (and nothing runs)."""
        return not self.instance and self.exited is not None and self.exited.exit_code == 0

    def probers(self) -> list[Prober]:
        return [p for p in (self.startup, self.liveness, self.readiness) if p is not None]

    def clear_instance(self) -> None:
        self.instance = ""
        self.startup = self.liveness = self.readiness = None
        self.ready = self.started = False
        self.stop_deadline = math.inf

    def mark_unknown(self) -> None:
        """A container that never ran in a pod that is finished (what Kubernetes reports)."""
        if self.instance or self.exited is not None:
            return
        self.exited = core_pb2.ContainerStateTerminated(
            exit_code=UNKNOWN_EXIT, reason="ContainerStatusUnknown",
            message="The container could not be located when the pod was terminated")
        self.waiting = None


def terminated_state(runtime: ContainerRuntime, container_id: str
                     ) -> core_pb2.ContainerStateTerminated:
    info = runtime.container_status(container_id)
    return core_pb2.ContainerStateTerminated(
        exit_code=info.exit_code, reason=info.reason, message=info.message,
        started_at=now_rfc3339(info.started_at) if info.started_at else "",
        finished_at=now_rfc3339(info.finished_at),
        container_id=f"{runtime.name}://{container_id}")


def container_status(record: ContainerRecord, runtime: ContainerRuntime,
                     default_waiting: str) -> core_pb2.ContainerStatus:
    status = core_pb2.ContainerStatus(name=record.name, restart_count=record.restart_count,
                                      image_id=record.image_id,
                                      image=record.image_ref or record.spec.image,
                                      ready=record.ready, started=record.started)
    if record.instance:
        info = runtime.container_status(record.instance)
        status.image = info.image
        status.container_id = f"{runtime.name}://{record.instance}"
        if info.state is ContainerState.CREATED:
            status.state.waiting.reason = "ContainerCreating"
        else:
            # An exited instance not yet collected still shows as running until it is.
            status.state.running.started_at = now_rfc3339(info.started_at)
        if record.previous is not None:
            status.last_state.terminated.CopyFrom(record.previous)
        return status
    status.ready = status.started = False
    if record.init and not record.sidecar and record.succeeded:
        status.ready = True
    if record.exited is not None:
        status.container_id = record.exited.container_id
        if record.waiting is not None:
            status.state.waiting.reason, status.state.waiting.message = record.waiting
            status.last_state.terminated.CopyFrom(record.exited)
        else:
            status.state.terminated.CopyFrom(record.exited)
            if record.previous is not None:
                status.last_state.terminated.CopyFrom(record.previous)
        return status
    reason, message = record.waiting or (default_waiting, "")
    status.state.waiting.reason = reason
    status.state.waiting.message = message
    if record.previous is not None:
        status.last_state.terminated.CopyFrom(record.previous)
    return status


def go_duration(seconds: float) -> str:
    """A duration as Go prints one: ``500ms``, ``10s``, ``1m20s``, ``5m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        milli = seconds * 1000
        if milli >= 1:
            return f"{_trim(milli)}ms"
        return f"{_trim(milli * 1000)}µs"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = ""
    if hours:
        text += f"{int(hours)}h"
    if hours or minutes:
        text += f"{int(minutes)}m"
    return text + f"{_trim(secs)}s"


def _trim(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"
