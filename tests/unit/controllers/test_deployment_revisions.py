"""Revisions, revision history, copied annotations, templates and progress predicates."""

from __future__ import annotations

import time

import pytest

from controlplane.controllers.deployment import conditions
from controlplane.controllers.deployment.progress import (
    deployment_complete,
    deployment_progressing,
    deployment_timed_out,
    replica_failures,
)
from controlplane.controllers.deployment.replicasets import equal_ignore_hash, find_new
from controlplane.controllers.deployment.revisions import (
    REVISION,
    REVISION_HISTORY,
    by_revision,
    max_revision,
    set_new_replica_set_annotations,
)
from controlplane.controllers.deployment.sync import calculate_status, new_replica_set_object
from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2

pytestmark = pytest.mark.unit


def deployment(image: str = "web:1") -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name = "web"
    d.metadata.uid = "uid-web"
    d.metadata.generation = 1
    d.spec.replicas = 3
    d.spec.selector.match_labels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    d.spec.template.spec.containers.add(name="web", image=image)
    return d


def test_new_replica_set_carries_the_hash_everywhere() -> None:
    d = deployment()
    rs = new_replica_set_object(d)
    pod_hash = rs.spec.template.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.spec.selector.match_labels["pod-template-hash"] == pod_hash
    assert rs.metadata.labels["pod-template-hash"] == pod_hash
    assert rs.metadata.owner_references[0].uid == "uid-web"
    assert rs.metadata.owner_references[0].controller
    # Another template, or a bumped collision count, gives another name.
    assert new_replica_set_object(deployment("web:2")).metadata.name != rs.metadata.name
    d.status.collision_count = 1
    assert new_replica_set_object(d).metadata.name != rs.metadata.name
    # A restart annotation is a template change like any other.
    restarted = deployment()
    restarted.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] = "now"
    assert new_replica_set_object(restarted).metadata.name != rs.metadata.name


def test_templates_are_compared_without_the_hash_label() -> None:
    d = deployment()
    rs = new_replica_set_object(d)
    assert equal_ignore_hash(rs.spec.template, d.spec.template)
    assert find_new(d, [rs]) is rs
    assert find_new(deployment("web:2"), [rs]) is None


def test_reused_replica_set_moves_its_revision_into_history() -> None:
    d = deployment()
    d.metadata.annotations["kubernetes.io/change-cause"] = "back to v1"
    d.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    rs = new_replica_set_object(d)
    rs.metadata.annotations[REVISION] = "1"
    assert set_new_replica_set_annotations(d, rs, 3, exists=True)
    assert rs.metadata.annotations[REVISION] == "3"
    assert rs.metadata.annotations[REVISION_HISTORY] == "1"
    assert rs.metadata.annotations["kubernetes.io/change-cause"] == "back to v1"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in rs.metadata.annotations
    assert set_new_replica_set_annotations(d, rs, 5, exists=True)
    assert rs.metadata.annotations[REVISION_HISTORY] == "1,3"
    assert not set_new_replica_set_annotations(d, rs, 4, exists=True)  # never lowered


def test_history_is_trimmed_from_the_oldest_end() -> None:
    d = deployment()
    rs = new_replica_set_object(d)
    rs.metadata.annotations[REVISION] = "7"
    rs.metadata.annotations[REVISION_HISTORY] = "1,3,5"
    set_new_replica_set_annotations(d, rs, 9, exists=True, history_limit_chars=4)
    assert rs.metadata.annotations[REVISION_HISTORY] == "5,7"


def test_a_created_replica_set_gets_the_replica_annotations() -> None:
    d = deployment()
    rs = new_replica_set_object(d)
    set_new_replica_set_annotations(d, rs, 1, exists=False)
    assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "4"
    assert rs.metadata.annotations[REVISION] == "1"
    assert REVISION_HISTORY not in rs.metadata.annotations


