"""``kemuctl rollout`` on Deployments with ReplicaSets that carry revision annotations, and on
DaemonSets with ControllerRevisions, all created through the API (no controllers run here)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from launcher.cluster import LocalCluster
from tests.integration.cli.conftest import Api, Kemuctl, owner_reference

pytestmark = pytest.mark.integration


def template(image: str, hash_label: str = "") -> dict[str, Any]:
    labels = {"app": "web"}
    if hash_label:
        labels["pod-template-hash"] = hash_label
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image}]}}


def deployment_with_history(api: Api, namespace: str) -> Any:
    deploy = api.create("Deployment", {
        "metadata": {"name": "web", "namespace": namespace,
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": template("web:v2")}})
    for revision, image, hash_label, cause in ((1, "web:v1", "aaa", ""),
                                               (2, "web:v2", "bbb", "image updated to v2")):
        annotations = {"deployment.kubernetes.io/revision": str(revision)}
        if cause:
            annotations["kubernetes.io/change-cause"] = cause
        api.create("ReplicaSet", {
            "metadata": {"name": f"web-{hash_label}", "namespace": namespace,
                         "labels": {"app": "web", "pod-template-hash": hash_label},
                         "annotations": annotations,
                         "ownerReferences": [owner_reference(deploy, "Deployment", "apps/v1")]},
            "spec": {"replicas": 3 if revision == 2 else 0,
                     "selector": {"matchLabels": {"app": "web", "pod-template-hash": hash_label}},
                     "template": template(image, hash_label)}})
    # A ReplicaSet with the same labels that the Deployment does not own is not its history.
    api.create("ReplicaSet", {
        "metadata": {"name": "stranger", "namespace": namespace, "labels": {"app": "web"},
                     "annotations": {"deployment.kubernetes.io/revision": "9"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("other")}})
    return deploy


def test_deployment_history_and_undo(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    deployment_with_history(api, namespace)
    history = kemuctl("rollout", "history", "deployment/web", "-n", namespace)
    assert history.exit_code == 0, history.stderr
    assert history.stdout == ("deployment.apps/web\nREVISION  CHANGE-CAUSE\n1         <none>\n"
                              "2         image updated to v2\n\n")
    detail = kemuctl("rollout", "history", "deploy", "web", "--revision=1", "-n", namespace)
    assert detail.lines[:6] == ["deployment.apps/web with revision #1", "Pod Template:",
                                "  Labels:\tapp=web", "\tpod-template-hash=aaa", "  Containers:",
                                "   web:"]
    assert "    Image:\tweb:v1" in detail.lines
    missing = kemuctl("rollout", "history", "deploy/web", "--revision=7", "-n", namespace)
    assert missing.stderr.strip() == "error: unable to find the specified revision"

    undone = kemuctl("rollout", "undo", "deploy/web", "-n", namespace)
    assert undone.lines == ["deployment.apps/web rolled back"]
    deploy = api.get("Deployment", "web", namespace)
    assert deploy.spec.template.spec.containers[0].image == "web:v1"
    assert dict(deploy.spec.template.metadata.labels) == {"app": "web"}
    assert deploy.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    again = kemuctl("rollout", "undo", "deploy/web", "--to-revision=1", "-n", namespace)
    assert again.lines == ["deployment.apps/web skipped rollback (current template already "
                           "matches revision)"]
    back = kemuctl("rollout", "undo", "deploy/web", "--to-revision=2", "-n", namespace)
    assert back.lines == ["deployment.apps/web rolled back"]
    assert api.get("Deployment", "web", namespace).metadata.annotations[
        "kubernetes.io/change-cause"] == "image updated to v2"
    unknown = kemuctl("rollout", "undo", "deploy/web", "--to-revision=5", "-n", namespace)
    assert unknown.stderr.strip() == "error: unable to find specified revision 5 in history"


def test_pause_resume_restart(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    deployment_with_history(api, namespace)
    assert kemuctl("rollout", "pause", "deploy/web", "-n", namespace).lines == [
        "deployment.apps/web paused"]
    assert kemuctl("rollout", "pause", "deploy/web", "-n", namespace).lines == [
        "deployment.apps/web already paused"]
    refused = kemuctl("rollout", "undo", "deploy/web", "-n", namespace)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == ("error: you cannot rollback a paused deployment; resume it "
                                      "first with 'kubectl rollout resume' and try again")
    assert api.get("Deployment", "web", namespace).spec.template.spec.containers[0].image == \
        "web:v2"
    restart = kemuctl("rollout", "restart", "deploy/web", "-n", namespace)
    assert restart.stderr.strip() == "error: can't restart paused deployment (run rollout " \
        "resume first)"
    assert kemuctl("rollout", "resume", "deploy/web", "-n", namespace).lines == [
        "deployment.apps/web resumed"]
    assert kemuctl("rollout", "resume", "deploy/web", "-n", namespace).lines == [
        "deployment.apps/web already resumed"]
    assert kemuctl("rollout", "restart", "deploy/web", "-n", namespace).lines == [
        "deployment.apps/web restarted"]
    annotations = api.get("Deployment", "web", namespace).spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    unsupported = kemuctl("rollout", "pause", "rs/web-aaa", "-n", namespace)
    assert unsupported.stderr.strip() == 'error: replicasets.apps "web-aaa" pausing is not ' \
        "supported"


def test_status_once_and_watching(kemuctl: Kemuctl, namespace: str, api: Api,
                                  shared_control_plane: LocalCluster) -> None:
    deployment_with_history(api, namespace)
    waiting = kemuctl("rollout", "status", "deploy/web", "--watch=false", "-n", namespace)
    assert waiting.lines == ["Waiting for deployment spec update to be observed..."]
    api.set_status("Deployment", "web", namespace, {
        "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1,
        "availableReplicas": 1})
    partial = kemuctl("rollout", "status", "deploy/web", "--watch=false", "-n", namespace)
    assert partial.lines == ['Waiting for deployment "web" rollout to finish: 1 of 3 updated '
                             "replicas are available..."]
    timed_out = kemuctl("rollout", "status", "deploy/web", "--timeout=1s", "-n", namespace)
    assert timed_out.exit_code == 1
    assert timed_out.stderr.strip() == "error: timed out waiting for the condition"

    with subprocess.Popen(
            [sys.executable, "-m", "kemuctl", "rollout", "status", "deploy/web", "-n", namespace,
             "--timeout=60s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"KEMU_SERVER": shared_control_plane.address, "PATH": "/usr/bin:/bin"}) as watcher:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert first.startswith('Waiting for deployment "web" rollout to finish')
        api.set_status("Deployment", "web", namespace, {
            "observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
            "availableReplicas": 3})
        rest, errors = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, errors
    assert rest.splitlines()[-1] == 'deployment "web" successfully rolled out'


def test_daemon_set_history_and_undo(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    ds = api.create("DaemonSet", {"metadata": {"name": "agent", "namespace": namespace},
                                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                                           "template": template("agent:v2")}})
    for revision, image in ((1, "agent:v1"), (2, "agent:v2")):
        data = {"spec": {"template": {**template(image), "$patch": "replace"}}}
        api.create("ControllerRevision", {
            "metadata": {"name": f"agent-{revision}", "namespace": namespace,
                         "labels": {"app": "web"},
                         "ownerReferences": [owner_reference(ds, "DaemonSet", "apps/v1")]},
            "data": data, "revision": revision})
    history = kemuctl("rollout", "history", "ds/agent", "-n", namespace)
    assert history.stdout == ("daemonset.apps/agent\nREVISION  CHANGE-CAUSE\n1         <none>\n"
                              "2         <none>\n\n")
    assert "    Image:\tagent:v1" in kemuctl("rollout", "history", "ds/agent", "--revision=1",
                                             "-n", namespace).lines
    assert kemuctl("rollout", "undo", "daemonset/agent", "-n", namespace).lines == [
        "daemonset.apps/agent rolled back"]
    image = api.get("DaemonSet", "agent", namespace).spec.template.spec.containers[0].image
    assert image == "agent:v1"
    revisions = kemuctl("get", "controllerrevisions", "-n", namespace, "-o", "json")
    items = json.loads(revisions.stdout)["items"]
    assert [i["revision"] for i in items] == [1, 2]
    table = kemuctl("get", "controllerrevision", "-n", namespace)
    assert [r[:3] for r in table.rows()] == [["agent-1", "daemonset.apps/agent", "1"],
                                             ["agent-2", "daemonset.apps/agent", "2"]]
    ds_status = kemuctl("rollout", "status", "ds/agent", "--watch=false", "-n", namespace)
    assert ds_status.lines == ["Waiting for daemon set spec update to be observed..."]
