"""Pods on a real kubelet process: lifecycle, restarts, readiness, graceful deletion.

One control plane (no scheduler: pods name their node) and one kubelet serve the module, with
the fast timing profile (every duration x 0.05).
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.kubelet.helpers import (
    condition,
    main_status,
    node_ready,
    pod_on,
    unique,
    wait_gone,
    wait_node,
    wait_pod,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

NODE = "pods-node"


@pytest.fixture(scope="module")
def node(shared_control_plane: LocalCluster) -> str:
    shared_control_plane.add_node(NODE)
    return NODE


@pytest.fixture
async def ready_node(node: str, client: GrpcClient) -> core_pb2.Node:
    return await wait_node(client, node, lambda n: node_ready(n) and len(n.status.addresses) == 2,
                           "Ready with an InternalIP")


def running_and_ready(pod: core_pb2.Pod) -> bool:
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True"


async def test_pods_run_with_unique_ips_in_the_node_cidr(ready_node: core_pb2.Node,
                                                         client: GrpcClient) -> None:
    names = [unique("web") for _ in range(3)]
    for name in names:
        await client.create(pod_on(NODE, name))
    pods = [await wait_pod(client, n, running_and_ready, "Running and Ready") for n in names]
    cidr = ipaddress.ip_network(ready_node.spec.pod_cidr)
    ips = {p.status.pod_ip for p in pods}
    assert len(ips) == 3
    assert all(ipaddress.ip_address(ip) in cidr for ip in ips)
    node_ip = next(a.address for a in ready_node.status.addresses if a.type == "InternalIP")
    for pod in pods:
        assert pod.status.host_ip == node_ip
        assert [i.ip for i in pod.status.pod_ips] == [pod.status.pod_ip]
        assert pod.status.start_time and pod.status.qos_class == "BestEffort"
        assert [c.type for c in pod.status.conditions] == [
            "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
            "PodScheduled"]
        main = main_status(pod)
        assert main.ready and main.started and main.restart_count == 0
        assert main.container_id.startswith("kemu://")
        assert main.image == "docker.io/library/nginx:1.25" and main.image_id


async def test_host_network_pod_gets_the_node_ip(ready_node: core_pb2.Node,
                                                 client: GrpcClient) -> None:
    pod = pod_on(NODE, unique("hostnet"))
    pod.spec.host_network = True
    await client.create(pod)
    running = await wait_pod(client, pod.metadata.name, running_and_ready, "Running")
    assert running.status.pod_ip == running.status.host_ip


async def test_sleep_command_succeeds(ready_node: core_pb2.Node, client: GrpcClient) -> None:
    name = unique("sleeper")
    await client.create(pod_on(NODE, name, command=["sh", "-c", "sleep 2"],
                               restart_policy="Never"))
    pod = await wait_pod(client, name, lambda p: p.status.phase == "Succeeded", "Succeeded")
    terminated = main_status(pod).state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")
    assert condition(pod, "Ready") == "False"


async def test_failing_container_with_restart_policy_never_fails(ready_node: core_pb2.Node,
                                                                 client: GrpcClient) -> None:
    name = unique("failing")
    await client.create(pod_on(NODE, name, restart_policy="Never",
                               annotations={"kemu.io/fail-after": "1", "kemu.io/exit-code": "42"}))
    pod = await wait_pod(client, name, lambda p: p.status.phase == "Failed", "Failed")
    terminated = main_status(pod).state.terminated
    assert (terminated.exit_code, terminated.reason) == (42, "Error")
    assert main_status(pod).restart_count == 0


async def test_crash_loop_backs_off_exponentially(ready_node: core_pb2.Node,
                                                  client: GrpcClient) -> None:
    name = unique("crasher")
    await client.create(pod_on(NODE, name, annotations={"kemu.io/crash-loop": "true"}))
    seen: dict[int, str] = {}
    restarted_at: dict[int, float] = {}

    async def observe() -> bool:
        pod = await client.get(core_pb2.Pod, name, "default")
        if not pod.status.container_statuses:
            return False
        main = main_status(pod)
        restarted_at.setdefault(main.restart_count, time.monotonic())
        if main.state.waiting.reason == "CrashLoopBackOff":
            seen.setdefault(main.restart_count, main.state.waiting.message)
            assert pod.status.phase == "Running"
            assert main.last_state.terminated.exit_code == 1
        return main.restart_count >= 4

    await eventually(observe, timeout=60, interval=0.02, what="four restarts")
    # Back-off 10 s, 20 s, 40 s ... scaled by 0.05: the window doubles at every restart.
    assert seen[1].startswith("back-off 500ms restarting failed container=main pod=")
    assert seen[2].startswith("back-off 1s ")
    assert seen[3].startswith("back-off 2s ")
    assert restarted_at[4] - restarted_at[3] >= 1.8
    assert restarted_at[3] - restarted_at[2] >= 0.9
    assert f"pod={name}_default(" in seen[1]


async def test_on_failure_restarts_a_failed_container(ready_node: core_pb2.Node,
                                                      client: GrpcClient) -> None:
    name = unique("onfailure")
    await client.create(pod_on(NODE, name, restart_policy="OnFailure",
                               annotations={"kemu.io/fail-after": "4"}))
    pod = await wait_pod(client, name, lambda p: bool(p.status.container_statuses) and
                         main_status(p).restart_count >= 1, "restarted")
    assert pod.status.phase == "Running"
    assert main_status(pod).last_state.terminated.exit_code == 1


async def test_readiness_probe_and_ready_after(ready_node: core_pb2.Node,
                                               client: GrpcClient) -> None:
    name = unique("slowready")
    pod = pod_on(NODE, name, annotations={"kemu.io/ready-after": "30"})
    probe = pod.spec.containers[0].readiness_probe
    probe.http_get.path, probe.period_seconds = "/ready", 2
    probe.http_get.port.int_value = 8080
    await client.create(pod)
    running = await wait_pod(client, name, lambda p: p.status.phase == "Running", "Running")
    seen_running = time.monotonic()
    assert condition(running, "Ready") == "False"
    assert not main_status(running).ready
    await wait_pod(client, name, running_and_ready, "Ready")
    # Ready 30 s (1.5 s scaled) after the start, at a probe run.
    assert time.monotonic() - seen_running >= 1.0


async def test_graceful_deletion_waits_for_the_container_within_the_grace_period(
        ready_node: core_pb2.Node, client: GrpcClient) -> None:
    slow, quick = unique("slowstop"), unique("quickstop")
    await client.create(pod_on(NODE, slow, grace=40, annotations={"kemu.io/terminate-after": "600"}))
    await client.create(pod_on(NODE, quick, grace=40))
    for name in (slow, quick):
        await wait_pod(client, name, running_and_ready, "Running")
    began = time.monotonic()
    deleted = await client.delete(core_pb2.Pod, slow, "default")
    assert deleted.metadata.deletion_timestamp
    await client.delete(core_pb2.Pod, quick, "default")
    await wait_gone(client, quick, timeout=20)
    assert time.monotonic() - began < 1.5, "a pod that stops at once waited for its grace period"
    # The slow one is killed when its 40 s grace (2 s scaled) runs out, then removed.
    stopping = await client.get(core_pb2.Pod, slow, "default")
    assert stopping.metadata.deletion_timestamp
    await wait_gone(client, slow, timeout=20)
    assert time.monotonic() - began >= 1.8


async def test_events_of_a_pod(ready_node: core_pb2.Node, client: GrpcClient) -> None:
    name = unique("evented")
    await client.create(pod_on(NODE, name, annotations={"kemu.io/crash-loop": "true"}))
    await wait_pod(client, name, lambda p: bool(p.status.container_statuses) and
                   main_status(p).restart_count >= 3, "crash looping")

    async def events() -> dict[str, core_pb2.Event]:
        found = await client.list(core_pb2.Event, "default",
                                  field_selector=f"involvedObject.name={name}")
        by_reason = {e.reason: e for e in found.items}
        return by_reason if "BackOff" in by_reason and by_reason["BackOff"].count >= 2 else {}

    by_reason = await eventually(events, timeout=30, what="aggregated events")
    assert {"Pulled", "Created", "Started", "BackOff"} <= set(by_reason)
    backoff = by_reason["BackOff"]
    assert backoff.type == "Warning" and backoff.source.component == "kubelet"
    assert backoff.message.startswith(f"Back-off restarting failed container main in pod {name}_")
    assert backoff.involved_object.field_path == "spec.containers{main}"
    started = by_reason["Started"]
    assert started.message == "Started container main" and started.count >= 3
    assert by_reason["Created"].message == "Created container: main"
