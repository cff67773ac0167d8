"""The JSON <-> protobuf codec: field paths of warnings and errors, the special types, null,
number ranges, and a lossless round trip of every shared manifest."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest
import yaml

from kemu.api import codec
from kemu.api.quantity import canonical_quantity
from kemu.manifest import ManifestError, documents, load_paths
from kemu.v1 import apps_pb2, batch_pb2, core_pb2
from tests.support.manifests import SHARED

pytestmark = pytest.mark.unit

MANIFESTS = SHARED


def decode(cls: Any, document: Any) -> tuple[Any, list[str]]:
    warnings: list[str] = []
    return codec.decode(cls, document, warnings), warnings


def decode_errors(cls: Any, document: Any) -> list[str]:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode(cls, document)
    return [str(e) for e in caught.value.errors]


# -- unknown fields ------------------------------------------------------------------------

def test_unknown_fields_are_warnings_with_their_paths() -> None:
    _, warnings = decode(apps_pb2.Deployment, {
        "spec": {"replica": 3, "template": {"spec": {"containers": [
            {"name": "a", "imagePullPolicyy": "Always", "ports": [{"containerPort": 80, "hostIp": "x"}]},
            {"name": "b", "resources": {"limits": {"cpu": "1"}, "limit": {}}}]}}},
        "metadata": {"name": "web", "labelz": {"a": "b"}},
        "extra": True})
    assert warnings == [
        'unknown field "spec.replica"',
        'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
        'unknown field "spec.template.spec.containers[0].ports[0].hostIp"',
        'unknown field "spec.template.spec.containers[1].resources.limit"',
        'unknown field "metadata.labelz"',
        'unknown field "extra"']


def test_unknown_fields_are_dropped_and_warnings_optional() -> None:
    pod = codec.decode(core_pb2.Pod, {"spec": {"nodeNam": "n", "nodeName": "m"}})
    assert codec.encode(pod) == {"spec": {"nodeName": "m"}}


def test_json_names_are_case_sensitive() -> None:
    _, warnings = decode(core_pb2.Pod, {"spec": {"NodeName": "m", "hostPID": True, "hostPid": True}})
    assert warnings == ['unknown field "spec.NodeName"', 'unknown field "spec.hostPid"']


# -- wrong types ---------------------------------------------------------------------------

@pytest.mark.parametrize(("cls", "document", "expected"), [
    (apps_pb2.Deployment, {"spec": {"replicas": "three"}},
     'spec.replicas: Invalid value: "three": expected an integer, got string'),
    (apps_pb2.Deployment, {"spec": {"replicas": 1.5}},
     "spec.replicas: Invalid value: 1.5: expected an integer, got number"),
    (apps_pb2.Deployment, {"spec": {"paused": "yes"}},
     'spec.paused: Invalid value: "yes": expected a boolean, got string'),
    (apps_pb2.Deployment, {"spec": {"replicas": True}},
     "spec.replicas: Invalid value: true: expected an integer, got boolean"),
    (core_pb2.Pod, {"spec": {"containers": {"name": "a"}}},
     'spec.containers: Invalid value: {"name":"a"}: expected an array, got object'),
    (core_pb2.Pod, {"spec": {"containers": ["nginx"]}},
     'spec.containers[0]: Invalid value: "nginx": expected an object, got string'),
    (core_pb2.Pod, {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "http"}]}]}},
     'spec.containers[0].ports[0].containerPort: Invalid value: "http": expected an integer, '
     "got string"),
    (core_pb2.Pod, {"spec": {"containers": [{"name": "a", "command": "sleep 1"}]}},
     'spec.containers[0].command: Invalid value: "sleep 1": expected an array, got string'),
    (core_pb2.Pod, {"metadata": {"labels": ["a"]}},
     'metadata.labels: Invalid value: ["a"]: expected an object, got array'),
    (core_pb2.Pod, {"metadata": {"labels": {"tier": 1}}},
     "metadata.labels[tier]: Invalid value: 1: expected a string, got number"),
    (core_pb2.Pod, {"spec": "none"}, 'spec: Invalid value: "none": expected an object, got string'),
    (core_pb2.Pod, ["not", "an", "object"],
     '<root>: Invalid value: ["not","an","object"]: expected an object, got array'),
])
def test_wrong_types_are_errors_naming_the_path(cls: Any, document: Any, expected: str) -> None:
    assert decode_errors(cls, document) == [expected]


def test_every_bad_field_is_reported() -> None:
    found = decode_errors(apps_pb2.Deployment, {"spec": {"replicas": "x", "minReadySeconds": "y",
                                                         "template": {"spec": {"hostNetwork": 1}}}})
    assert [e.split(":")[0] for e in found] == ["spec.replicas", "spec.minReadySeconds",
                                                "spec.template.spec.hostNetwork"]


# -- ranges --------------------------------------------------------------------------------

def test_int32_and_int64_ranges() -> None:
    assert decode_errors(apps_pb2.Deployment, {"spec": {"replicas": 2**31}}) == [
        "spec.replicas: Invalid value: 2147483648: out of range for int32"]
    low = codec.decode(apps_pb2.Deployment, {"spec": {"replicas": -(2**31)}})
    assert low.spec.replicas == -(2**31)
    assert decode_errors(core_pb2.Pod, {"spec": {"activeDeadlineSeconds": 2**63}}) == [
        "spec.activeDeadlineSeconds: Invalid value: 9223372036854775808: out of range for int64"]
    big = codec.decode(core_pb2.Pod, {"spec": {"activeDeadlineSeconds": 2**40}})
    assert big.spec.active_deadline_seconds == 2**40


# -- IntOrString ---------------------------------------------------------------------------

def test_int_or_string() -> None:
    deployment = codec.decode(apps_pb2.Deployment, {"spec": {"strategy": {"rollingUpdate": {
        "maxSurge": 0, "maxUnavailable": "25%"}}}})
    rolling = deployment.spec.strategy.rolling_update
    assert rolling.max_surge.WhichOneof("value") == "int_value" and rolling.max_surge.int_value == 0
    assert rolling.max_unavailable.string_value == "25%"
    assert codec.encode(deployment)["spec"]["strategy"]["rollingUpdate"] == {
        "maxSurge": 0, "maxUnavailable": "25%"}
    path = "spec.strategy.rollingUpdate.maxSurge"
    for bad, shown, got in ((True, "true", "boolean"), (1.5, "1.5", "number"),
                            ([1], "[1]", "array")):
        assert decode_errors(apps_pb2.Deployment, {"spec": {"strategy": {"rollingUpdate": {
            "maxSurge": bad}}}}) == [
            f"{path}: Invalid value: {shown}: expected an integer or a string, got {got}"]
    assert decode_errors(apps_pb2.Deployment, {"spec": {"strategy": {"rollingUpdate": {
        "maxSurge": 2**31}}}}) == [f"{path}: Invalid value: 2147483648: out of range for int32"]


# -- Quantity ------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "stored"), [
    (1, "1"), (0, "0"), (2.0, "2"), (0.5, "500m"), (0.25, "250m"), (1e3, "1000"),
    ("500m", "500m"), ("64Mi", "64Mi"), ("1.5", "1.5"), ("2e3", "2e3"), ("1Gi", "1Gi"),
])
def test_quantities_from_numbers_and_strings(given: Any, stored: str) -> None:
    pod = codec.decode(core_pb2.Pod, {"spec": {"containers": [
        {"name": "a", "resources": {"limits": {"cpu": given}}}]}})
    assert pod.spec.containers[0].resources.limits["cpu"].value == stored
    assert canonical_quantity(given) == stored


@pytest.mark.parametrize("bad", ["abc", "1.5.5", "5 Gi", "1KiB", "--1"])
def test_bad_quantity_strings(bad: str) -> None:
    assert decode_errors(core_pb2.Pod, {"spec": {"containers": [
        {"name": "a", "resources": {"requests": {"memory": bad}}}]}}) == [
        f'spec.containers[0].resources.requests[memory]: Invalid value: "{bad}": quantities '
        "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]


def test_quantity_of_wrong_type() -> None:
    assert decode_errors(core_pb2.Node, {"status": {"capacity": {"cpu": True}}}) == [
        "status.capacity[cpu]: Invalid value: true: expected a quantity (a string or a number), "
        "got boolean"]


# -- RawExtension and bytes ----------------------------------------------------------------

def test_raw_extension_keeps_any_json() -> None:
    data = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}, "list": [1, None, "x"]}
    revision = codec.decode(apps_pb2.ControllerRevision, {"data": data, "revision": 2})
    assert revision.data.raw == b'{"list":[1,null,"x"],"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}'
    assert codec.encode(revision) == {"data": data, "revision": 2}
    scalar = codec.decode(apps_pb2.ControllerRevision, {"data": "text"})
    assert codec.encode(scalar)["data"] == "text"


def test_bytes_are_base64() -> None:
    cm = codec.decode(core_pb2.ConfigMap, {"binaryData": {"blob": "aGVsbG8="}})
    assert cm.binary_data["blob"] == b"hello"
    assert codec.encode(cm) == {"binaryData": {"blob": "aGVsbG8="}}
    assert decode_errors(core_pb2.ConfigMap, {"binaryData": {"blob": "not base64!"}}) == [
        'binaryData[blob]: Invalid value: "not base64!": illegal base64 data']
    assert decode_errors(core_pb2.ConfigMap, {"binaryData": {"blob": 12}}) == [
        "binaryData[blob]: Invalid value: 12: expected a base64 string, got number"]


# -- null ----------------------------------------------------------------------------------

def test_null_means_unset() -> None:
    deployment, warnings = decode(apps_pb2.Deployment, {
        "metadata": {"name": "web", "labels": None, "creationTimestamp": None},
        "spec": {"replicas": None, "selector": None, "template": {"spec": {"containers": [
            None, {"name": "a", "args": ["x", None], "resources": {"limits": {"cpu": None}}}]}}},
        "status": None})
    assert warnings == []
    assert not deployment.spec.HasField("replicas")
    assert not deployment.spec.HasField("selector")
    assert not deployment.HasField("status")
    containers = deployment.spec.template.spec.containers
    assert containers[0] == core_pb2.Container()
    assert list(containers[1].args) == ["x", ""]
    assert dict(containers[1].resources.limits) == {}
    cm = codec.decode(core_pb2.ConfigMap, {"data": {"empty": None}})
    assert dict(cm.data) == {"empty": ""}


# -- encoding ------------------------------------------------------------------------------

def test_encoding_omits_zero_values_but_keeps_present_optionals() -> None:
    job = codec.decode(batch_pb2.Job, {"spec": {"parallelism": 0, "suspend": False,
                                                "template": {"spec": {"hostNetwork": False}}}})
    assert codec.encode(job) == {"spec": {"parallelism": 0, "suspend": False,
                                          "template": {"spec": {}}}}


# -- round trip of the corpus --------------------------------------------------------------

def _prune(value: Any) -> Any:
    """Drop what encoding legitimately leaves out: nulls, empty collections, zero scalars."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [], "", 0, False)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _same(encoded: Any, original: Any, path: str = "") -> None:
    if isinstance(original, dict):
        assert isinstance(encoded, dict), path
        assert sorted(encoded) == sorted(original), path
        for key in original:
            _same(encoded[key], original[key], f"{path}.{key}")
    elif isinstance(original, list):
        assert isinstance(encoded, list) and len(encoded) == len(original), path
        for i, (a, b) in enumerate(zip(encoded, original, strict=True)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(original, int | float) and isinstance(encoded, str):
        assert encoded == canonical_quantity(original), path  # a Quantity given as a number
    else:
        assert encoded == original, path


def _corpus() -> list[str]:
    return sorted(glob.glob(str(MANIFESTS / "**" / "*.yaml"), recursive=True))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: str(Path(p).relative_to(MANIFESTS)))
def test_every_shared_manifest_round_trips(path: str) -> None:
    try:
        manifests = load_paths([path])
    except ManifestError as exc:  # kinds kemu does not model (Ingress, Secret, kind's Cluster)
        assert "no matches for kind" in str(exc)
        return
    originals = documents(Path(path).read_text(), path)
    assert len(manifests) == len(originals)
    for manifest, original in zip(manifests, originals, strict=True):
        assert manifest.warnings == []
        encoded = codec.encode(manifest.obj)
        again, warnings = decode(manifest.kind.message, encoded)
        assert warnings == []
        assert again == manifest.obj
        _same(_prune(encoded), _prune(original))
        assert yaml.safe_load(yaml.safe_dump(encoded)) == encoded
