"""READY, STATUS and RESTARTS computed as kubectl's printPod computes them."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec
from kemu.api.meta import now_rfc3339
from kemu.v1 import core_pb2
from kemuctl.printers.podstatus import summarize

pytestmark = pytest.mark.unit

NOW = 1_000_000.0


def pod(status: dict[str, Any], *, init: int = 0, containers: int = 1,
        deleting: bool = False) -> core_pb2.Pod:
    spec = {"containers": [{"name": f"c{i}", "image": "x"} for i in range(containers)],
            "initContainers": [{"name": f"i{i}", "image": "x"} for i in range(init)]}
    meta: dict[str, Any] = {"name": "p"}
    if deleting:
        meta["deletionTimestamp"] = now_rfc3339(NOW)
    return codec.decode(core_pb2.Pod, {"metadata": meta, "spec": spec, "status": status})


def running(name: str = "c0", ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts,
            "state": {"running": {"startedAt": now_rfc3339(NOW - 60)}}}


def test_running_and_ready() -> None:
    summary = summarize(pod({"phase": "Running", "containerStatuses": [running()]}), NOW)
    assert (summary.ready, summary.status, summary.restarts) == ("1/1", "Running", "0")


def test_pending_without_statuses_shows_the_phase() -> None:
    assert summarize(pod({"phase": "Pending"}), NOW).status == "Pending"


def test_waiting_reason_wins_over_phase() -> None:
    status = {"phase": "Pending", "containerStatuses": [
        {"name": "c0", "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    summary = summarize(pod(status), NOW)
    assert (summary.ready, summary.status) == ("0/1", "ContainerCreating")


def test_crash_loop_with_restarts_and_time_since_the_last_one() -> None:
    status = {"phase": "Running", "containerStatuses": [{
        "name": "c0", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                     "finishedAt": now_rfc3339(NOW - 5)}}}]}
    summary = summarize(pod(status), NOW)
    assert (summary.status, summary.restarts) == ("CrashLoopBackOff", "5 (5s ago)")


def test_terminated_containers_show_their_reason_or_exit_code() -> None:
    completed = {"phase": "Succeeded", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    assert summarize(pod(completed), NOW).status == "Completed"
    failed = {"phase": "Failed", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}
    assert summarize(pod(failed), NOW).status == "Error"
    bare = {"phase": "Failed", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"exitCode": 3}}}]}
    assert summarize(pod(bare), NOW).status == "ExitCode:3"
    signal = {"phase": "Failed", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}
    assert summarize(pod(signal), NOW).status == "Signal:9"


def test_completed_with_a_running_container_is_running_or_not_ready() -> None:
    statuses = [running("c0"), {"name": "c1", "state": {"terminated": {"exitCode": 0,
                                                                          "reason": "Completed"}}}]
    ready = {"phase": "Running", "containerStatuses": statuses,
             "conditions": [{"type": "Ready", "status": "True"}]}
    assert summarize(pod(ready, containers=2), NOW).status == "Running"
    not_ready = {"phase": "Running", "containerStatuses": statuses,
                 "conditions": [{"type": "Ready", "status": "False"}]}
    assert summarize(pod(not_ready, containers=2), NOW).status == "NotReady"


def test_init_containers_progress() -> None:
    status = {"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i1", "state": {"running": {}}}]}
    assert summarize(pod(status, init=2), NOW).status == "Init:1/2"


def test_init_container_failures() -> None:
    crash = {"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    summary = summarize(pod(crash, init=1), NOW)
    assert (summary.status, summary.restarts) == ("Init:CrashLoopBackOff", "3")
    error = {"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}
    assert summarize(pod(error, init=1), NOW).status == "Init:Error"
    code = {"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "state": {"terminated": {"exitCode": 4}}}]}
    assert summarize(pod(code, init=1), NOW).status == "Init:ExitCode:4"


def test_pod_initializing_wait_is_progress_not_a_reason() -> None:
    status = {"phase": "Pending", "initContainerStatuses": [
        {"name": "i0", "state": {"waiting": {"reason": "PodInitializing"}}}]}
    assert summarize(pod(status, init=1), NOW).status == "Init:0/1"


def test_deleted_pods_are_terminating_unless_finished() -> None:
    status = {"phase": "Running", "containerStatuses": [running()]}
    assert summarize(pod(status, deleting=True), NOW).status == "Terminating"
    done = {"phase": "Succeeded", "containerStatuses": [
        {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    assert summarize(pod(done, deleting=True), NOW).status == "Completed"


def test_node_lost_pods() -> None:
    status = {"phase": "Running", "reason": "NodeLost", "containerStatuses": [running()]}
    assert summarize(pod(status), NOW).status == "NodeLost"
    assert summarize(pod(status, deleting=True), NOW).status == "Unknown"


def test_reason_replaces_phase() -> None:
    status = {"phase": "Failed", "reason": "Evicted"}
    assert summarize(pod(status), NOW).status == "Evicted"


def test_ready_counts_only_running_ready_containers() -> None:
    status = {"phase": "Running", "containerStatuses": [running("c0"),
                                                        running("c1", ready=False)]}
    assert summarize(pod(status, containers=2), NOW).ready == "1/2"


def test_sidecar_init_containers_count_as_containers() -> None:
    document = {"metadata": {"name": "p"}, "spec": {
        "initContainers": [{"name": "side", "image": "x", "restartPolicy": "Always"}],
        "containers": [{"name": "c0", "image": "x"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                   "initContainerStatuses": [{"name": "side", "ready": True, "started": True,
                                              "state": {"running": {}}}],
                   "containerStatuses": [running()]}}
    summary = summarize(codec.decode(core_pb2.Pod, document), NOW)
    assert (summary.ready, summary.status) == ("2/2", "Running")
