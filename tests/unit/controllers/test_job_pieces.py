"""The Job controller's pure pieces: completion-index intervals, the pod-failure backoff, the
podFailurePolicy matcher, the pods it makes and the ones it removes first."""

from __future__ import annotations

import pytest

from controlplane.controllers.job import failurepolicy
from controlplane.controllers.job.backoff import BackoffStore, remaining_for
from controlplane.controllers.job.indexes import Intervals, first_pending, parse
from controlplane.controllers.job.pods import (
    active_pods_for_removal,
    finished_time,
    generate_name,
    new_pod,
    pod_template,
    remove_finalizer_patch,
)
from controlplane.controllers.job.ttl import time_left
from kemu.api import codec
from kemu.api.meta import now_rfc3339, parse_time
from kemu.v1 import batch_pb2, core_pb2
from tests.unit.controllers.batch_fakes import job, set_phase

pytestmark = pytest.mark.unit

T0 = 1_700_000_000.0


# -- completion indexes ---------------------------------------------------------------------
@pytest.mark.parametrize(("indexes", "text"), [
    ([], ""), ([0], "0"), ([0, 1], "0,1"), ([0, 1, 2], "0-2"), ([0, 1, 2, 4], "0-2,4"),
    ([1, 3, 4, 5, 7], "1,3-5,7"), ([4, 5, 9, 10, 11, 12], "4,5,9-12"),
])
def test_completed_indexes_are_written_compressed(indexes: list[int], text: str) -> None:
    intervals = Intervals().with_indexes(indexes)
    assert str(intervals) == text
    assert intervals.total() == len(indexes)
    assert parse(text, 100) == intervals
    assert all(intervals.has(i) for i in indexes)
    assert not any(intervals.has(i) for i in range(15) if i not in indexes)


def test_reading_indexes_drops_those_beyond_completions_and_corrupt_pieces() -> None:
    assert str(parse("0-2,x,4-9", 6)) == "0-2,4,5"
    assert str(parse("0-2,3", 10)) == "0-3"
    assert str(parse("7", 5)) == ""


def test_merging_adjacent_and_overlapping_intervals() -> None:
    merged = parse("0-2,8", 20).merge(parse("3,5-9,11", 20))
    assert str(merged) == "0-3,5-9,11"


def test_first_pending_indexes_skip_the_taken_ones() -> None:
    taken = parse("0,2-4,7", 10)
    assert first_pending(3, 10, taken) == [1, 5, 6]
    assert first_pending(10, 10, taken) == [1, 5, 6, 8, 9]
    assert first_pending(2, 3, parse("0-2", 3)) == []


# -- backoff --------------------------------------------------------------------------------
def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    # 10 s, 20 s, 40 s ... capped at 6 minutes, counted from the last failure.
    assert remaining_for(0, T0, T0, 10, 360) == 0
    assert remaining_for(1, T0, T0 + 4, 10, 360) == 6
    assert remaining_for(2, T0, T0 + 4, 10, 360) == 16
    assert remaining_for(3, T0, T0, 10, 360) == 40
    assert remaining_for(7, T0, T0, 10, 360) == 360
    assert remaining_for(30, T0, T0 + 100, 10, 360) == 260
    assert remaining_for(2, T0, T0 + 25, 10, 360) == 0


def _finished(phase: str, at: float) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = f"p{at}"
    pod.spec.containers.add(name="main")
    return set_phase(pod, phase, exit_code=0 if phase == "Succeeded" else 1,
                     finished_at=now_rfc3339(at))


def test_backoff_record_counts_failures_since_the_last_success() -> None:
    store = BackoffStore()
    first = store.new_record("ns/j", [], [_finished("Failed", T0), _finished("Failed", T0 + 5)])
    assert (first.failures_after_last_success, first.last_failure_time) == (2, T0 + 5)
    store.update(first)
    more = store.new_record("ns/j", [], [_finished("Failed", T0 + 9)])
    assert (more.failures_after_last_success, more.last_failure_time) == (3, T0 + 9)
    store.update(more)
    # A success resets the count to the failures that came after it.
    mixed = store.new_record("ns/j", [_finished("Succeeded", T0 + 20)],
                             [_finished("Failed", T0 + 15), _finished("Failed", T0 + 30)])
    assert (mixed.failures_after_last_success, mixed.last_failure_time) == (1, T0 + 30)
    assert store.new_record("ns/j", [_finished("Succeeded", T0 + 40)], []) == \
        type(mixed)("ns/j")
    assert store.new_record("ns/j", [], []) == more


def test_a_pods_finish_time_falls_back_like_kubernetes() -> None:
    pod = _finished("Failed", T0 + 7)
    assert finished_time(pod) == T0 + 7
    running = set_phase(pod, "Running", finished_at=now_rfc3339(T0 + 3))
    assert finished_time(running) == T0 + 3  # the Ready=False transition
    deleted = core_pb2.Pod()
    deleted.metadata.deletion_timestamp = now_rfc3339(T0 + 30)
    deleted.metadata.deletion_grace_period_seconds = 30
    assert finished_time(deleted) == T0


# -- podFailurePolicy ----------------------------------------------------------------------
def _policy(*rules: dict[str, object]) -> batch_pb2.PodFailurePolicy:
    return codec.decode(batch_pb2.PodFailurePolicy, {"rules": list(rules)})


