"""Pod phase and the kubelet-owned pod conditions, computed as the Kubernetes kubelet does.

Pure functions of the pod spec and its container statuses (after kubelet_pods.go getPhase and
status/generate.go), so every rule is unit-tested without a clock or a runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kemu.api.quantity import QuantityError, parse_quantity
from kemu.v1 import core_pb2

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
# Conditions the kubelet sets; any other condition belongs to someone else and is kept.
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled")
TERMINAL = (SUCCEEDED, FAILED)


def is_sidecar(container: core_pb2.Container) -> bool:
    """An init container with restartPolicy Always (a "restartable init container")."""
    return container.HasField("restart_policy") and container.restart_policy == "Always"


def _by_name(statuses: Iterable[core_pb2.ContainerStatus]) -> dict[str, core_pb2.ContainerStatus]:
    return {s.name: s for s in statuses}


def _terminated(status: core_pb2.ContainerStatus) -> bool:
    return status.state.HasField("terminated")


def _running(status: core_pb2.ContainerStatus) -> bool:
    return status.state.HasField("running")


def _waiting(status: core_pb2.ContainerStatus) -> bool:
    return status.state.HasField("waiting")


def _has_last_termination(status: core_pb2.ContainerStatus) -> bool:
    return status.last_state.HasField("terminated")


def get_phase(spec: core_pb2.PodSpec, statuses: Sequence[core_pb2.ContainerStatus],
              pod_is_terminal: bool, pod_has_initialized: bool) -> str:
    """The pod phase from all container statuses (init and regular)."""
    info = _by_name(statuses)
    pending_regular_init = pending_sidecars = failed_init = 0
    for container in spec.init_containers:
        if is_sidecar(container):
            continue
        status = info.get(container.name)
        if status is None or _running(status):
            pending_regular_init += 1
        elif _terminated(status):
            if status.state.terminated.exit_code != 0:
                failed_init += 1
        elif _waiting(status):
            if _has_last_termination(status):
                if status.last_state.terminated.exit_code != 0:
                    failed_init += 1
            else:
                pending_regular_init += 1
        else:
            pending_regular_init += 1

    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.init_containers:
        if not is_sidecar(container):
            continue
        status = info.get(container.name)
        if status is None:
            unknown += 1
        elif _running(status):
            if not (status.HasField("started") and status.started):
                pending_sidecars += 1
            running += 1
        elif _terminated(status):
            pass
        elif _waiting(status):
            if not _has_last_termination(status):
                pending_sidecars += 1
                waiting += 1
        else:
            pending_sidecars += 1
            unknown += 1

    for container in spec.containers:
        status = info.get(container.name)
        if status is None:
            unknown += 1
        elif _running(status):
            running += 1
        elif _terminated(status):
            stopped += 1
            if status.state.terminated.exit_code == 0:
                succeeded += 1
        elif _waiting(status):
            if _has_last_termination(status):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init > 0 and spec.restart_policy == "Never":
        return FAILED
    if pending_regular_init > 0 or (pending_sidecars > 0 and not pod_has_initialized) or \
            waiting > 0:
        return PENDING
    if running > 0 and unknown == 0:
        return RUNNING
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if spec.restart_policy in ("Always", ""):
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if spec.restart_policy == "Never":
            return FAILED
        return RUNNING
    return PENDING


def has_any_regular_container_started(spec: core_pb2.PodSpec,
                                      statuses: Sequence[core_pb2.ContainerStatus]) -> bool:
    info = _by_name(statuses)
    for container in spec.containers:
        status = info.get(container.name)
        if status is not None and (_running(status) or _terminated(status) or
                                   _has_last_termination(status)):
            return True
    return False


def _go_list(names: Sequence[str]) -> str:
    """A string slice as Go's %s prints it: ``[a b]``."""
    return "[" + " ".join(names) + "]"


