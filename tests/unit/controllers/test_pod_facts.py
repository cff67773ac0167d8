"""Pod facts answer exactly what kemu.api.pods answers, and are cached per pod object."""

from __future__ import annotations

import itertools
import time

import pytest

from controlplane.controllers.podfacts import PodFactsCache, facts_of
from kemu.api import labels
from kemu.api.meta import controller_of, now_rfc3339
from kemu.api.pods import is_active, is_ready
from kemu.v1 import core_pb2

pytestmark = pytest.mark.unit

NOW = time.time()


def _pod(phase: str, ready: str | None, ready_ago: float, deleting: bool,
         controller: bool | None) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name = "p"
    pod.metadata.labels["app"] = "web"
    pod.status.phase = phase
    if deleting:
        pod.metadata.deletion_timestamp = now_rfc3339(NOW)
    if controller is not None:
        pod.metadata.owner_references.add(kind="ReplicaSet", name="other", uid="uid-1")
        pod.metadata.owner_references.add(kind="ReplicaSet", name="rs", uid="uid-2",
                                          controller=controller)
    pod.status.conditions.add(type="PodScheduled", status="True")
    if ready is not None:
        pod.status.conditions.add(type="Ready", status=ready,
                                  last_transition_time=now_rfc3339(NOW - ready_ago))
    return pod


CASES = list(itertools.product(("Pending", "Running", "Succeeded", "Failed"),
                               (None, "True", "False"), (1.0, 30.0), (False, True),
                               (None, False, True)))


@pytest.mark.parametrize(("phase", "ready", "ago", "deleting", "controller"), CASES)
def test_facts_agree_with_the_pod_helpers(phase: str, ready: str | None, ago: float,
                                          deleting: bool, controller: bool | None) -> None:
    pod = _pod(phase, ready, ago, deleting, controller)
    facts = facts_of(pod)
    ref = controller_of(pod)
    assert facts.controller_uid == (ref.uid if ref is not None else None)
    assert facts.active == is_active(pod)
    assert facts.ready == is_ready(pod)
    assert facts.labels == {"app": "web"}
    for selector in (labels.parse("app=web"), labels.parse("app=web,tier"), labels.parse("!app")):
        assert facts.matches(selector) == selector.matches(pod.metadata.labels)
        assert facts.matches(selector) == selector.matches(pod.metadata.labels)  # remembered


def test_cache_recomputes_only_for_a_new_object() -> None:
    cache = PodFactsCache()
    pod = _pod("Running", "True", 5.0, False, True)
    first = cache(pod)
    assert cache(pod) is first
    changed = core_pb2.Pod()
    changed.CopyFrom(pod)
    changed.status.conditions[1].status = "False"
    assert cache(changed).ready is False
    cache.forget(pod)
    assert len(cache) == 1
    assert cache(pod) is not first and cache(pod).ready is True
