"""The manifest loader: documents, kinds, sources, and errors naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kemu.manifest import ManifestError, decode_document, documents, load_paths, load_text
from kemu.v1 import apps_pb2, core_pb2

pytestmark = pytest.mark.unit

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
"""
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"""


def test_multi_document_yaml_with_empty_documents() -> None:
    loaded = load_text(f"---\n{DEPLOYMENT}---\n---\n{CONFIG_MAP}\n...\n", "app.yaml")
    assert [m.kind.name for m in loaded] == ["Deployment", "ConfigMap"]
    deployment = loaded[0].obj
    assert isinstance(deployment, apps_pb2.Deployment)
    assert deployment.spec.replicas == 2
    assert loaded[0].source == "app.yaml"
    assert loaded[1].document["data"] == {"mode": "fast"}


def test_json_and_list_documents() -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"},
         "spec": {"ports": [{"port": 80}]}}]}
    loaded = load_text(json.dumps(listing), "list.json")
    assert [(m.kind.name, m.obj.metadata.name) for m in loaded] == [("ConfigMap", "a"),
                                                                    ("Service", "b")]


def test_unknown_fields_become_warnings() -> None:
    text = DEPLOYMENT.replace("  replicas: 2", "  replica: 2").replace(
        "        image: nginx", "        image: nginx\n        imagePolicy: Always")
    (manifest,) = load_text(text, "typo.yaml")
    assert manifest.warnings == ['unknown field "spec.replica"',
                                 'unknown field "spec.template.spec.containers[0].imagePolicy"']
    assert not manifest.obj.spec.HasField("replicas")


def test_malformed_yaml_names_the_file_and_line() -> None:
    with pytest.raises(ManifestError) as caught:
        load_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n", "bad.yaml")
    message = str(caught.value)
    assert message.startswith("error: error parsing bad.yaml:")
    assert "line" in message and caught.value.source == "bad.yaml"


def test_a_document_that_is_not_an_object() -> None:
    with pytest.raises(ManifestError) as caught:
        load_text("- just\n- a list\n", "list.yaml")
    assert "document 0 is a list, not an object" in str(caught.value)


@pytest.mark.parametrize(("document", "message"), [
    ({"apiVersion": "v1", "metadata": {"name": "x"}}, "Object 'Kind' is missing in"),
    ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "Object 'apiVersion' is missing in"),
    ({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"}},
     'resource mapping not found for name: "web" namespace: "" from "x.yaml": no matches for '
     'kind "Ingress" in version "networking.k8s.io/v1"'),
    ({"apiVersion": "apps/v1", "kind": "ReplicationController", "metadata": {"name": "rc"}},
     'no matches for kind "ReplicationController" in version "apps/v1"'),
    ({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}},
     'no matches for kind "Deployment" in version "extensions/v1beta1"'),
])
def test_kind_and_version_errors(document: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        decode_document(document, "x.yaml")
    assert message in str(caught.value)


def test_wrong_types_name_every_field() -> None:
    text = DEPLOYMENT.replace("replicas: 2", "replicas: two").replace(
        "image: nginx", "image: nginx\n        ports:\n        - containerPort: http")
    with pytest.raises(ManifestError) as caught:
        load_text(text, "types.yaml")
    assert [e.field for e in caught.value.errors] == [
        "spec.replicas", "spec.template.spec.containers[0].ports[0].containerPort"]
    message = str(caught.value)
    assert message.startswith('error: Deployment "web" in version "apps/v1" cannot be handled as a '
                              'Deployment: spec.replicas: Invalid value: "two": expected an '
                              "integer, got string")
    assert message.endswith("(from types.yaml)")


def test_load_paths_reads_files_folders_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT)
    (tmp_path / "b.yml").write_text(CONFIG_MAP)
    (tmp_path / "notes.txt").write_text("not a manifest")
    nested = tmp_path / "more"
    nested.mkdir()
    (nested / "c.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "team"}}))
    flat = load_paths([str(tmp_path)])
    assert [m.kind.name for m in flat] == ["Deployment", "ConfigMap"]
    deep = load_paths([str(tmp_path)], recursive=True)
    assert [m.kind.name for m in deep] == ["Deployment", "ConfigMap", "Namespace"]
    assert deep[2].source == str(nested / "c.json")
    single = load_paths([str(tmp_path / "b.yml"), "-"], stdin_text=DEPLOYMENT)
    assert [(m.kind.name, m.source) for m in single] == [
        ("ConfigMap", str(tmp_path / "b.yml")), ("Deployment", "STDIN")]
    assert isinstance(single[0].obj, core_pb2.ConfigMap)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_paths([str(tmp_path / "nope.yaml")])
    assert f'the path "{tmp_path / "nope.yaml"}" does not exist' in str(caught.value)


def test_documents_keeps_only_objects() -> None:
    assert documents("", "empty.yaml") == []
    assert documents("---\n---\n", "blank.yaml") == []
