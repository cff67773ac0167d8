"""The last-applied annotation and the three-way merge patch of client-side apply."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kemu.api import kinds
from kemuctl.applying import (
    LAST_APPLIED,
    annotated,
    is_subset,
    normalized,
    retain_keys_of,
    three_way_patch,
)

pytestmark = pytest.mark.unit

RS = kinds.by_name("ReplicaSet")


def manifest(replicas: int = 1, labels: dict[str, str] | None = None,
             ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "kiamol/ch02-whoami"}
    if ports is not None:
        container["ports"] = ports
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "whoami-web", "labels": labels or {"kiamol": "ch06"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "whoami-web"}},
                     "template": {"metadata": {"labels": {"app": "whoami-web"}},
                                  "spec": {"containers": [container]}}}}


def test_annotation_is_the_manifest_as_kubectl_writes_it() -> None:
    modified, original = annotated(manifest(), "default")
    assert original.endswith("}\n")
    assert json.loads(original)["metadata"] == {"annotations": {}, "labels": {"kiamol": "ch06"},
                                                "name": "whoami-web", "namespace": "default"}
    assert original.startswith('{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":')
    assert modified["metadata"]["annotations"] == {LAST_APPLIED: original}


def test_an_old_annotation_in_the_manifest_is_not_nested() -> None:
    document = manifest()
    document["metadata"]["annotations"] = {LAST_APPLIED: "old", "team": "a"}
    modified, original = annotated(document, "ns")
    assert json.loads(original)["metadata"]["annotations"] == {"team": "a"}
    assert modified["metadata"]["annotations"]["team"] == "a"


def live(document: dict[str, Any], **status: Any) -> dict[str, Any]:
    """What the server stores: the document plus server fields."""
    stored = normalized(RS, document)
    assert stored is not None
    stored["metadata"].update(uid="u", resourceVersion="5", generation=1,
                              creationTimestamp="2024-01-01T00:00:00Z")
    stored["status"] = status or {"replicas": 1}
    return stored


def test_same_manifest_again_is_no_patch() -> None:
    modified, _ = annotated(manifest(), "default")
    current = live(modified)
    original = normalized(RS, json.loads(modified["metadata"]["annotations"][LAST_APPLIED]))
    assert three_way_patch(original, normalized(RS, modified) or {}, current) == {}


def test_changed_field_and_new_annotation_are_patched() -> None:
    first, _ = annotated(manifest(replicas=1), "default")
    current = live(first)
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    second, text = annotated(manifest(replicas=3), "default")
    patch = three_way_patch(original, normalized(RS, second) or {}, current)
    assert patch == {"metadata": {"annotations": {LAST_APPLIED: text}},
                     "spec": {"replicas": 3}}


def test_field_removed_from_the_manifest_is_removed() -> None:
    first, _ = annotated(manifest(labels={"kiamol": "ch06", "tier": "web"}), "default")
    current = live(first)
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    second, _ = annotated(manifest(labels={"kiamol": "ch06"}), "default")
    patch = three_way_patch(original, normalized(RS, second) or {}, current)
    assert patch["metadata"]["labels"] == {"tier": None}


def test_fields_set_by_others_are_kept() -> None:
    first, _ = annotated(manifest(), "default")
    current = live(first)
    current["metadata"]["labels"]["added-by-hand"] = "yes"
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    assert three_way_patch(original, normalized(RS, first) or {}, current) == {}


def test_list_with_server_defaults_inside_is_unchanged() -> None:
    first, _ = annotated(manifest(ports=[{"containerPort": 80}]), "default")
    current = live(first)
    current["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    current["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    assert three_way_patch(original, normalized(RS, first) or {}, current) == {}


def test_list_changed_in_the_manifest_is_replaced_whole() -> None:
    first, _ = annotated(manifest(ports=[{"containerPort": 80, "name": "http"}]), "default")
    current = live(first)
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    second, _ = annotated(manifest(ports=[]), "default")
    patch = three_way_patch(original, normalized(RS, second) or {}, current)
    assert patch["spec"]["template"]["spec"]["containers"] == [
        {"image": "kiamol/ch02-whoami", "name": "web"}]


def test_list_changed_by_someone_else_is_put_back() -> None:
    first, _ = annotated(manifest(), "default")
    current = live(first)
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    original = normalized(RS, json.loads(first["metadata"]["annotations"][LAST_APPLIED]))
    patch = three_way_patch(original, normalized(RS, first) or {}, current)
    assert patch["spec"]["template"]["spec"]["containers"][0]["image"] == "kiamol/ch02-whoami"


def test_without_an_original_nothing_is_deleted() -> None:
    current = live(manifest(labels={"kiamol": "ch06", "tier": "web"}))
    patch = three_way_patch(None, normalized(RS, manifest()) or {}, current)
    assert "labels" not in patch.get("metadata", {})


def test_subset() -> None:
    assert is_subset({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2, "c": 3}], "d": 4})
    assert not is_subset({"a": [1]}, {"a": [1, 2]})
    assert not is_subset({"a": True}, {"a": 1})
    assert not is_subset({"a": 1}, {})


def test_switching_a_deployment_to_recreate_drops_the_defaulted_rolling_update() -> None:
    """retainKeys on spec.strategy: Kubernetes in Action's deploy.kiada.recreate.yaml applied
    over deploy.kiada.yaml, whose live strategy the server defaulted."""
    deploy = kinds.by_name("Deployment")
    first = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kiada"},
             "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kiada"}},
                      "template": {"metadata": {"labels": {"app": "kiada"}},
                                   "spec": {"containers": [{"name": "k", "image": "kiada"}]}}}}
    current = normalized(deploy, first)
    assert current is not None
    current["spec"]["strategy"] = {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    second = json.loads(json.dumps(first))
    second["spec"]["strategy"] = {"type": "Recreate"}
    patch = three_way_patch(normalized(deploy, first), normalized(deploy, second) or {}, current,
                            retain_keys_of(deploy))
    assert patch == {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}}
    # Applying the same strategy again changes nothing, whatever the server defaulted.
    third = json.loads(json.dumps(first))
    third["spec"]["strategy"] = {"type": "RollingUpdate"}
    current["spec"]["strategy"] = {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert three_way_patch(normalized(deploy, third), normalized(deploy, third) or {}, current,
                           retain_keys_of(deploy)) == {}
