"""``kemuctl delete``, ``label``, ``annotate`` and ``scale``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli.conftest import Api, Kemuctl

pytestmark = pytest.mark.integration


def config_map(api: Api, namespace: str, name: str, **labels: str) -> None:
    api.create("ConfigMap", {"metadata": {"name": name, "namespace": namespace,
                                          "labels": labels}})


def test_delete_by_name_selector_all_and_file(kemuctl: Kemuctl, namespace: str, api: Api,
                                              tmp_path: Path) -> None:
    for name, app in (("a", "web"), ("b", "web"), ("c", "db"), ("d", "db")):
        config_map(api, namespace, name, app=app)
    named = kemuctl("delete", "cm", "a", "nope", "-n", namespace)
    assert named.exit_code == 1
    assert named.lines == ['configmap "a" deleted']
    assert named.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'
    selected = kemuctl("delete", "configmaps", "-l", "app=web", "-n", namespace)
    assert selected.lines == ['configmap "b" deleted']
    manifest = tmp_path / "c.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    assert kemuctl("delete", "-f", str(manifest), "-n", namespace).lines == [
        'configmap "c" deleted']
    assert kemuctl("delete", "cm", "--all", "-n", namespace, "-o", "name").lines == [
        "configmap/d"]
    assert kemuctl("delete", "cm", "--all", "-n", namespace).lines == ["No resources found"]
    unnamed = kemuctl("delete", "cm", "-n", namespace)
    assert unnamed.exit_code == 1
    assert unnamed.stderr.strip() == "error: resource(s) were provided, but no name was specified"


def test_delete_cascade_and_grace_period(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    config_map(api, namespace, "kept")
    orphaned = kemuctl("delete", "cm", "kept", "--cascade=false", "--wait=false", "-n",
                       namespace)
    assert orphaned.lines == ['configmap "kept" deleted']
    assert "warning: --cascade=false is deprecated (boolean value) and can be replaced with " \
        "--cascade=orphan." in orphaned.stderr
    # No garbage collector runs in this control plane, so the orphan finalizer stays.
    assert list(api.get("ConfigMap", "kept", namespace).metadata.finalizers) == ["orphan"]
    bad = kemuctl("delete", "cm", "kept", "--cascade=sometimes", "-n", namespace)
    assert bad.exit_code == 1
    assert bad.stderr.strip() == ('error: invalid cascade value (sometimes). Must be '
                                  '"background", "foreground", or "orphan".')

    api.create("Pod", {"metadata": {"name": "bound", "namespace": namespace},
                       "spec": {"nodeName": "gone-node",
                                "terminationGracePeriodSeconds": 600,
                                "containers": [{"name": "c", "image": "x"}]}})
    graceful = kemuctl("delete", "pod", "bound", "--wait=false", "-n", namespace)
    assert graceful.lines == ['pod "bound" deleted']
    pod = api.get("Pod", "bound", namespace)
    assert pod.metadata.deletion_timestamp and pod.metadata.deletion_grace_period_seconds == 600
    assert kemuctl("get", "pod", "bound", "-n", namespace).rows()[0][2] == "Terminating"
    waited = kemuctl("delete", "pod", "bound", "--grace-period=2", "--timeout=1s", "-n",
                     namespace)
    # No kubelet runs the pod, so nothing finishes its deletion: the wait times out.
    assert waited.exit_code == 1
    assert waited.lines == ['pod "bound" deleted']
    assert waited.stderr.strip() == "error: timed out waiting for the condition on pods/bound"
    assert api.get("Pod", "bound", namespace).metadata.deletion_grace_period_seconds == 2
    forced = kemuctl("delete", "pod", "bound", "--force", "--grace-period=0", "-n", namespace)
    assert forced.lines == ['pod "bound" force deleted']
    assert forced.stderr.startswith("Warning: Immediate deletion does not wait for confirmation")
    assert not api.exists("Pod", "bound", namespace)


def test_label_and_annotate(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    config_map(api, namespace, "web", app="web")
    config_map(api, namespace, "db", app="db")
    assert kemuctl("label", "cm", "web", "tier=front", "-n", namespace).lines == [
        "configmap/web labeled"]
    clash = kemuctl("label", "cm", "web", "tier=back", "-n", namespace)
    assert clash.exit_code == 1
    assert clash.stderr.strip() == ("error: 'tier' already has a value (front), and --overwrite "
                                    "is false")
    assert kemuctl("label", "cm/web", "tier=back", "--overwrite", "-n", namespace).lines == [
        "configmap/web labeled"]
    assert kemuctl("label", "cm", "web", "tier=back", "-n", namespace).lines == [
        "configmap/web not labeled"]
    assert kemuctl("label", "cm", "web", "tier-", "gone-", "-n", namespace).lines == [
        'label "gone" not found.', "configmap/web labeled"]
    assert dict(api.get("ConfigMap", "web", namespace).metadata.labels) == {"app": "web"}
    assert kemuctl("label", "cm", "--all", "team=core", "-n", namespace).lines == [
        "configmap/db labeled", "configmap/web labeled"]
    assert kemuctl("label", "cm", "-l", "app=db", "team-", "-n", namespace).lines == [
        "configmap/db labeled"]
    assert kemuctl("label", "cm", "web", "--list", "-n", namespace).lines == [
        "app=web", "team=core"]

    assert kemuctl("annotate", "cm", "web", "description=my frontend", "-n",
                   namespace).lines == ["configmap/web annotated"]
    refused = kemuctl("annotate", "cm", "web", "description=other", "-n", namespace)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == ("error: --overwrite is false but found the following "
                                      "declared annotation(s): 'description' already has a "
                                      "value (my frontend)")
    assert kemuctl("annotate", "cm", "web", "description-", "-n", namespace).lines == [
        "configmap/web annotated"]
    assert dict(api.get("ConfigMap", "web", namespace).metadata.annotations) == {}


def test_scale(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    api.create("ReplicaSet", {
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    assert kemuctl("scale", "--replicas=3", "rs/web", "-n", namespace).lines == [
        "replicaset.apps/web scaled"]
    assert api.get("ReplicaSet", "web", namespace).spec.replicas == 3
    refused = kemuctl("scale", "rs", "web", "--replicas=5", "--current-replicas=2", "-n",
                      namespace)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == "error: Expected replicas to be 2, was 3"
    assert kemuctl("scale", "rs", "web", "--replicas=0", "--current-replicas=3", "-n",
                   namespace).lines == ["replicaset.apps/web scaled"]
    assert api.get("ReplicaSet", "web", namespace).spec.replicas == 0
    missing = kemuctl("scale", "rs", "nope", "--replicas=1", "-n", namespace)
    assert missing.stderr.strip() == 'Error from server (NotFound): replicasets.apps "nope" not ' \
        "found"
