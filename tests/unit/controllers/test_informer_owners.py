"""Informer.resolve_ref and Informer.selecting: the owner lookups every workload controller
shares (Kubernetes' resolveControllerRef and getPodReplicaSets & co.)."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.controllers.informer import Informer
from kemu.api import labels
from kemu.v1 import apps_pb2, core_pb2, meta_pb2

pytestmark = pytest.mark.unit


def _rs(name: str, uid: str, selector: dict[str, str], namespace: str = "ns") -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name, rs.metadata.namespace, rs.metadata.uid = name, namespace, uid
    rs.spec.selector.match_labels.update(selector)
    return rs


def _informer(*owners: apps_pb2.ReplicaSet) -> Informer[apps_pb2.ReplicaSet]:
    client: Any = None
    informer: Informer[apps_pb2.ReplicaSet] = Informer(client, apps_pb2.ReplicaSet)
    for owner in owners:
        informer.items[f"{owner.metadata.namespace}/{owner.metadata.name}"] = owner
    return informer


def _selector(rs: apps_pb2.ReplicaSet) -> labels.Selector:
    return labels.from_label_selector(rs.spec.selector)


def test_a_reference_resolves_only_to_the_same_kind_name_and_uid() -> None:
    informer = _informer(_rs("web", "uid-1", {"app": "web"}))
    ref = meta_pb2.OwnerReference(kind="ReplicaSet", name="web", uid="uid-1")
    assert informer.resolve_ref("ReplicaSet", "ns", ref) is not None
    assert informer.resolve_ref("ReplicationController", "ns", ref) is None
    assert informer.resolve_ref("ReplicaSet", "other", ref) is None
    stale = meta_pb2.OwnerReference(kind="ReplicaSet", name="web", uid="uid-0")
    assert informer.resolve_ref("ReplicaSet", "ns", stale) is None  # deleted and recreated


def test_selecting_matches_labels_in_the_namespace_and_empty_selects_nothing() -> None:
    web, everything = _rs("web", "1", {"app": "web"}), _rs("all", "2", {})
    elsewhere = _rs("web", "3", {"app": "web"}, namespace="other")
    informer = _informer(web, everything, elsewhere)
    pod = core_pb2.Pod()
    pod.metadata.namespace = "ns"
    assert informer.selecting(pod, _selector) == []  # no labels: no owner
    pod.metadata.labels["app"] = "web"
    assert informer.selecting(pod, _selector) == [web]
    assert informer.selecting(pod, lambda rs: None) == []
