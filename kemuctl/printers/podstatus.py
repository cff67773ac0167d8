"""The READY, STATUS and RESTARTS a pod shows in ``kubectl get pods``, computed as kubectl's
printPod does: the pod's reason, init container progress (``Init:1/2``,
``Init:CrashLoopBackOff``), the last waiting or terminated container reason
(``ContainerCreating``, ``CrashLoopBackOff``, ``Completed``, ``Error``), ``Terminating`` and
``Unknown`` for pods being deleted, and restarts with the time since the last one."""

from __future__ import annotations

from dataclasses import dataclass

from kemu.api.meta import parse_time
from kemu.v1 import core_pb2
from kemuctl.timefmt import human_duration

NODE_UNREACHABLE_REASON = "NodeLost"


@dataclass(frozen=True)
class PodSummary:
    ready: str
    status: str
    restarts: str


def _condition_true(pod: core_pb2.Pod, kind: str) -> bool:
    for condition in pod.status.conditions:
        if condition.type == kind:
            return condition.status == "True"
    return False


def _restartable(container: core_pb2.Container | None) -> bool:
    return container is not None and container.HasField("restart_policy") and \
        container.restart_policy == "Always"


def _finished_at(status: core_pb2.ContainerStatus) -> float:
    if status.last_state.HasField("terminated"):
        return parse_time(status.last_state.terminated.finished_at)
    return 0.0


def _terminated_reason(terminated: core_pb2.ContainerStateTerminated, prefix: str = "") -> str:
    if terminated.reason:
        return prefix + terminated.reason
    if terminated.signal:
        return f"{prefix}Signal:{terminated.signal}"
    return f"{prefix}ExitCode:{terminated.exit_code}"


def summarize(pod: core_pb2.Pod, now: float) -> PodSummary:
    spec, status = pod.spec, pod.status
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.containers)
    ready = 0
    last_restart = 0.0
    last_sidecar_restart = 0.0
    reason = status.reason or status.phase
    for condition in status.conditions:
        if condition.type == "PodScheduled" and condition.reason == "SchedulingGated":
            reason = "SchedulingGated"

    init_containers = {c.name: c for c in spec.init_containers}
    total += sum(1 for c in spec.init_containers if _restartable(c))

    initializing = False
    for index, container in enumerate(status.init_container_statuses):
        restarts += container.restart_count
        last_restart = max(last_restart, _finished_at(container))
        sidecar = _restartable(init_containers.get(container.name))
        if sidecar:
            sidecar_restarts += container.restart_count
            last_sidecar_restart = max(last_sidecar_restart, _finished_at(container))
        state = container.state
        if state.HasField("terminated") and state.terminated.exit_code == 0:
            continue
        if sidecar and container.HasField("started") and container.started:
            if container.ready:
                ready += 1
            continue
        if state.HasField("terminated"):
            reason = _terminated_reason(state.terminated, "Init:")
        elif state.HasField("waiting") and state.waiting.reason and \
                state.waiting.reason != "PodInitializing":
            reason = "Init:" + state.waiting.reason
        else:
            reason = f"Init:{index}/{len(spec.init_containers)}"
        initializing = True
        break

    if not initializing or _condition_true(pod, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for container in reversed(status.container_statuses):
            restarts += container.restart_count
            last_restart = max(last_restart, _finished_at(container))
            state = container.state
            if state.HasField("waiting") and state.waiting.reason:
                reason = state.waiting.reason
            elif state.HasField("terminated"):
                reason = _terminated_reason(state.terminated)
            elif container.ready and state.HasField("running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(pod, "Ready") else "NotReady"

    if pod.metadata.deletion_timestamp and status.reason == NODE_UNREACHABLE_REASON:
        reason = "Unknown"
    elif pod.metadata.deletion_timestamp and status.phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return PodSummary(f"{ready}/{total}", reason, restarts_text)


def readiness_gates(pod: core_pb2.Pod) -> str:
    """The READINESS GATES column; kemu pods declare none, so ``<none>``."""
    return "<none>"
