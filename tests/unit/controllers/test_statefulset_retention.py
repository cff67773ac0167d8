"""Claim owner references for each ``persistentVolumeClaimRetentionPolicy`` (whenScaled x
whenDeleted), on plain objects: what is wanted, what is up to date, how references are rewritten,
stale claims, and claims another controller owns."""

from __future__ import annotations

import pytest

from controlplane.controllers.statefulset import retention
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.controllers.statefulset_objects import (
    claim,
    pod,
    pod_owner,
    set_owner,
    stateful_set,
)

pytestmark = pytest.mark.unit


def with_policy(when_scaled: str, when_deleted: str, replicas: int = 3
                ) -> apps_pb2.StatefulSet:
    return stateful_set(replicas=replicas, persistentVolumeClaimRetentionPolicy={
        "whenScaled": when_scaled, "whenDeleted": when_deleted})


def owners(refs: list[object]) -> list[tuple[str, str]]:
    return [(r.kind, r.name) for r in refs]  # type: ignore[attr-defined]


def rewritten(sts: apps_pb2.StatefulSet, the_claim: core_pb2.PersistentVolumeClaim,
              the_pod: core_pb2.Pod) -> list[tuple[str, str]]:
    return owners(retention.updated_owner_refs(the_claim, sts, the_pod))  # type: ignore[arg-type]


@pytest.mark.parametrize("when_scaled, when_deleted, in_range, scaled_away", [
    ("Retain", "Retain", [], []),
    ("Retain", "Delete", [("StatefulSet", "quiz")], [("StatefulSet", "quiz")]),
    ("Delete", "Retain", [], [("Pod", "quiz-2")]),
    ("Delete", "Delete", [("StatefulSet", "quiz")], [("Pod", "quiz-2")]),
])
def test_owners_per_policy(when_scaled: str, when_deleted: str,
                           in_range: list[tuple[str, str]],
                           scaled_away: list[tuple[str, str]]) -> None:
    sts = with_policy(when_scaled, when_deleted)
    assert rewritten(sts, claim(sts, 2), pod(sts, 2)) == in_range
    smaller = with_policy(when_scaled, when_deleted, replicas=2)
    assert rewritten(smaller, claim(smaller, 2), pod(smaller, 2)) == scaled_away


def test_the_policy_defaults_to_retain() -> None:
    sts = stateful_set()
    sts.spec.ClearField("persistent_volume_claim_retention_policy")
    assert retention.policy_of(sts) == ("Retain", "Retain")
    assert retention.policy_of(stateful_set(
        "kia2/Chapter16/sts.quiz.pvcRetentionPolicy.yaml")) == ("Delete", "Retain")


def test_up_to_date_and_rewritten() -> None:
    sts = with_policy("Retain", "Delete")
    bare = claim(sts, 0)
    assert not retention.claim_owner_up_to_date(bare, sts, pod(sts, 0))
    owned = claim(sts, 0, set_owner(sts))
    assert retention.claim_owner_up_to_date(owned, sts, pod(sts, 0))
    # Back to Retain: our reference is scrubbed (the claim is released).
    retained = with_policy("Retain", "Retain")
    assert not retention.claim_owner_up_to_date(owned, retained, pod(retained, 0))
    assert rewritten(retained, owned, pod(retained, 0)) == []


def test_a_non_controller_reference_of_ours_is_replaced() -> None:
    sts = with_policy("Retain", "Delete")
    the_claim = claim(sts, 0)
    the_claim.metadata.owner_references.add(api_version="apps/v1", kind="StatefulSet",
                                            name="quiz", uid=sts.metadata.uid)
    assert not retention.claim_owner_up_to_date(the_claim, sts, pod(sts, 0))
    [ref] = retention.updated_owner_refs(the_claim, sts, pod(sts, 0))
    assert ref.controller and ref.block_owner_deletion


def test_references_of_others_are_kept() -> None:
    sts = with_policy("Retain", "Delete")
    the_claim = claim(sts, 0)
    the_claim.metadata.owner_references.add(api_version="v1", kind="ConfigMap", name="keep",
                                            uid="uid-keep")
    assert rewritten(sts, the_claim, pod(sts, 0)) == [("ConfigMap", "keep"),
                                                     ("StatefulSet", "quiz")]


def test_another_controller_wins() -> None:
    sts = with_policy("Delete", "Delete")
    foreign = claim(sts, 0, ("apps/v1", "ReplicaSet", "other", "uid-other"))
    the_pod = pod(sts, 0)
    assert retention.has_unexpected_controller(foreign, sts, the_pod)
    assert retention.claim_owner_up_to_date(foreign, sts, the_pod)
    both = claim(sts, 0, ("apps/v1", "ReplicaSet", "other", "uid-other"), set_owner(sts))
    assert not retention.claim_owner_up_to_date(both, sts, the_pod)
    assert rewritten(sts, both, the_pod) == [("ReplicaSet", "other")]
    assert not retention.has_unexpected_controller(foreign, with_policy("Retain", "Retain"),
                                                   the_pod)


def test_references_to_an_earlier_incarnation_are_not_touched() -> None:
    sts = with_policy("Delete", "Retain", replicas=2)
    old = claim(sts, 2, pod_owner("quiz-2", "uid-of-an-earlier-quiz-2"))
    assert retention.claim_owner_up_to_date(old, sts, pod(sts, 2))


def test_stale_claims_block_only_when_scaled_means_delete() -> None:
    sts = with_policy("Delete", "Retain")
    the_pod = pod(sts, 1)
    planned = pod(sts, 1)
    planned.metadata.uid = ""
    stale = {c.metadata.name: c for c in [claim(sts, 1, pod_owner("quiz-1", "uid-old"))]}
    assert retention.claim_is_stale(sts, planned, stale)
    assert retention.claim_is_stale(sts, the_pod, stale)
    mine = {c.metadata.name: c for c in [claim(sts, 1, pod_owner("quiz-1"))]}
    assert not retention.claim_is_stale(sts, the_pod, mine)
    assert not retention.claim_is_stale(sts, planned, {})
    assert not retention.claim_is_stale(with_policy("Retain", "Delete"), planned, stale)


def test_claims_match_policy_and_missing_claims() -> None:
    sts = with_policy("Retain", "Delete")
    the_pod = pod(sts, 1)
    assert retention.claims_match_policy(sts, the_pod, {})
    assert retention.missing_claims(sts, the_pod, {}) == ["db-data-quiz-1"]
    bare = claim(sts, 1)
    assert not retention.claims_match_policy(sts, the_pod, {bare.metadata.name: bare})
    owned = claim(sts, 1, set_owner(sts))
    assert retention.claims_match_policy(sts, the_pod, {owned.metadata.name: owned})
    assert retention.missing_claims(sts, the_pod, {owned.metadata.name: owned}) == []
