"""The ordering decisions of a StatefulSet sync (``plan``), on plain objects: creation order and
readiness gates (OrderedReady vs Parallel), scale-down order, identity kept while a pod
terminates, failed pods, stale claims, rolling updates with partitions, and OnDelete."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from controlplane.controllers.statefulset.plan import Plan, Step, plan
from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.controllers.statefulset_objects import (
    CURRENT,
    NOW,
    UPDATE,
    claim,
    pod,
    pod_owner,
    stateful_set,
    versions,
)

pytestmark = pytest.mark.unit

ORDERED = "kia2/Chapter16/sts.quiz.orderedReady.yaml"      # OrderedReady, minReadySeconds 10
PARALLEL = "kia2/Chapter16/sts.quiz.yaml"                  # Parallel
RETENTION = "kia2/Chapter16/sts.quiz.pvcRetentionPolicy.yaml"  # whenScaled Delete, 5 replicas


def decide(sts: apps_pb2.StatefulSet, pods: Iterable[core_pb2.Pod], *, changed: bool = False,
           claims: Iterable[core_pb2.PersistentVolumeClaim] = (), min_ready: float = 0.0
           ) -> Plan:
    by_name = {c.metadata.name: c for c in claims}
    return plan(sts, versions(sts, changed=changed), list(pods), by_name, 0, min_ready, NOW)


def steps(result: Plan) -> list[tuple[str, str]]:
    return [(a.step.value, a.pod.metadata.name) for a in result.actions()]


# -- scaling up ------------------------------------------------------------------------------
def test_ordered_ready_creates_only_the_first_missing_pod() -> None:
    sts = stateful_set(ORDERED)
    result = decide(sts, [])
    assert steps(result) == [("create", "quiz-0")]
    assert result.waiting == "waiting for quiz-0 to be Running and Ready"
    [created] = result.actions()
    assert created.pod.metadata.labels["controller-revision-hash"] == CURRENT


@pytest.mark.parametrize("state", [dict(phase="Pending"), dict(ready=False),
                                   dict(deleting=True)])
def test_ordered_ready_waits_for_the_previous_pod(state: dict[str, object]) -> None:
    sts = stateful_set(ORDERED)
    result = decide(sts, [pod(sts, 0, **state)], claims=[claim(sts, 0)])  # type: ignore[arg-type]
    assert steps(result) == []
    assert result.waiting.startswith("waiting for quiz-0 ")


def test_ordered_ready_waits_for_min_ready_seconds() -> None:
    sts = stateful_set(ORDERED)  # minReadySeconds: 10 (the caller scales it)
    young = decide(sts, [pod(sts, 0, ready_for=4.0)], min_ready=10.0)
    assert steps(young) == []
    assert young.waiting == "waiting for quiz-0 to be available"
    old = decide(sts, [pod(sts, 0, ready_for=11.0)], min_ready=10.0)
    assert steps(old) == [("create", "quiz-1")]


def test_availability_counts_from_when_the_controller_saw_the_pod_turn_ready() -> None:
    """The Ready condition has seconds precision; at a scaled minReadySeconds of 0.5 s the
    moment the controller saw the change is what counts."""
    sts = stateful_set(ORDERED)
    quiz_0 = pod(sts, 0, ready_for=1.0)
    seen_now = {quiz_0.metadata.uid: NOW - 0.1}
    young = plan(sts, versions(sts), [quiz_0], {}, 0, 0.5, NOW, seen_now)
    assert steps(young) == []
    assert young.status.available_replicas == 0
    old = plan(sts, versions(sts), [quiz_0], {}, 0, 0.5, NOW, {quiz_0.metadata.uid: NOW - 0.6})
    assert steps(old) == [("create", "quiz-1")]
    assert old.status.available_replicas == 1


def test_ordered_ready_creates_the_next_one_after_all_before_are_ready() -> None:
    sts = stateful_set(ORDERED)
    assert steps(decide(sts, [pod(sts, 0), pod(sts, 1)])) == [("create", "quiz-2")]
    # A gap is filled first, and nothing after it moves meanwhile.
    assert steps(decide(sts, [pod(sts, 0), pod(sts, 2)])) == [("create", "quiz-1")]
    assert steps(decide(sts, [pod(sts, 0), pod(sts, 1), pod(sts, 2)])) == []


def test_parallel_creates_every_missing_pod_at_once() -> None:
    sts = stateful_set(PARALLEL)
    result = decide(sts, [pod(sts, 1, phase="Pending")], claims=[claim(sts, 1)])
    assert steps(result) == [("create", "quiz-0"), ("create", "quiz-2")]
    assert result.waiting == ""


def test_status_counts_only_created_pods() -> None:
    sts = stateful_set(PARALLEL)
    result = decide(sts, [pod(sts, 0), pod(sts, 1, ready=False), pod(sts, 2, deleting=True)])
    status = result.status
    assert (status.replicas, status.ready_replicas, status.available_replicas,
            status.current_replicas, status.updated_replicas) == (3, 2, 2, 2, 2)
    assert (status.current_revision, status.update_revision, status.observed_generation) == \
        (CURRENT, CURRENT, 1)


def test_ordinals_start_is_honoured() -> None:
    sts = stateful_set(PARALLEL, ordinals={"start": 5}, replicas=2)
    stray = pod(stateful_set(PARALLEL), 0)
    result = decide(sts, [stray])
    assert steps(result) == [("create", "quiz-5"), ("create", "quiz-6"), ("delete", "quiz-0")]
    assert result.actions()[0].pod.metadata.labels["apps.kubernetes.io/pod-index"] == "5"


# -- identity --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [ORDERED, PARALLEL])
def test_a_terminating_pod_is_never_replaced_while_it_exists(path: str) -> None:
    """The pod stuck terminating on an unreachable node: its name is taken until it is gone."""
    sts = stateful_set(path)
    result = decide(sts, [pod(sts, 0, deleting=True), pod(sts, 1), pod(sts, 2)])
    assert all(a.pod.metadata.name != "quiz-0" for a in result.actions())
    gone = decide(sts, [pod(sts, 1), pod(sts, 2)])
    assert steps(gone) == [("create", "quiz-0")]


@pytest.mark.parametrize("phase", ["Failed", "Succeeded"])
def test_a_finished_pod_is_deleted_to_be_re_created(phase: str) -> None:
    sts = stateful_set(ORDERED)
    result = decide(sts, [pod(sts, 0), pod(sts, 1, phase=phase), pod(sts, 2)])
    assert steps(result) == [("delete", "quiz-1")]
    assert result.waiting == "waiting for quiz-1 to be deleted and re-created"
    # Already being deleted: wait for it to go.
    assert steps(decide(sts, [pod(sts, 0), pod(sts, 1, phase=phase, deleting=True)])) == []


def test_a_pod_missing_its_identity_label_is_fixed() -> None:
    sts = stateful_set(PARALLEL)
    stripped = pod(sts, 1)
    del stripped.metadata.labels["statefulset.kubernetes.io/pod-name"]
    assert steps(decide(sts, [pod(sts, 0), stripped, pod(sts, 2)])) == [("update", "quiz-1")]


def test_a_stale_claim_blocks_its_pod() -> None:
    """whenScaled: Delete — the claim still belongs to the previous quiz-3, which the garbage
    collector is deleting; the new quiz-3 must not mount it."""
    sts = stateful_set(RETENTION)
    pods = [pod(sts, i) for i in (0, 1, 2, 4)]
    stale = claim(sts, 3, pod_owner("quiz-3", "uid-of-the-old-quiz-3"))
    result = decide(sts, pods, claims=[stale])
    assert steps(result) == []
    assert steps(decide(sts, pods)) == [("create", "quiz-3")]


def test_a_pending_pod_gets_its_missing_claim() -> None:
    sts = stateful_set(PARALLEL)
    pods = [pod(sts, 0), pod(sts, 1, phase="Pending"), pod(sts, 2)]
    claims = [claim(sts, 0), claim(sts, 2)]
    assert steps(decide(sts, pods, claims=claims)) == [("claims", "quiz-1")]
    assert steps(decide(sts, pods, claims=[*claims, claim(sts, 1)])) == []


# -- scaling down ----------------------------------------------------------------------------
def test_ordered_ready_scales_down_from_the_highest_ordinal_one_at_a_time() -> None:
    sts = stateful_set(ORDERED, replicas=1)
    pods = [pod(sts, 0), pod(sts, 1), pod(sts, 2)]
    result = decide(sts, pods)
    assert steps(result) == [("delete", "quiz-2")]
    terminating = decide(sts, [pod(sts, 0), pod(sts, 1), pod(sts, 2, deleting=True)])
    assert steps(terminating) == []
    assert terminating.waiting == "waiting for quiz-2 to terminate before scaling down"
    assert steps(decide(sts, pods[:2])) == [("delete", "quiz-1")]


def test_ordered_ready_scale_down_waits_for_unhealthy_pods() -> None:
    sts = stateful_set(ORDERED, replicas=2)
    # A replica that is not ready stops everything.
    assert steps(decide(sts, [pod(sts, 0, ready=False), pod(sts, 1), pod(sts, 2)])) == []
    # The first unhealthy pod may itself go ...
    assert steps(decide(sts, [pod(sts, 0), pod(sts, 1), pod(sts, 2, ready=False)])) == \
        [("delete", "quiz-2")]
    # ... but not another one while it is unhealthy.
    sts = stateful_set(ORDERED, replicas=1)
    result = decide(sts, [pod(sts, 0), pod(sts, 1, ready=False), pod(sts, 2, ready=False)])
    assert steps(result) == []
    assert result.waiting == "waiting for quiz-1 to be Running and Ready before scaling down"


def test_ordered_ready_scale_down_waits_for_min_ready_seconds() -> None:
    sts = stateful_set(ORDERED, replicas=1)
    pods = [pod(sts, 0), pod(sts, 1), pod(sts, 2)]
    seen = {"uid-quiz-2": NOW - 0.1}
    young = plan(sts, versions(sts), pods, {}, 0, 0.5, NOW, seen)
    assert steps(young) == []
    assert young.waiting == "waiting for quiz-2 to be available before scaling down"
    assert steps(plan(sts, versions(sts), pods, {}, 0, 0.5, NOW + 0.5, seen)) == \
        [("delete", "quiz-2")]


def test_parallel_scales_down_all_at_once() -> None:
    sts = stateful_set(PARALLEL, replicas=1)
    result = decide(sts, [pod(sts, 0), pod(sts, 1, ready=False), pod(sts, 2)])
    assert steps(result) == [("delete", "quiz-2"), ("delete", "quiz-1")]


def test_scaled_down_claims_are_handed_to_the_pod_when_scaled_means_delete() -> None:
    sts = stateful_set(RETENTION, replicas=3)
    pods = [pod(sts, i) for i in range(5)]
    claims = [claim(sts, i) for i in range(5)]
    result = decide(sts, pods, claims=claims)
    assert steps(result) == [("claims", "quiz-4"), ("claims", "quiz-3"),
                             ("delete", "quiz-4"), ("delete", "quiz-3")]
    owned = [claim(sts, i) for i in range(3)] + \
        [claim(sts, i, pod_owner(f"quiz-{i}")) for i in (3, 4)]
    assert steps(decide(sts, pods, claims=owned)) == [("delete", "quiz-4"), ("delete", "quiz-3")]


def test_a_set_being_deleted_only_reports_status() -> None:
    sts = stateful_set(PARALLEL, replicas=1)
    sts.metadata.deletion_timestamp = now_rfc3339(NOW)
    result = decide(sts, [pod(sts, 1)])
    assert steps(result) == []
    assert result.status.replicas == 1


# -- updates ---------------------------------------------------------------------------------
def test_rolling_update_goes_from_the_highest_ordinal_one_pod_at_a_time() -> None:
    sts = stateful_set(PARALLEL)
    old = [pod(sts, i) for i in range(3)]
    first = decide(sts, old, changed=True)
    assert steps(first) == [("delete", "quiz-2")]
    assert first.status.current_replicas == 2 and first.status.updated_replicas == 0
    # quiz-2 is back at the update revision but not ready yet: wait.
    waiting = decide(sts, [*old[:2], pod(sts, 2, revision=UPDATE, ready=False)], changed=True)
    assert steps(waiting) == []
    assert waiting.waiting == "waiting for quiz-2 to be Running and Ready for the update"
    ready = decide(sts, [*old[:2], pod(sts, 2, revision=UPDATE)], changed=True)
    assert steps(ready) == [("delete", "quiz-1")]


def test_rolling_update_recreates_a_deleted_pod_at_the_update_revision() -> None:
    sts = stateful_set(ORDERED)
    result = decide(sts, [pod(sts, 0), pod(sts, 1)], changed=True)
    [created] = result.actions()
    assert created.pod.metadata.labels["controller-revision-hash"] == UPDATE
    assert created.pod.metadata.labels["ver"] == "0.2"


def test_partition_keeps_the_pods_below_it() -> None:
    sts = stateful_set("kia2/Chapter16/sts.quiz.0.2.partition.yaml")  # partition: 3
    old = [pod(sts, i) for i in range(3)]
    assert steps(decide(sts, old, changed=True)) == []
    sts.spec.update_strategy.rolling_update.partition = 2
    assert steps(decide(sts, old, changed=True)) == [("delete", "quiz-2")]
    done = decide(sts, [*old[:2], pod(sts, 2, revision=UPDATE)], changed=True)
    assert steps(done) == []
    # A pod below the partition that goes is re-created at the current revision.
    again = decide(sts, [old[0], pod(sts, 2, revision=UPDATE)], changed=True)
    [created] = again.actions()
    assert (created.pod.metadata.name, created.pod.metadata.labels["controller-revision-hash"]
            ) == ("quiz-1", CURRENT)


def test_on_delete_updates_nothing_by_itself() -> None:
    sts = stateful_set("kia2/Chapter16/sts.quiz.0.2.onDelete.yaml")
    old = [pod(sts, i) for i in range(3)]
    assert steps(decide(sts, old, changed=True)) == []
    # A pod someone deleted comes back at the update revision.
    [created] = decide(sts, [old[0], old[2]], changed=True).actions()
    assert (created.pod.metadata.name, created.pod.metadata.labels["controller-revision-hash"]
            ) == ("quiz-1", UPDATE)


def test_scaling_takes_precedence_over_updates_when_ordered() -> None:
    sts = stateful_set(ORDERED, replicas=2)
    result = decide(sts, [pod(sts, i) for i in range(3)], changed=True)
    assert steps(result) == [("delete", "quiz-2")]
    assert result.actions()[0].why == "scale down"
    assert [a.step for a in result.actions()] == [Step.DELETE]