def containers_ready_condition(spec: core_pb2.PodSpec,
                               statuses: Sequence[core_pb2.ContainerStatus],
                               phase: str) -> core_pb2.PodCondition:
    info = _by_name(statuses)
    unknown: list[str] = []
    unready: list[str] = []
    for container in [*(c for c in spec.init_containers if is_sidecar(c)), *spec.containers]:
        status = info.get(container.name)
        if status is None:
            unknown.append(container.name)
        elif not status.ready:
            unready.append(container.name)
    condition = core_pb2.PodCondition(type="ContainersReady")
    if (phase == SUCCEEDED and not unknown) or phase == FAILED:
        condition.status = "False"
        condition.reason = "PodCompleted" if phase == SUCCEEDED else "PodFailed"
        return condition
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        condition.status, condition.reason = "False", "ContainersNotReady"
        condition.message = ", ".join(messages)
    else:
        condition.status = "True"
    return condition


def ready_condition(spec: core_pb2.PodSpec, statuses: Sequence[core_pb2.ContainerStatus],
                    phase: str) -> core_pb2.PodCondition:
    containers = containers_ready_condition(spec, statuses, phase)
    return core_pb2.PodCondition(type="Ready", status=containers.status, reason=containers.reason,
                                 message=containers.message)


def initialized_condition(spec: core_pb2.PodSpec, statuses: Sequence[core_pb2.ContainerStatus],
                          phase: str) -> core_pb2.PodCondition:
    info = _by_name(statuses)
    unknown: list[str] = []
    incomplete: list[str] = []
    for container in spec.init_containers:
        status = info.get(container.name)
        if status is None:
            unknown.append(container.name)
            continue
        sidecar_started = status.HasField("started") and status.started
        if not (sidecar_started if is_sidecar(container) else status.ready):
            incomplete.append(container.name)
    condition = core_pb2.PodCondition(type="Initialized", status="True")
    if phase == SUCCEEDED and not unknown:
        condition.reason = "PodCompleted"
        return condition
    if has_any_regular_container_started(spec, statuses):
        return condition
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        condition.status, condition.reason = "False", "ContainersNotInitialized"
        condition.message = ", ".join(messages)
    return condition


def kubelet_conditions(spec: core_pb2.PodSpec, statuses: Sequence[core_pb2.ContainerStatus],
                       phase: str, sandbox_ready: bool) -> list[core_pb2.PodCondition]:
    """The kubelet's conditions in its order (transition times not yet set)."""
    return [
        core_pb2.PodCondition(type="PodReadyToStartContainers",
                              status="True" if sandbox_ready else "False"),
        initialized_condition(spec, statuses, phase),
        ready_condition(spec, statuses, phase),
        containers_ready_condition(spec, statuses, phase),
        core_pb2.PodCondition(type="PodScheduled", status="True"),
    ]


def stamp_transitions(conditions: Iterable[core_pb2.PodCondition],
                      previous: Iterable[core_pb2.PodCondition], now: str) -> None:
    """lastTransitionTime: kept from ``previous`` while the status is unchanged, else ``now``."""
    before = {c.type: c for c in previous}
    for condition in conditions:
        old = before.get(condition.type)
        if old is not None and old.status == condition.status and old.last_transition_time:
            condition.last_transition_time = old.last_transition_time
        else:
            condition.last_transition_time = now


def _requests_and_limits(container: core_pb2.Container) -> tuple[dict[str, str], dict[str, str]]:
    return dict(
        (k, v.value) for k, v in container.resources.requests.items()), dict(
        (k, v.value) for k, v in container.resources.limits.items())


def qos_class(spec: core_pb2.PodSpec) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' cpu and memory."""
    containers = [*spec.init_containers, *spec.containers]
    any_set = False
    guaranteed = True
    for container in containers:
        requests, limits = _requests_and_limits(container)
        for resource in ("cpu", "memory"):
            request, limit = requests.get(resource), limits.get(resource)
            if _nonzero(request) or _nonzero(limit):
                any_set = True
            mismatch = request is not None and _amount(request) != _amount(limit or "")
            if not _nonzero(limit) or mismatch:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _amount(text: str) -> object:
    try:
        return parse_quantity(text)
    except QuantityError:
        return text


def _nonzero(text: str | None) -> bool:
    if text is None:
        return False
    amount = _amount(text)
    return amount != 0
