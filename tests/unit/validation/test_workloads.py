"""ReplicaSet, ReplicationController, Deployment, DaemonSet, StatefulSet and ControllerRevision
validation: selectors, counts, strategies, and what updates may change."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec
from tests.unit.validation.helpers import (
    container,
    create,
    deployment,
    fields,
    rendered,
    status_update,
    template,
    update,
    valid,
)

pytestmark = pytest.mark.unit

MISMATCH = ('spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not '
            "match template `labels`")


def errors_of(kind: str, document: dict[str, Any]) -> list[str]:
    return rendered(create(kind, document)[1])


def controller(kind: str, **spec: Any) -> dict[str, Any]:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}
    if kind == "StatefulSet":
        body.setdefault("serviceName", "web")
    return {"metadata": {"name": "web"}, "spec": body}


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"])
def test_apps_selector_is_required_and_must_match(kind: str) -> None:
    missing = controller(kind)
    del missing["spec"]["selector"]
    assert errors_of(kind, missing) == ["spec.selector: Required value", MISMATCH]
    other = controller(kind, selector={"matchLabels": {"app": "db"}})
    assert errors_of(kind, other) == [MISMATCH]


@pytest.mark.parametrize(("kind", "word"), [("ReplicaSet", "deployment"),
                                            ("Deployment", "deployment"),
                                            ("DaemonSet", "daemonset"),
                                            ("StatefulSet", "statefulset")])
def test_empty_selector_is_invalid(kind: str, word: str) -> None:
    assert errors_of(kind, controller(kind, selector={})) == [
        f"spec.selector: Invalid value: {{}}: empty selector is invalid for {word}"]


def test_selector_expressions_are_checked() -> None:
    found = errors_of("Deployment", deployment(selector={"matchExpressions": [
        {"key": "app", "operator": "Equals", "values": ["web"]},
        {"key": "tier", "operator": "In"}]}))
    assert 'spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid ' \
           "selector operator" in found
    assert "spec.selector.matchExpressions[1].values: Required value: must be specified when " \
           "`operator` is 'In' or 'NotIn'" in found


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "StatefulSet"])
def test_negative_replicas(kind: str) -> None:
    assert errors_of(kind, controller(kind, replicas=-1)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"])
def test_template_restart_policy_must_be_always(kind: str) -> None:
    body = controller(kind, template=template(restartPolicy="OnFailure"))
    assert errors_of(kind, body) == [
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: '
        '"Always"']


def test_template_labels_path_is_kubernetes_own() -> None:
    body = controller("ReplicaSet", template=template({"app": "web", "bad/key/x": "1"}))
    assert any(e.startswith('spec.template.labels: Invalid value: "bad/key/x"')
               for e in errors_of("ReplicaSet", body))


def test_min_ready_seconds_history_and_progress_deadline() -> None:
    found = errors_of("Deployment", deployment(minReadySeconds=-1, revisionHistoryLimit=-2))
    assert "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0" in found
    assert "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0" in found
    assert errors_of("Deployment", deployment(minReadySeconds=700)) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}},
     "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
     "'Recreate'"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
     "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
     "`maxSurge` is 0"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}},
     'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater '
     "than 100%"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}},
     'spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must '
     "be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
     "validation is '[0-9]+%')"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": -1}},
     "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal "
     "to 0"),
    ({"type": "BlueGreen"},
     'spec.strategy: Unsupported value: "BlueGreen": supported values: "Recreate", '
     '"RollingUpdate"'),
])
def test_deployment_strategy(strategy: dict[str, Any], expected: str) -> None:
    assert expected in errors_of("Deployment", deployment(strategy=strategy))


@pytest.mark.parametrize(("strategy", "expected"), [
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
     "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
     "maxUnavailable is non-zero"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
     "maxSurge is 0"),
    ({"type": "Replace"},
     'spec.updateStrategy: Unsupported value: "Replace": supported values: "RollingUpdate", '
     '"OnDelete"'),
])
def test_daemon_set_update_strategy(strategy: dict[str, Any], expected: str) -> None:
    assert expected in errors_of("DaemonSet", controller("DaemonSet", updateStrategy=strategy))


def test_daemon_set_surge_alone_is_fine() -> None:
    valid("DaemonSet", controller("DaemonSet", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}))


def test_stateful_set_rules() -> None:
    found = errors_of("StatefulSet", controller(
        "StatefulSet", podManagementPolicy="Random",
        updateStrategy={"type": "OnDelete", "rollingUpdate": {"partition": 1}},
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep"},
        volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}]))
    assert "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or " \
           "'Parallel'" in found
    assert 'spec.updateStrategy.rollingUpdate: Invalid value: {"partition":1}: only allowed ' \
           "for updateStrategy 'RollingUpdate'" in found
    assert 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": ' \
           'supported values: "Retain", "Delete"' in found
    assert "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access " \
           "mode is required" in found
    assert "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value" in found
    partition = errors_of("StatefulSet", controller("StatefulSet", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": -1}}))
    assert partition == ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must "
                         "be greater than or equal to 0"]


def test_stateful_set_names_are_dns_labels_and_claims_count_as_volumes() -> None:
    dotted = controller("StatefulSet")
    dotted["metadata"]["name"] = "db.primary"
    assert fields(create("StatefulSet", dotted)[1]) == ["metadata.name"]
    mounted = controller("StatefulSet", template=template(containers=[container(
        volumeMounts=[{"name": "data", "mountPath": "/data"}])]),
        volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    valid("StatefulSet", mounted)


def test_stateful_set_updates_may_change_only_some_fields() -> None:
    old = valid("StatefulSet", controller("StatefulSet"))
    scaled = codec.decode(type(old), codec.encode(old))
    scaled.spec.replicas = 5
    scaled.spec.template.spec.containers[0].image = "nginx:2"
    scaled.spec.update_strategy.type = "OnDelete"
    scaled.spec.update_strategy.ClearField("rolling_update")
    assert update("StatefulSet", scaled, old)[1] == []
    renamed = codec.decode(type(old), codec.encode(old))
    renamed.spec.service_name = "other"
    assert rendered(update("StatefulSet", renamed, old)[1]) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"]


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "DaemonSet"])
def test_apps_selectors_are_immutable(kind: str) -> None:
    old = valid(kind, controller(kind))
    changed = codec.decode(type(old), codec.encode(old))
    changed.spec.selector.match_labels["tier"] = "front"
    changed.spec.template.metadata.labels["tier"] = "front"
    assert rendered(update(kind, changed, old)[1]) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"front"}}: field is '
        "immutable"]


def test_replication_controller_rules() -> None:
    assert errors_of("ReplicationController", {"metadata": {"name": "rc"}, "spec": {
        "template": template({})}}) == ["spec.selector: Required value"]
    assert errors_of("ReplicationController", {"metadata": {"name": "rc"}, "spec": {
        "selector": {"app": "db"}, "template": template()}}) == [MISMATCH]
    old = valid("ReplicationController", {"metadata": {"name": "rc"},
                                          "spec": {"template": template()}})
    changed = codec.decode(type(old), codec.encode(old))
    changed.spec.selector["tier"] = "a"
    changed.spec.template.metadata.labels["tier"] = "a"
    assert update("ReplicationController", changed, old)[1] == []


def test_deployment_generation_follows_spec_and_annotations() -> None:
    old = valid("Deployment", deployment())
    old.metadata.generation = 3
    noted = codec.decode(type(old), codec.encode(old))
    noted.metadata.annotations["note"] = "x"
    assert update("Deployment", noted, old)[0].metadata.generation == 4
    scaled = codec.decode(type(old), codec.encode(old))
    scaled.spec.replicas = 3
    assert update("Deployment", scaled, old)[0].metadata.generation == 4
    same = codec.decode(type(old), codec.encode(old))
    assert update("Deployment", same, old)[0].metadata.generation == 3


def test_status_updates_are_checked() -> None:
    old = valid("ReplicaSet", controller("ReplicaSet"))
    new = codec.decode(type(old), codec.encode(old))
    new.status.replicas = 1
    new.status.ready_replicas = 2
    new.status.available_replicas = -1
    assert rendered(status_update("ReplicaSet", new, old)) == [
        "status.availableReplicas: Invalid value: -1: must be greater than or equal to 0",
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]
    dep = valid("Deployment", deployment())
    dep.status.collision_count = 2
    lower = codec.decode(type(dep), codec.encode(dep))
    lower.status.collision_count = 1
    assert rendered(status_update("Deployment", lower, dep)) == [
        "status.collisionCount: Invalid value: 1: cannot be decremented"]


def test_controller_revision() -> None:
    assert errors_of("ControllerRevision", {"metadata": {"name": "r"}, "revision": -1}) == [
        "data: Required value: data is mandatory",
        "revision: Invalid value: -1: must be greater than or equal to 0"]
    old = valid("ControllerRevision", {"metadata": {"name": "r"}, "revision": 1,
                                       "data": {"spec": {"a": 1}}})
    changed = codec.decode(type(old), codec.encode(old))
    changed.data.raw = b'{"spec":{"a":2}}'
    assert fields(update("ControllerRevision", changed, old)[1]) == ["data"]


def test_daemon_set_template_generation_annotation() -> None:
    key = "deprecated.daemonset.template.generation"
    ds = valid("DaemonSet", controller("DaemonSet"))
    assert ds.metadata.annotations[key] == "1"
    forged = codec.decode(type(ds), codec.encode(ds))
    forged.spec.min_ready_seconds = 5
    forged.metadata.annotations[key] = "9"
    kept, found = update("DaemonSet", forged, ds)
    assert found == [] and kept.metadata.annotations[key] == "1"
    changed = codec.decode(type(kept), codec.encode(kept))
    changed.spec.template.spec.containers[0].image = "nginx:2"
    assert update("DaemonSet", changed, kept)[0].metadata.annotations[key] == "2"
