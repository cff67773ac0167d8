"""Pod workers on a fake clock: minutes of pod lifecycle per test, in milliseconds.

Times below are seconds since the pod reached the worker, with Kubernetes' default timing
(scale 1): an image pull takes 0.5 s and a container start 0.2 s, so a first container of a
pod runs from t=0.7.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kemu.v1 import core_pb2
from tests.unit.kubelet.harness import FakeNode, condition, container, make_pod

pytestmark = pytest.mark.unit


@pytest.fixture
async def node() -> AsyncIterator[FakeNode]:
    n = FakeNode()
    yield n
    await n.close()


async def test_pod_goes_from_container_creating_to_running_and_ready(node: FakeNode) -> None:
    pod = make_pod()
    node.run(pod)
    await node.advance_to(0.3)
    status = node.status(pod)
    assert status.phase == "Pending"
    assert container(status, "web").state.waiting.reason == "ContainerCreating"
    assert condition(status, "PodReadyToStartContainers") == "True"
    assert status.pod_ip.startswith("10.244.1.") and status.host_ip == "172.20.1.1"
    await node.advance_to(0.8)
    status = node.status(pod)
    assert status.phase == "Running"
    web = container(status, "web")
    assert web.state.running.started_at and web.ready and web.started
    assert web.image == "docker.io/library/nginx:1.25"
    assert condition(status, "Ready") == condition(status, "ContainersReady") == "True"
    assert len(node.agent.statuses(pod.metadata.uid)) <= 3, "status updates were not coalesced"
    reasons = [reason for reason, _ in node.agent.event_counts(pod.metadata.uid)]
    assert reasons == ["Pulling", "Pulled", "Created", "Started"]


async def test_readiness_probe_turns_ready_on_its_first_success_after_ready_after(
        node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/ready-after": "12"})
    pod.spec.containers[0].readiness_probe.initial_delay_seconds = 5
    pod.spec.containers[0].readiness_probe.period_seconds = 10
    pod.spec.containers[0].readiness_probe.http_get.path = "/healthz"
    node.run(pod)
    await node.advance_to(15.6)
    status = node.status(pod)
    assert status.phase == "Running" and condition(status, "Ready") == "False"
    assert condition(status, "ContainersReady") == "False"
    # Probes ran at 5.7 and 15.7 (start 0.7 + initialDelay 5, then every 10 s).
    await node.advance_to(15.8)
    assert condition(node.status(pod), "Ready") == "True"
    unhealthy = node.agent.event_counts(pod.metadata.uid)
    assert unhealthy[("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: "
                                   "503")] == 1


async def test_scripted_readiness_without_a_probe_is_exact(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/ready-after": "3", "kemu.io/not-ready-after": "8"})
    node.run(pod)
    await node.advance_to(3.6)
    assert condition(node.status(pod), "Ready") == "False"
    await node.advance_to(3.75)
    assert condition(node.status(pod), "Ready") == "True"
    await node.advance_to(8.65)
    assert condition(node.status(pod), "Ready") == "True"
    await node.advance_to(8.75)
    assert condition(node.status(pod), "Ready") == "False"


async def test_readiness_is_lost_after_failure_threshold(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/not-ready-after": "30"})
    pod.spec.containers[0].readiness_probe.period_seconds = 10
    pod.spec.containers[0].readiness_probe.failure_threshold = 3
    pod.spec.containers[0].readiness_probe.tcp_socket.port.int_value = 80
    node.run(pod)
    await node.advance_to(1)
    assert condition(node.status(pod), "Ready") == "True"
    await node.advance_to(50.6)
    assert condition(node.status(pod), "Ready") == "True"
    await node.advance_to(50.8)
    assert condition(node.status(pod), "Ready") == "False"
    counts = node.agent.event_counts(pod.metadata.uid)
    assert sum(n for (reason, _), n in counts.items() if reason == "Unhealthy") == 3


async def test_crash_loop_backs_off_exponentially(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/crash-loop": "true"})
    node.run(pod)
    await node.advance_to(5)
    web = container(node.status(pod), "web")
    assert web.restart_count == 1
    assert web.state.waiting.reason == "CrashLoopBackOff"
    assert web.state.waiting.message == ("back-off 10s restarting failed container=web "
                                         "pod=web_default(uid-web)")
    assert web.last_state.terminated.exit_code == 1
    assert web.last_state.terminated.reason == "Error"
    assert node.status(pod).phase == "Running"
    await node.advance_to(10.8)
    assert container(node.status(pod), "web").restart_count == 1
    await node.advance_to(11.5)
    web = container(node.status(pod), "web")
    assert web.restart_count == 2 and "back-off 20s" in web.state.waiting.message
    await node.advance_to(31.5)
    web = container(node.status(pod), "web")
    assert web.restart_count == 3 and "back-off 40s" in web.state.waiting.message
    await node.advance_to(400)
    web = container(node.status(pod), "web")
    # Restarts at 0.9, 10.9, 31.1, 71.3, 151.5, 311.7 (then the 5-minute cap).
    assert web.restart_count == 6 and "back-off 5m0s" in web.state.waiting.message
    backoff = [n for (reason, _), n in node.agent.event_counts(pod.metadata.uid).items()
               if reason == "BackOff"]
    assert backoff and backoff[0] >= 4


async def test_a_container_that_exits_as_it_starts_is_never_reported_running(
        node: FakeNode) -> None:
    # Kubernetes in Action's deploy.broken-pods.yaml: a pod seen Ready even for a moment would
    # make its Deployment "available" and its rollout complete.
    pod = make_pod(command=("sh", "-c", "exit 1"))
    node.run(pod)
    await node.advance_to(30)
    sent = node.agent.statuses(pod.metadata.uid)
    for status in sent:
        assert all(c.status != "True" for c in status.conditions if c.type == "Ready")
        assert not any(cs.state.HasField("running") for cs in status.container_statuses)
    web = container(sent[-1], "web")
    assert web.restart_count >= 2 and web.state.waiting.reason == "CrashLoopBackOff"
    assert web.last_state.terminated.exit_code == 1


async def test_failing_container_with_restart_policy_never_fails_the_pod(node: FakeNode) -> None:
    pod = make_pod(command=("sleep", "100"), restart_policy="Never",
                   annotations={"kemu.io/fail-after": "3", "kemu.io/exit-code": "2"})
    node.run(pod)
    await node.advance_to(3.8)
    status = node.status(pod)
    assert status.phase == "Failed"
    terminated = container(status, "web").state.terminated
    assert (terminated.exit_code, terminated.reason) == (2, "Error")
    assert condition(status, "Ready") == "False"
    assert condition(status, "PodReadyToStartContainers") == "False"
    assert node.ctx.addresses.in_use() == 0
    await node.advance_to(100)
    assert node.status(pod).phase == "Failed"
    assert container(node.status(pod), "web").restart_count == 0


async def test_sleep_command_succeeds(node: FakeNode) -> None:
    pod = make_pod(command=("sh", "-c", "sleep 5"), restart_policy="OnFailure")
    node.run(pod)
    await node.advance_to(5.6)
    assert node.status(pod).phase == "Running"
    await node.advance_to(5.8)
    status = node.status(pod)
    assert status.phase == "Succeeded"
    assert container(status, "web").state.terminated.reason == "Completed"
    assert condition(status, "Ready") == "False"


async def test_on_failure_restarts_a_failed_container(node: FakeNode) -> None:
    pod = make_pod(restart_policy="OnFailure", annotations={"kemu.io/fail-after": "2"})
    node.run(pod)
    await node.advance_to(3)
    web = container(node.status(pod), "web")
    assert web.restart_count == 1 and web.state.running.started_at
    assert node.status(pod).phase == "Running"


async def test_init_containers_run_in_order_before_the_app(node: FakeNode) -> None:
    pod = make_pod()
    pod.spec.init_containers.add(name="setup", image="busybox:1.36", command=["sleep", "2"])
    pod.spec.init_containers.add(name="migrate", image="busybox:1.36", command=["sleep", "3"])
    node.run(pod)
    await node.advance_to(1)
    status = node.status(pod)
    assert status.phase == "Pending"
    assert container(status, "setup").state.running.started_at
    assert container(status, "migrate").state.waiting.reason == "PodInitializing"
    assert container(status, "web").state.waiting.reason == "PodInitializing"
    assert condition(status, "Initialized") == "False"
    await node.advance_to(4)
    status = node.status(pod)
    assert container(status, "setup").state.terminated.reason == "Completed"
    assert container(status, "setup").ready
    assert container(status, "migrate").state.running.started_at
    await node.advance_to(7)
    status = node.status(pod)
    assert condition(status, "Initialized") == "True"
    assert status.phase == "Running" and container(status, "web").ready


async def test_failed_init_container_with_restart_policy_never_fails_the_pod(
        node: FakeNode) -> None:
    pod = make_pod(restart_policy="Never")
    pod.spec.init_containers.add(name="setup", image="busybox:1.36",
                                 command=["sh", "-c", "exit 3"])
    node.run(pod)
    await node.advance_to(2)
    status = node.status(pod)
    assert status.phase == "Failed"
    assert container(status, "setup").state.terminated.exit_code == 3
    assert container(status, "web").state.waiting.reason == "PodInitializing"


async def test_sidecar_runs_alongside_and_stops_when_the_job_completes(node: FakeNode) -> None:
    pod = make_pod(command=("sleep", "5"), restart_policy="Never")
    pod.spec.init_containers.add(name="proxy", image="envoy:1.30", restart_policy="Always")
    node.run(pod)
    await node.advance_to(2)
    status = node.status(pod)
    assert status.phase == "Running"
    assert container(status, "proxy").started and container(status, "proxy").ready
    assert condition(status, "Initialized") == "True"
    await node.advance_to(7)
    status = node.status(pod)
    assert status.phase == "Succeeded"
    assert container(status, "proxy").state.terminated.finished_at


async def test_failing_liveness_probe_restarts_the_container(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/liveness-fail-after": "15"})
    probe = pod.spec.containers[0].liveness_probe
    probe.period_seconds, probe.failure_threshold = 10, 3
    probe.http_get.path = "/healthz"
    node.run(pod)
    await node.advance_to(40.6)
    assert container(node.status(pod), "web").restart_count == 0
    # Failures at 20.7, 30.7 and 40.7: killed, then restarted at once.
    await node.advance_to(41.5)
    web = container(node.status(pod), "web")
    assert web.restart_count == 1 and web.state.running.started_at
    assert web.last_state.terminated.finished_at
    counts = node.agent.event_counts(pod.metadata.uid)
    assert counts[("Killing", "Container web failed liveness probe, will be restarted")] == 1
    assert counts[("Unhealthy",
                   "Liveness probe failed: HTTP probe failed with statuscode: 503")] == 3


async def test_startup_probe_holds_readiness_until_it_succeeds(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/startup-after": "6"})
    probe = pod.spec.containers[0].startup_probe
    probe.period_seconds, probe.failure_threshold = 5, 10
    probe.exec.command.append("true")
    node.run(pod)
    await node.advance_to(5)
    web = container(node.status(pod), "web")
    assert web.state.running.started_at and not web.started and not web.ready
    await node.advance_to(11)
    web = container(node.status(pod), "web")
    assert web.started and web.ready


async def test_graceful_deletion_is_capped_by_the_grace_period(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/terminate-after": "100"})
    worker = node.run(pod)
    await node.advance_to(5)
    deleting = core_pb2.Pod()
    deleting.CopyFrom(pod)
    deleting.metadata.deletion_timestamp = "2024-01-01T00:00:00Z"
    deleting.metadata.deletion_grace_period_seconds = 10
    worker.update(deleting)
    await node.advance_to(14.9)
    assert node.agent.removed == []
    assert node.status(pod).phase == "Running"
    await node.advance_to(15.1)
    assert node.agent.removed == [pod.metadata.uid]
    status = node.status(pod)
    assert status.phase == "Failed"
    assert container(status, "web").state.terminated.exit_code == 137
    assert node.agent.event_counts(pod.metadata.uid)[("Killing", "Stopping container web")] == 1


async def test_graceful_deletion_ends_when_the_container_stops(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/terminate-after": "3"})
    worker = node.run(pod)
    await node.advance_to(5)
    deleting = core_pb2.Pod()
    deleting.CopyFrom(pod)
    deleting.metadata.deletion_timestamp = "2024-01-01T00:00:00Z"
    deleting.metadata.deletion_grace_period_seconds = 30
    worker.update(deleting)
    await node.advance_to(7.9)
    assert node.agent.removed == []
    await node.advance_to(8.1)
    assert node.agent.removed == [pod.metadata.uid]
    status = node.status(pod)
    assert status.phase == "Succeeded"
    assert container(status, "web").state.terminated.exit_code == 0


async def test_image_pull_error_then_image_pull_backoff(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/image-pull-error": "true"})
    node.run(pod)
    await node.advance_to(1)
    web = container(node.status(pod), "web")
    assert web.state.waiting.reason == "ErrImagePull"
    assert "not found" in web.state.waiting.message
    await node.advance_to(6)
    web = container(node.status(pod), "web")
    assert web.state.waiting.reason == "ImagePullBackOff"
    assert web.state.waiting.message == 'Back-off pulling image "nginx:1.25"'
    await node.advance_to(11.2)
    assert container(node.status(pod), "web").state.waiting.reason == "ErrImagePull"
    assert node.status(pod).phase == "Pending"
    counts = node.agent.event_counts(pod.metadata.uid)
    assert counts[("Failed", "Error: ErrImagePull")] >= 1


async def test_active_deadline_fails_the_pod(node: FakeNode) -> None:
    pod = make_pod()
    pod.spec.active_deadline_seconds = 20
    node.run(pod)
    await node.advance_to(19)
    assert node.status(pod).phase == "Running"
    await node.advance_to(21)
    status = node.status(pod)
    assert (status.phase, status.reason) == ("Failed", "DeadlineExceeded")
    assert status.message == "Pod was active on the node longer than the specified deadline"


async def test_bad_annotation_is_a_create_container_config_error(node: FakeNode) -> None:
    pod = make_pod(annotations={"kemu.io/fail-after": "later"})
    node.run(pod)
    await node.advance_to(2)
    web = container(node.status(pod), "web")
    assert web.state.waiting.reason == "CreateContainerConfigError"
    assert "kemu.io/fail-after: 'later' is not a duration" in web.state.waiting.message


async def test_restarted_kubelet_takes_over_without_touching_the_container() -> None:
    first = FakeNode()
    pod = make_pod(command=("sleep", "100"), restart_policy="Never",
                   annotations={"kemu.io/ready-after": "2"})
    pod.spec.containers[0].readiness_probe.period_seconds = 1
    first.run(pod)
    await first.advance_to(50)
    recorded = first.status(pod)
    await first.close()
    assert recorded.phase == "Running" and condition(recorded, "Ready") == "True"

    second = FakeNode(clock=first.clock)
    again = core_pb2.Pod()
    again.CopyFrom(pod)
    again.status.CopyFrom(recorded)
    second.run(again)
    await second.advance_to(60)
    assert second.agent.statuses(pod.metadata.uid) == [], "a healthy pod's status was rewritten"
    assert second.runtime.container_count() == 1
    # The container keeps its original start: `sleep 100` still ends at 100.7, not at 150
    # (give or take the second the API's timestamps round off).
    await second.advance_to(99.6)
    assert second.agent.statuses(pod.metadata.uid) == []
    await second.advance_to(101)
    status = second.status(again)
    assert status.phase == "Succeeded"
    web = container(status, "web")
    assert web.state.terminated.started_at == container(recorded, "web").state.running.started_at
    assert web.restart_count == 0
    await second.close()


async def test_changed_image_restarts_the_container(node: FakeNode) -> None:
    pod = make_pod(restart_policy="Never")
    worker = node.run(pod)
    await node.advance_to(1)
    changed = core_pb2.Pod()
    changed.CopyFrom(pod)
    changed.spec.containers[0].image = "nginx:1.27"
    worker.update(changed)
    await node.advance_to(3)
    web = container(node.status(pod), "web")
    assert web.restart_count == 1 and web.state.running.started_at
    assert web.image == "docker.io/library/nginx:1.27"
    counts = node.agent.event_counts(pod.metadata.uid)
    assert counts[("Killing", "Container web definition changed, will be restarted")] == 1
    assert counts[("Pulling", 'Pulling image "nginx:1.27"')] == 1