def _failed_pod(code: int, container: str = "main",
                conditions: tuple[str, ...] = ()) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.namespace, pod.metadata.name = "default", "x-abc"
    pod.status.phase = "Failed"
    status = pod.status.container_statuses.add(name=container)
    status.state.terminated.exit_code = code
    for kind in conditions:
        pod.status.conditions.add(type=kind, status="True")
    return pod


def test_fail_job_rule_on_exit_codes_gives_kubernetes_message() -> None:
    policy = _policy({"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}})
    found = failurepolicy.match(policy, _failed_pod(42))
    assert found.action == "FailJob" and found.counts
    assert found.fail_job_message == ("Container main for pod default/x-abc failed with exit "
                                      "code 42 matching FailJob rule at index 0")
    assert failurepolicy.match(policy, _failed_pod(1)) == failurepolicy.NO_MATCH


def test_rules_apply_in_order_ignore_and_count() -> None:
    policy = _policy(
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "Count", "onExitCodes": {"containerName": "main", "operator": "NotIn",
                                            "values": [3]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [5]}})
    evicted = failurepolicy.match(policy, _failed_pod(137, conditions=("DisruptionTarget",)))
    assert (evicted.action, evicted.counts) == ("Ignore", False)
    assert failurepolicy.match(policy, _failed_pod(5)).action == "Count"
    sidecar = failurepolicy.match(policy, _failed_pod(5, container="side"))
    assert sidecar.action == "FailJob"
    assert sidecar.fail_job_message is not None and "rule at index 2" in sidecar.fail_job_message
    on_condition = _policy({"action": "FailJob",
                            "onPodConditions": [{"type": "ConfigIssue", "status": "True"}]})
    assert failurepolicy.match(on_condition, _failed_pod(1, conditions=("ConfigIssue",))) \
        .fail_job_message == ("Pod default/x-abc has condition ConfigIssue matching FailJob "
                              "rule at index 0")


def test_fail_index_needs_a_per_index_limit() -> None:
    policy = _policy({"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [9]}})
    assert failurepolicy.match(policy, _failed_pod(9)) == failurepolicy.NO_MATCH
    assert failurepolicy.match(policy, _failed_pod(9), per_index=True).action == "FailIndex"


# -- pods -----------------------------------------------------------------------------------
def test_indexed_pods_carry_their_index() -> None:
    indexed = job("aggregate", {"completionMode": "Indexed", "completions": 12},
                  {"subdomain": "workers"})
    pod = new_pod(indexed, pod_template(indexed), 4)
    assert pod.metadata.generate_name == "aggregate-4-"
    assert pod.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "4"
    assert pod.metadata.labels["batch.kubernetes.io/job-completion-index"] == "4"
    assert (pod.spec.hostname, pod.spec.subdomain) == ("aggregate-4", "workers")
    assert list(pod.metadata.finalizers) == ["batch.kubernetes.io/job-tracking"]
    env = pod.spec.containers[0].env[0]
    assert (env.name, env.value_from.field_ref.field_path) == (
        "JOB_COMPLETION_INDEX", "metadata.labels['batch.kubernetes.io/job-completion-index']")
    ref = pod.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.controller, ref.block_owner_deletion) == \
        ("Job", "aggregate", True, True)
    plain = new_pod(job("plain"), pod_template(job("plain")))
    assert plain.metadata.generate_name == "plain-" and not plain.spec.hostname
    assert generate_name("x" * 60, 12) == "x" * 54 + "-12-"


def test_duplicate_and_stray_indexes_go_first() -> None:
    indexed = job("ix", {"completionMode": "Indexed", "completions": 3, "parallelism": 3})
    template = pod_template(indexed)
    pods = []
    for i, index in enumerate((0, 1, 1, 5)):
        pod = new_pod(indexed, template, index)
        pod.metadata.name = f"ix-{i}"
        pod.metadata.uid = f"u{i}"
        pods.append(set_phase(pod, "Running", ready=i != 2))
    removed = {p.metadata.name for p in active_pods_for_removal(indexed, pods, 0)}
    assert removed == {"ix-2", "ix-3"}  # the not-ready duplicate of index 1, index 5 >= 3
    assert len(active_pods_for_removal(indexed, pods, 3)) == 3


def test_finalizer_patch_tests_its_position() -> None:
    pod = core_pb2.Pod()
    pod.metadata.finalizers.extend(["example.com/keep", "batch.kubernetes.io/job-tracking"])
    assert remove_finalizer_patch(pod) == [
        {"op": "test", "path": "/metadata/finalizers/1",
         "value": "batch.kubernetes.io/job-tracking"},
        {"op": "remove", "path": "/metadata/finalizers/1"}]
    assert remove_finalizer_patch(core_pb2.Pod()) is None


def test_ttl_counts_from_the_finish_scaled() -> None:
    done = job("done", {"ttlSecondsAfterFinished": 10})
    assert time_left(done, T0, 0.05) is None  # not finished
    done.status.conditions.add(type="Complete", status="True",
                               last_transition_time=now_rfc3339(T0))
    assert time_left(done, T0 + 0.2, 0.05) == pytest.approx(0.3)
    assert time_left(done, T0 + 1, 1.0) == pytest.approx(9)
    assert parse_time(now_rfc3339(T0)) == T0
