"""ReplicaSet status arithmetic, availability timing and slow-start batching."""

from __future__ import annotations

import time

import pytest

from controlplane.controllers.replicaset import (
    calculate_status,
    next_availability,
    slow_start_batch,
)
from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2, core_pb2

pytestmark = pytest.mark.unit

NOW = time.time()


def replica_set(replicas: int = 3) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "web"
    rs.metadata.generation = 2
    rs.spec.replicas = replicas
    rs.spec.template.metadata.labels.update({"app": "web", "tier": "front"})
    return rs


def pod(labels: dict[str, str], ready_ago: float | None) -> core_pb2.Pod:
    p = core_pb2.Pod()
    p.metadata.labels.update(labels)
    if ready_ago is not None:
        p.status.conditions.add(type="Ready", status="True",
                                last_transition_time=now_rfc3339(NOW - ready_ago))
    return p


FULL = {"app": "web", "tier": "front"}


def test_counts_labels_readiness_and_availability() -> None:
    pods = [pod(FULL, 100), pod(FULL, 2), pod({"app": "web"}, None)]
    status = calculate_status(replica_set(), pods, None, min_ready=10, now=NOW)
    assert (status.replicas, status.fully_labeled_replicas, status.ready_replicas,
            status.available_replicas) == (3, 2, 2, 1)
    assert list(status.conditions) == []


def test_next_availability_is_when_the_next_ready_pod_has_been_ready_long_enough() -> None:
    pods = [pod(FULL, 100), pod(FULL, 4), pod(FULL, 7), pod(FULL, None)]
    wait = next_availability(pods, min_ready=10, now=NOW)
    assert wait is not None and 2 <= wait <= 4
    assert next_availability(pods, min_ready=0, now=NOW) is None


def test_replica_failure_is_set_on_error_and_cleared_after() -> None:
    rs = replica_set(replicas=3)
    error = ApiError(Code.PERMISSION_DENIED, "Forbidden", 'pods "web-" is forbidden: quota')
    failed = calculate_status(rs, [pod(FULL, None)], error, min_ready=0, now=NOW)
    (condition,) = failed.conditions
    assert (condition.type, condition.status, condition.reason) == \
        ("ReplicaFailure", "True", "FailedCreate")
    assert condition.message == 'pods "web-" is forbidden: quota'
    rs.status.CopyFrom(failed)
    recovered = calculate_status(rs, [pod(FULL, None)], None, min_ready=0, now=NOW)
    assert list(recovered.conditions) == []


async def test_slow_start_doubles_batches_and_stops_after_a_failing_one() -> None:
    calls = 0

    async def create() -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise ApiError(Code.INTERNAL, "InternalError", "boom")

    successes, failure = await slow_start_batch(10, 1, create)
    # Batches of 1, 2 and 4 were tried (7 calls); the fourth call failed; 3 never tried.
    assert (calls, successes) == (7, 6)
    assert isinstance(failure, ApiError)


async def test_slow_start_without_failures_makes_every_attempt() -> None:
    calls = 0

    async def create() -> None:
        nonlocal calls
        calls += 1

    assert await slow_start_batch(10, 1, create) == (10, None)
    assert calls == 10
