"""The client-side rules of commands: names, label and taint specs, drain filters, cascade and
grace periods, rollout status messages."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec, kinds
from kemu.v1 import apps_pb2, core_pb2
from kemuctl.commands.delete import grace_period
from kemuctl.commands.labels import (
    ANNOTATION,
    LABEL,
    overwrite_problem,
    parse_changes,
    split_resources_and_pairs,
)
from kemuctl.commands.nodes import TaintSpec, parse_taints, reorganize_taints
from kemuctl.draining import DrainOptions, plan
from kemuctl.errors import CliError
from kemuctl.resources import parse_args, resolve_kind, resolve_kinds
from kemuctl.rollout.status import daemon_set_status, deployment_status, stateful_set_status

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("word", "kind"), [
    ("po", "Pod"), ("pods", "Pod"), ("pod", "Pod"), ("Pod", "Pod"), ("no", "Node"),
    ("rs", "ReplicaSet"), ("replicasets.apps", "ReplicaSet"), ("rc", "ReplicationController"),
    ("deploy", "Deployment"), ("deployments.v1.apps", "Deployment"), ("ds", "DaemonSet"),
    ("sts", "StatefulSet"), ("job", "Job"), ("jobs.batch", "Job"), ("cj", "CronJob"),
    ("svc", "Service"), ("ep", "Endpoints"), ("ns", "Namespace"), ("ev", "Event"),
    ("pvc", "PersistentVolumeClaim"), ("cm", "ConfigMap"), ("lease", "Lease"),
    ("controllerrevisions", "ControllerRevision"), ("pods.v1", "Pod"),
])
def test_resource_words(word: str, kind: str) -> None:
    assert resolve_kind(word).name == kind


def test_unknown_resource_type() -> None:
    with pytest.raises(CliError, match='the server doesn\'t have a resource type "foo"'):
        resolve_kind("foo")


def test_all_and_lists_of_kinds() -> None:
    assert [k.name for k in resolve_kinds("all")][:3] == ["Pod", "ReplicationController",
                                                          "Service"]
    assert [k.name for k in resolve_kinds("rs,svc,rs")] == ["ReplicaSet", "Service"]


def test_argument_forms() -> None:
    requests = parse_args(["rs,svc", "web"])
    assert [(r.kind.name, r.names) for r in requests] == [("ReplicaSet", ["web"]),
                                                          ("Service", ["web"])]
    requests = parse_args(["rs/web", "rs/api", "svc/web"])
    assert [(r.kind.name, r.names) for r in requests] == [("ReplicaSet", ["web", "api"]),
                                                          ("Service", ["web"])]
    with pytest.raises(CliError, match="no need to specify a resource type"):
        parse_args(["rs", "svc/web"])


def test_label_specs() -> None:
    assert split_resources_and_pairs(["pod", "web", "a=b", "c-"], "label") == (
        ["pod", "web"], ["a=b", "c-"])
    with pytest.raises(CliError, match="all resources must be specified before label changes"):
        split_resources_and_pairs(["pod", "a=b", "web"], "label")
    assert parse_changes(["a=b", "c-"], LABEL) == ({"a": "b"}, ["c"])
    assert parse_changes(["note=x=y"], ANNOTATION) == ({"note": "x=y"}, [])
    with pytest.raises(CliError, match="invalid label spec"):
        parse_changes(["a=b=c"], LABEL)
    with pytest.raises(CliError, match="invalid label value"):
        parse_changes(["a=not valid"], LABEL)
    with pytest.raises(CliError, match="can not both modify and remove"):
        parse_changes(["a=b", "a-"], LABEL)


def test_overwrite_messages() -> None:
    assert overwrite_problem({"app": "web"}, {"app": "api"}, LABEL) == \
        "'app' already has a value (web), and --overwrite is false"
    assert overwrite_problem({"app": "web"}, {"app": "web"}, LABEL) == ""
    assert overwrite_problem({"n": "a"}, {"n": "b"}, ANNOTATION) == \
        "--overwrite is false but found the following declared annotation(s): 'n' already has " \
        "a value (a)"


def test_taint_specs() -> None:
    add, remove = parse_taints(["dedicated=gpu:NoSchedule", "spot:NoExecute-", "old-"])
    assert add == [TaintSpec("dedicated", "gpu", "NoSchedule")]
    assert remove == [TaintSpec("spot", "", "NoExecute"), TaintSpec("old")]
    with pytest.raises(CliError, match="invalid taint effect: Never, unsupported taint effect"):
        parse_taints(["a=b:Never"])
    with pytest.raises(CliError, match="invalid taint spec: a=b"):
        parse_taints(["a=b"])


def taint(key: str, value: str, effect: str) -> core_pb2.Taint:
    return core_pb2.Taint(key=key, value=value, effect=effect)


def test_taint_verbs() -> None:
    old = [taint("a", "1", "NoSchedule")]
    assert reorganize_taints(old, False, [TaintSpec("b", "", "NoExecute")], [])[0] == "tainted"
    verb, new = reorganize_taints(old, False, [], [TaintSpec("a")])
    assert (verb, new) == ("untainted", [])
    assert reorganize_taints(old, True, [TaintSpec("a", "2", "NoSchedule")], [])[0] == "modified"
    with pytest.raises(CliError, match='taint "b:NoSchedule" not found'):
        reorganize_taints(old, False, [], [TaintSpec("b", "", "NoSchedule")])


def pod(name: str, *, owner: str = "", phase: str = "Running", empty_dir: bool = False) -> Any:
    document: dict[str, Any] = {"metadata": {"name": name, "namespace": "ns"},
                                "spec": {"containers": [{"name": "c", "image": "i"}]},
                                "status": {"phase": phase}}
    if owner:
        document["metadata"]["ownerReferences"] = [{"kind": owner, "name": "o", "uid": "u",
                                                    "controller": True}]
    if empty_dir:
        document["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    return codec.decode(core_pb2.Pod, document)


def names(pods: list[Any]) -> list[str]:
    return [p.metadata.name for p in pods]


def test_drain_refuses_what_kubectl_refuses() -> None:
    pods = [pod("ds", owner="DaemonSet"), pod("bare"), pod("data", owner="ReplicaSet",
                                                           empty_dir=True),
            pod("rs", owner="ReplicaSet"), pod("done", phase="Succeeded")]
    decided = plan(pods, DrainOptions(), lambda ns, name: True)
    assert decided.error_texts() == [
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ns/ds",
        "cannot delete cannot delete Pods that declare no controller (use --force to "
        "override): ns/bare",
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): ns/data"]
    decided = plan(pods, DrainOptions(force=True, ignore_daemonsets=True,
                                      delete_emptydir_data=True), lambda ns, name: True)
    assert decided.error_texts() == []
    assert names(decided.delete) == ["bare", "data", "rs", "done"]
    assert decided.warning_text() == ("ignoring DaemonSet-managed Pods: ns/ds; deleting Pods "
                                      "that declare no controller: ns/bare")


def test_drain_orphaned_daemon_set_pods_need_force() -> None:
    missing = 'daemonsets.apps "o" not found'
    decided = plan([pod("ds", owner="DaemonSet")], DrainOptions(ignore_daemonsets=True),
                   lambda ns, name: missing)
    assert decided.error_texts() == [f"cannot delete {missing}: ns/ds"]
    decided = plan([pod("ds", owner="DaemonSet")], DrainOptions(force=True),
                   lambda ns, name: missing)
    assert names(decided.delete) == ["ds"]


def test_grace_period_rules() -> None:
    assert grace_period(-1, False, False) is None
    assert grace_period(-1, True, False) == 1
    assert grace_period(0, False, False) == 1
    assert grace_period(0, False, True) == 0
    assert grace_period(-1, False, True) == 0
    assert grace_period(10, False, False) == 10
    with pytest.raises(CliError, match="--now and --grace-period cannot be specified together"):
        grace_period(5, True, False)


def deployment(**status: Any) -> apps_pb2.Deployment:
    return codec.decode(apps_pb2.Deployment, {"metadata": {"name": "web", "generation": 2},
                                              "spec": {"replicas": 3}, "status": status})


def test_deployment_rollout_messages() -> None:
    assert deployment_status(deployment(observedGeneration=1)) == (
        "Waiting for deployment spec update to be observed...", False)
    assert deployment_status(deployment(observedGeneration=2, updatedReplicas=1))[0] == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
        "updated...")
    assert deployment_status(deployment(observedGeneration=2, updatedReplicas=3,
                                        replicas=4))[0] == (
        'Waiting for deployment "web" rollout to finish: 1 old replicas are pending '
        "termination...")
    assert deployment_status(deployment(observedGeneration=2, updatedReplicas=3, replicas=3,
                                        availableReplicas=1))[0] == (
        'Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are '
        "available...")
    assert deployment_status(deployment(observedGeneration=2, updatedReplicas=3, replicas=3,
                                        availableReplicas=3)) == (
        'deployment "web" successfully rolled out', True)
    with pytest.raises(CliError, match="exceeded its progress deadline"):
        deployment_status(deployment(observedGeneration=2, conditions=[
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]))


def test_daemon_set_and_stateful_set_rollout_messages() -> None:
    ds = codec.decode(apps_pb2.DaemonSet, {"metadata": {"name": "agent", "generation": 1},
                                           "status": {"observedGeneration": 1,
                                                      "desiredNumberScheduled": 3,
                                                      "updatedNumberScheduled": 3,
                                                      "numberAvailable": 2}})
    assert daemon_set_status(ds) == (
        'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...',
        False)
    sts = codec.decode(apps_pb2.StatefulSet, {"metadata": {"name": "db", "generation": 1},
                                              "spec": {"replicas": 2},
                                              "status": {"observedGeneration": 1,
                                                         "readyReplicas": 1}})
    assert stateful_set_status(sts) == ("Waiting for 1 pods to be ready...", False)


def test_kind_names_in_messages() -> None:
    assert kinds.by_name("ReplicaSet").qualified_singular == "replicaset.apps"
