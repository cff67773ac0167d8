"""A StatefulSet pod's identity on plain objects: names and ordinals, labels, hostname and
subdomain, claims named ``<template>-<set>-<ordinal>`` replacing the pod's placeholder volume."""

from __future__ import annotations

import pytest

from controlplane.controllers.statefulset import identity
from tests.unit.controllers.statefulset_objects import stateful_set

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name, parsed", [
    ("quiz-0", ("quiz", 0)), ("quiz-12", ("quiz", 12)), ("my-app-3", ("my-app", 3)),
    ("quiz", ("", -1)), ("quiz-x", ("", -1)), ("quiz-", ("", -1)),
    ("quiz-99999999999", ("quiz", -1)),
])
def test_parent_and_ordinal(name: str, parsed: tuple[str, int]) -> None:
    assert identity.parent_and_ordinal(name) == parsed


def test_new_pod_has_the_identity_of_its_ordinal() -> None:
    sts = stateful_set()
    pod = identity.new_pod(sts, sts.spec.template, 2)
    assert (pod.metadata.name, pod.metadata.generate_name, pod.metadata.namespace) == \
        ("quiz-2", "quiz-", "default")
    assert dict(pod.metadata.labels) == {
        "app": "quiz", "ver": "0.1", "statefulset.kubernetes.io/pod-name": "quiz-2",
        "apps.kubernetes.io/pod-index": "2"}
    assert (pod.spec.hostname, pod.spec.subdomain) == ("quiz-2", "quiz-pods")
    [owner] = pod.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == \
        ("StatefulSet", "quiz", "uid-quiz", True)
    assert identity.identity_matches(sts, pod)
    assert identity.storage_matches(sts, pod)


def test_claim_template_replaces_the_placeholder_volume() -> None:
    """sts.quiz.yaml declares ``db-data: persistentVolumeClaim: {claimName: db-data}`` and a
    claim template ``db-data``: each pod mounts its own claim under that volume name."""
    sts = stateful_set()
    pod = identity.new_pod(sts, sts.spec.template, 1)
    [volume] = pod.spec.volumes
    assert (volume.name, volume.persistent_volume_claim.claim_name) == ("db-data",
                                                                        "db-data-quiz-1")
    [mount] = [m for c in pod.spec.containers for m in c.volume_mounts]
    assert (mount.name, mount.mount_path) == ("db-data", "/data/db")


def test_other_volumes_are_kept() -> None:
    sts = stateful_set()
    sts.spec.template.spec.volumes.add(name="cache").empty_dir.SetInParent()
    pod = identity.new_pod(sts, sts.spec.template, 0)
    assert [v.name for v in pod.spec.volumes] == ["db-data", "cache"]


def test_claims_for_an_ordinal() -> None:
    sts = stateful_set()
    [(template, claim)] = identity.claims_for(sts, 4).items()
    assert (template, claim.metadata.name, claim.metadata.namespace) == \
        ("db-data", "db-data-quiz-4", "default")
    assert dict(claim.metadata.labels) == {"app": "quiz"}
    assert list(claim.spec.access_modes) == ["ReadWriteOnce"]
    assert claim.spec.resources.requests["storage"].value == "1Gi"
    assert not claim.metadata.owner_references


def test_identity_and_storage_mismatches() -> None:
    sts = stateful_set()
    pod = identity.new_pod(sts, sts.spec.template, 0)
    pod.metadata.labels["statefulset.kubernetes.io/pod-name"] = "other"
    assert not identity.identity_matches(sts, pod)
    identity.update_identity(sts, pod)
    assert identity.identity_matches(sts, pod)
    pod.spec.volumes[0].persistent_volume_claim.claim_name = "db-data"
    assert not identity.storage_matches(sts, pod)
    identity.update_storage(sts, pod)
    assert identity.storage_matches(sts, pod)
    other = stateful_set("kia2/Chapter16/sts.demo-ordered.yaml")
    assert not identity.is_member(other, pod)
    assert identity.is_member(sts, pod)


def test_ordinal_range() -> None:
    sts = stateful_set(ordinals={"start": 3}, replicas=2)
    assert (identity.start_ordinal(sts), identity.end_ordinal(sts)) == (3, 4)
    assert [o for o in range(7) if identity.in_range(sts, o)] == [3, 4]
    empty = stateful_set(replicas=0)
    assert not identity.in_range(empty, 0)


def test_versioned_pods_follow_the_partition() -> None:
    sts = stateful_set("kia2/Chapter16/sts.quiz.0.2.partition.yaml")  # partition 3
    update = sts.spec.template.__class__()
    update.CopyFrom(sts.spec.template)
    update.metadata.labels["ver"] = "0.3"

    def made(ordinal: int) -> tuple[str, str]:
        pod = identity.new_versioned_pod(sts, sts.spec.template, update, "cur", "upd", ordinal)
        return pod.metadata.labels["controller-revision-hash"], pod.metadata.labels["ver"]

    assert [made(o) for o in range(3)] == [("cur", "0.2")] * 3
    sts.spec.update_strategy.rolling_update.partition = 1
    assert [made(o) for o in range(3)] == [("cur", "0.2"), ("upd", "0.3"), ("upd", "0.3")]