def test_revision_order() -> None:
    rss = []
    for name, revision, created in (("a", "3", 1), ("b", "1", 2), ("c", "10", 0)):
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name = name
        rs.metadata.uid = name
        rs.metadata.creation_timestamp = now_rfc3339(1_700_000_000 + created)
        rs.metadata.annotations[REVISION] = revision
        rss.append(rs)
    assert [rs.metadata.name for rs in by_revision(rss)] == ["b", "a", "c"]
    assert max_revision(rss) == 10


def test_status_and_progress_predicates() -> None:
    d = deployment()
    new = new_replica_set_object(d)
    new.spec.replicas = 3
    new.status.replicas = 3
    new.status.ready_replicas = 3
    new.status.available_replicas = 2
    status = calculate_status([new], new, d, time.time())
    assert (status.replicas, status.updated_replicas, status.ready_replicas,
            status.available_replicas, status.unavailable_replicas) == (3, 3, 3, 2, 1)
    # 25% of 3 rounds down to 0 unavailable allowed: 2 of 3 available is not enough.
    available = conditions.get_condition(status, conditions.AVAILABLE)
    assert available is not None and available.status == "False"
    assert available.reason == "MinimumReplicasUnavailable"
    assert available.message == "Deployment does not have minimum availability."
    assert not deployment_complete(d, status)
    assert deployment_progressing(d, status)  # compared with the empty status before
    d.status.CopyFrom(status)
    assert not deployment_progressing(d, status)
    new.status.available_replicas = 3
    complete = calculate_status([new], new, d, time.time())
    assert deployment_complete(d, complete)
    available = conditions.get_condition(complete, conditions.AVAILABLE)
    assert available is not None and available.reason == "MinimumReplicasAvailable"
    assert available.message == "Deployment has minimum availability."


def test_timing_out_is_measured_from_the_last_progress_and_scaled() -> None:
    d = deployment()
    d.spec.progress_deadline_seconds = 600
    now = time.time()
    status = apps_pb2.DeploymentStatus()
    status.conditions.append(conditions.new_condition(
        conditions.PROGRESSING, "True", conditions.REPLICA_SET_UPDATED, "", now - 40))
    assert not deployment_timed_out(d, status, 1.0, now)
    assert deployment_timed_out(d, status, 0.05, now)   # 600 s x 0.05 = 30 s
    d.spec.progress_deadline_seconds = 2 ** 31 - 1    # no deadline
    assert not deployment_timed_out(d, status, 0.05, now)


def test_setting_the_same_condition_keeps_its_times() -> None:
    status = apps_pb2.DeploymentStatus()
    conditions.set_condition(status, conditions.new_condition(
        conditions.PROGRESSING, "True", conditions.NEW_REPLICA_SET, "a", 1_700_000_000))
    conditions.set_condition(status, conditions.new_condition(
        conditions.PROGRESSING, "True", conditions.NEW_REPLICA_SET, "b", 1_700_000_100))
    (kept,) = status.conditions
    assert kept.message == "a"
    conditions.set_condition(status, conditions.new_condition(
        conditions.PROGRESSING, "True", conditions.REPLICA_SET_UPDATED, "c", 1_700_000_200))
    (changed,) = status.conditions
    assert changed.last_transition_time == now_rfc3339(1_700_000_000)
    assert changed.last_update_time == now_rfc3339(1_700_000_200)


def test_replica_failures_of_the_new_replica_set_come_first() -> None:
    old, new = apps_pb2.ReplicaSet(), apps_pb2.ReplicaSet()
    old.status.conditions.add(type="ReplicaFailure", status="True", reason="FailedDelete",
                              message="old", last_transition_time=now_rfc3339(1_700_000_000))
    assert [c.message for c in replica_failures([old, new], new)] == ["old"]
    new.status.conditions.add(type="ReplicaFailure", status="True", reason="FailedCreate",
                              message="new", last_transition_time=now_rfc3339(1_700_000_000))
    (failure,) = replica_failures([old, new], new)
    assert (failure.type, failure.reason, failure.message) == \
        ("ReplicaFailure", "FailedCreate", "new")
    assert failure.last_update_time == failure.last_transition_time == now_rfc3339(1_700_000_000)
