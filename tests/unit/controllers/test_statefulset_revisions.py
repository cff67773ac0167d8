"""StatefulSet ControllerRevisions, status counting, the pending-writes memory and the claim
binder, on plain objects."""

from __future__ import annotations

import json
import time

import pytest

from controlplane.controllers import history, pvc
from controlplane.controllers.statefulset import revisions
from controlplane.controllers.statefulset.pending import PendingWrites
from controlplane.controllers.statefulset.status import (
    complete_rolling_update,
    compute_status,
    status_changed,
)
from kemu.client.interface import clone
from tests.unit.controllers.statefulset_objects import (
    NOW,
    claim,
    pod,
    stateful_set,
)

pytestmark = pytest.mark.unit


# -- revisions -------------------------------------------------------------------------------
def test_revision_data_is_the_template_as_a_replace_patch() -> None:
    sts = stateful_set("kia2/Chapter16/sts.demo-ordered.yaml")
    data = json.loads(revisions.revision_data(sts))
    assert list(data) == ["spec"] and list(data["spec"]) == ["template"]
    template = data["spec"]["template"]
    assert template["$patch"] == "replace"
    assert template["metadata"] == {"labels": {"app": "demo-ordered"}}
    assert template["spec"]["terminationGracePeriodSeconds"] == 1


def test_new_revision_is_named_labelled_annotated_and_owned() -> None:
    sts = stateful_set()
    sts.metadata.annotations["note"] = "kept"
    revision = revisions.new_revision(sts, 4, 0)
    revision_hash = revision.metadata.labels[history.CONTROLLER_REVISION_HASH_LABEL]
    assert revision.metadata.name == f"quiz-{revision_hash}"
    assert dict(revision.metadata.labels) == {"app": "quiz", "ver": "0.1",
                                              "controller.kubernetes.io/hash": revision_hash}
    assert dict(revision.metadata.annotations) == {"note": "kept"}
    [owner] = revision.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("StatefulSet", "quiz",
                                                                     "uid-quiz", True)
    assert revision.revision == 4
    assert revisions.new_revision(sts, 4, 1).metadata.name != revision.metadata.name
    changed = clone(sts)
    changed.spec.template.metadata.labels["ver"] = "0.2"
    assert not history.equal_revision(revision, revisions.new_revision(changed, 5, 0))
    assert history.equal_revision(revision, revisions.new_revision(sts, 9, 0))


def test_a_revision_restores_its_template() -> None:
    old = stateful_set()
    new = stateful_set("kia2/Chapter16/sts.quiz.0.2.yaml")
    revision = revisions.new_revision(old, 1, 0)
    assert revisions.template_of(revision) == old.spec.template
    restored = revisions.apply_revision(new, revision)
    assert restored.spec.template == old.spec.template
    assert restored.spec.service_name == new.spec.service_name


def test_history_keeps_the_limit_and_anything_in_use() -> None:
    sts = stateful_set(revisionHistoryLimit=1)
    made = []
    for number in range(1, 6):
        changed = clone(sts)
        changed.spec.template.metadata.labels["ver"] = str(number)
        made.append(revisions.new_revision(changed, number, 0))
    ordered = history.sort_revisions(reversed(made))
    assert [r.revision for r in ordered] == [1, 2, 3, 4, 5]
    in_use = pod(sts, 0, revision=made[1].metadata.name)
    doomed = revisions.history_to_delete(sts, [in_use], ordered, [made[4], made[3]])
    # Live: 5 and 4 (update, current), 2 (a pod's); old: 1 and 3; one may stay.
    assert [r.revision for r in doomed] == [1]
    sts.spec.revision_history_limit = 0
    assert [r.revision for r in revisions.history_to_delete(sts, [], ordered, [made[4]])] == \
        [1, 2, 3, 4]


# -- status ----------------------------------------------------------------------------------
def test_complete_rolling_update_promotes_the_update_revision() -> None:
    sts = stateful_set()
    pods = [pod(sts, i, revision="new") for i in range(3)]
    status = compute_status(sts, pods, "old", "new", 0, 0.0, NOW)
    assert (status.current_replicas, status.updated_replicas) == (0, 3)
    complete_rolling_update(sts, status)
    assert (status.current_revision, status.current_replicas) == ("new", 3)
    not_ready = compute_status(sts, [*pods[:2], pod(sts, 2, revision="new", ready=False)],
                               "old", "new", 0, 0.0, NOW)
    complete_rolling_update(sts, not_ready)
    assert not_ready.current_revision == "old"
    on_delete = stateful_set("kia2/Chapter16/sts.quiz.0.2.onDelete.yaml")
    kept = compute_status(on_delete, pods, "old", "new", 0, 0.0, NOW)
    complete_rolling_update(on_delete, kept)
    assert kept.current_revision == "old"


def test_status_changed() -> None:
    sts = stateful_set()
    status = compute_status(sts, [pod(sts, 0)], "r", "r", 0, 0.0, NOW)
    assert status_changed(sts, status)
    stored = clone(sts)
    stored.status.CopyFrom(status)
    assert not status_changed(stored, status)
    status.ready_replicas = 0
    assert status_changed(stored, status)
    status.CopyFrom(stored.status)
    status.collision_count = 1
    assert status_changed(stored, status)


def test_available_needs_min_ready_seconds() -> None:
    sts = stateful_set()
    pods = [pod(sts, 0, ready_for=100.0), pod(sts, 1, ready_for=2.0)]
    status = compute_status(sts, pods, "r", "r", 0, 10.0, NOW)
    assert (status.ready_replicas, status.available_replicas) == (2, 1)


# -- pending writes --------------------------------------------------------------------------
def test_pending_writes_hold_a_set_until_seen() -> None:
    pending = PendingWrites(ttl=60.0)
    pending.expect_create("ns/quiz", "quiz-0")
    pending.expect_delete("ns/quiz", "uid-quiz-2")
    assert not pending.satisfied("ns/quiz")
    assert pending.satisfied("ns/other")
    pending.created("ns/quiz", "quiz-0")
    assert not pending.satisfied("ns/quiz")
    pending.deleted("ns/quiz", "uid-quiz-2")
    assert pending.satisfied("ns/quiz")
    expiring = PendingWrites(ttl=0.0)
    expiring.expect_create("ns/quiz", "quiz-0")
    time.sleep(0.001)
    assert expiring.satisfied("ns/quiz")


# -- the claim binder ------------------------------------------------------------------------
def test_a_claim_is_bound_to_a_volume_of_its_size() -> None:
    sts = stateful_set()
    fresh = claim(sts, 0)
    fresh.metadata.uid = "1234"
    fresh.status.phase = "Pending"
    assert not pvc.is_bound(fresh)
    spec = pvc.bound_spec(fresh)
    assert spec.spec.volume_name == "pvc-1234"
    assert dict(spec.metadata.annotations) == {"pv.kubernetes.io/bind-completed": "yes",
                                               "pv.kubernetes.io/bound-by-controller": "yes"}
    bound = pvc.bound_status(spec)
    assert bound.status.phase == "Bound"
    assert list(bound.status.access_modes) == ["ReadWriteOnce"]
    assert bound.status.capacity["storage"].value == "1Gi"
    assert pvc.is_bound(bound)
    named = clone(fresh)
    named.spec.volume_name = "my-volume"
    assert pvc.bound_spec(named).spec.volume_name == "my-volume"
    assert "pv.kubernetes.io/bound-by-controller" not in pvc.bound_spec(named).metadata.annotations

