"""Pod phase and kubelet conditions, case by case against the Kubernetes kubelet's rules."""

from __future__ import annotations

import pytest

from kemu.v1 import core_pb2
from kubelet import podstatus
from kubelet.podstatus import get_phase

pytestmark = pytest.mark.unit


def spec(*names: str, init: tuple[str, ...] = (), sidecars: tuple[str, ...] = (),
         policy: str = "Always") -> core_pb2.PodSpec:
    s = core_pb2.PodSpec(restart_policy=policy)
    for name in init:
        s.init_containers.add(name=name, image="busybox")
    for name in sidecars:
        s.init_containers.add(name=name, image="busybox", restart_policy="Always")
    for name in names:
        s.containers.add(name=name, image="nginx")
    return s


def running(name: str, ready: bool = True, started: bool = True) -> core_pb2.ContainerStatus:
    status = core_pb2.ContainerStatus(name=name, ready=ready, started=started)
    status.state.running.started_at = "2024-01-01T00:00:00Z"
    return status


def terminated(name: str, code: int, ready: bool = False) -> core_pb2.ContainerStatus:
    status = core_pb2.ContainerStatus(name=name, ready=ready, started=False)
    status.state.terminated.exit_code = code
    return status


def waiting(name: str, reason: str = "ContainerCreating",
            last_code: int | None = None) -> core_pb2.ContainerStatus:
    status = core_pb2.ContainerStatus(name=name, started=False)
    status.state.waiting.reason = reason
    if last_code is not None:
        status.last_state.terminated.exit_code = last_code
    return status


def test_waiting_container_is_pending() -> None:
    assert get_phase(spec("web"), [waiting("web")], False, False) == "Pending"


def test_running_container_is_running() -> None:
    assert get_phase(spec("web"), [running("web")], False, True) == "Running"


def test_unknown_container_keeps_pod_pending() -> None:
    assert get_phase(spec("web", "log"), [running("web")], False, True) == "Pending"


@pytest.mark.parametrize(("policy", "code", "phase"), [
    ("Never", 0, "Succeeded"), ("Never", 2, "Failed"), ("OnFailure", 0, "Succeeded"),
    ("OnFailure", 2, "Running"), ("Always", 0, "Running"), ("Always", 2, "Running"),
])
def test_exited_container_by_restart_policy(policy: str, code: int, phase: str) -> None:
    assert get_phase(spec("job", policy=policy), [terminated("job", code)], False, False) == phase


def test_crash_looping_container_counts_as_stopped() -> None:
    statuses = [waiting("web", "CrashLoopBackOff", last_code=1)]
    assert get_phase(spec("web"), statuses, False, False) == "Running"
    assert get_phase(spec("web", policy="OnFailure"), statuses, False, False) == "Running"


def test_terminal_pod_phase_ignores_restart_policy() -> None:
    assert get_phase(spec("web"), [terminated("web", 0)], True, False) == "Succeeded"
    assert get_phase(spec("web"), [terminated("web", 137)], True, False) == "Failed"


def test_init_containers_keep_pod_pending_until_done() -> None:
    s = spec("web", init=("setup", "migrate"))
    assert get_phase(s, [running("setup"), waiting("migrate"), waiting("web")],
                     False, False) == "Pending"
    assert get_phase(s, [terminated("setup", 0, True), terminated("migrate", 0, True),
                         running("web")], False, True) == "Running"


def test_failed_init_container_fails_pod_only_with_restart_policy_never() -> None:
    statuses = [terminated("setup", 1), waiting("web", "PodInitializing")]
    assert get_phase(spec("web", init=("setup",), policy="Never"), statuses,
                     False, False) == "Failed"
    assert get_phase(spec("web", init=("setup",)), statuses, False, False) == "Pending"


def test_sidecar_must_start_before_pod_initializes() -> None:
    s = spec("web", sidecars=("proxy",))
    assert get_phase(s, [running("proxy", started=False), waiting("web", "PodInitializing")],
                     False, False) == "Pending"
    assert get_phase(s, [running("proxy"), running("web")], False, True) == "Running"
    # A restarting sidecar does not send an initialized pod back to Pending.
    assert get_phase(s, [running("proxy", started=False), running("web")], False, True) == "Running"


def test_sidecars_do_not_decide_a_finished_pods_phase() -> None:
    s = spec("job", sidecars=("proxy",), policy="Never")
    assert get_phase(s, [terminated("proxy", 137), terminated("job", 0)], True, False) == "Succeeded"


def test_ready_conditions_name_unready_containers_like_kubernetes() -> None:
    s = spec("web", "log")
    statuses = [running("web", ready=False), running("log")]
    ready = podstatus.ready_condition(s, statuses, "Running")
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    assert ready.message == "containers with unready status: [web]"
    statuses = [running("web"), running("log")]
    assert podstatus.ready_condition(s, statuses, "Running").status == "True"
    unknown = podstatus.containers_ready_condition(s, [running("web")], "Pending")
    assert unknown.message == "containers with unknown status: [log]"


def test_ready_conditions_of_finished_pods() -> None:
    s = spec("job", policy="Never")
    done = podstatus.ready_condition(s, [terminated("job", 0)], "Succeeded")
    assert (done.status, done.reason) == ("False", "PodCompleted")
    failed = podstatus.containers_ready_condition(s, [terminated("job", 1)], "Failed")
    assert (failed.status, failed.reason) == ("False", "PodFailed")


def test_initialized_condition() -> None:
    s = spec("web", init=("setup",))
    pending = podstatus.initialized_condition(s, [running("setup", ready=False),
                                                  waiting("web", "PodInitializing")], "Pending")
    assert (pending.status, pending.reason) == ("False", "ContainersNotInitialized")
    assert pending.message == "containers with incomplete status: [setup]"
    done = podstatus.initialized_condition(s, [terminated("setup", 0, ready=True),
                                               waiting("web")], "Pending")
    assert done.status == "True"
    completed = podstatus.initialized_condition(s, [terminated("setup", 0, ready=True),
                                                    terminated("web", 0)], "Succeeded")
    assert (completed.status, completed.reason) == ("True", "PodCompleted")


def test_kubelet_conditions_order_and_transition_times() -> None:
    s = spec("web")
    conditions = podstatus.kubelet_conditions(s, [running("web")], "Running", True)
    assert [c.type for c in conditions] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                            "ContainersReady", "PodScheduled"]
    podstatus.stamp_transitions(conditions, [], "2024-01-01T00:00:00Z")
    later = podstatus.kubelet_conditions(s, [running("web", ready=False)], "Running", True)
    podstatus.stamp_transitions(later, conditions, "2024-01-01T00:01:00Z")
    times = {c.type: c.last_transition_time for c in later}
    assert times["Ready"] == times["ContainersReady"] == "2024-01-01T00:01:00Z"
    assert times["PodScheduled"] == times["Initialized"] == "2024-01-01T00:00:00Z"


def test_qos_class() -> None:
    s = spec("web")
    assert podstatus.qos_class(s) == "BestEffort"
    limits = s.containers[0].resources.limits
    limits["cpu"].value = "500m"
    limits["memory"].value = "64Mi"
    assert podstatus.qos_class(s) == "Guaranteed"
    s.containers[0].resources.requests["cpu"].value = "0.5"
    assert podstatus.qos_class(s) == "Guaranteed"
    s.containers[0].resources.requests["cpu"].value = "100m"
    assert podstatus.qos_class(s) == "Burstable"
