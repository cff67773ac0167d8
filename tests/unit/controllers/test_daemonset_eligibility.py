"""Which nodes a DaemonSet belongs on: nodeName, nodeSelector, node affinity, taints against
the template's and the daemon tolerations; and the daemon pod's own shape."""

from __future__ import annotations

import pytest

from controlplane.controllers.daemonset.eligibility import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    Eligibility,
    node_should_run,
)
from controlplane.controllers.daemonset.template import (
    add_daemon_tolerations,
    create_pod_template,
    is_pod_updated,
    replace_node_name_affinity,
    target_node_name,
)
from kemu.api import codec
from kemu.api.taints import tolerates
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.controllers.daemonset_objects import daemonset, manifest, node, pod

pytestmark = pytest.mark.unit

KEEP_ONLY = Eligibility(False, True)


def test_plain_daemonset_runs_on_every_untainted_node() -> None:
    ds = manifest("kia2/Chapter17/ds.demo.yaml")
    assert node_should_run(node("a"), ds) == ELIGIBLE
    assert node_should_run(node("b", {"anything": "x"}), ds) == ELIGIBLE


def test_node_name_pins_the_daemonset_to_one_node() -> None:
    ds = manifest("kia2/Chapter17/ds.demo.nodeName.yaml")
    assert node_should_run(node("kind-worker2"), ds) == ELIGIBLE
    assert node_should_run(node("kind-worker"), ds) == NOT_ELIGIBLE


@pytest.mark.parametrize(("path", "labels", "expected"), [
    ("kuar/11-2-nginx-fast-storage.yaml", {"ssd": "true"}, ELIGIBLE),
    ("kuar/11-2-nginx-fast-storage.yaml", {"ssd": "false"}, NOT_ELIGIBLE),
    ("kuar/11-2-nginx-fast-storage.yaml", {}, NOT_ELIGIBLE),
    ("kia2/Chapter17/ds.demo.nodeSelector.yaml", {"gpu": "cuda"}, ELIGIBLE),
    ("kia2/Chapter17/ds.demo.amd64.yaml", {"kubernetes.io/arch": "arm64"}, NOT_ELIGIBLE),
    ("kia2/Chapter17/ds.demo.amd64.yaml", {"kubernetes.io/arch": "amd64"}, ELIGIBLE),
    ("kiamol/ch06/pi/proxy/daemonset/nginx-ds-nodeSelector.yaml", {"kiamol": "ch06"}, ELIGIBLE),
    ("kiamol/ch06/pi/proxy/daemonset/nginx-ds-nodeSelector.yaml", {}, NOT_ELIGIBLE),
])
def test_node_selector_must_match_the_node_labels(path: str, labels: dict[str, str],
                                                  expected: Eligibility) -> None:
    assert node_should_run(node("n", labels), manifest(path)) == expected


def _with_required_terms(*terms: dict[str, object]) -> apps_pb2.DaemonSet:
    return daemonset(template_spec={"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}})


@pytest.mark.parametrize(("term", "labels", "name", "runs"), [
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
     {"zone": "b"}, "n", True),
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
     {"zone": "b"}, "n", False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]},
     {}, "n", True),
    ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, {"gpu": ""}, "n", True),
    ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, {"gpu": "x"}, "n",
     False),
    ({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]},
     {"cores": "8"}, "n", True),
    ({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]},
     {"cores": "8"}, "n", False),
    ({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]},
     {"cores": "many"}, "n", False),
    ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]},
     {}, "n", True),
    ({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n"]}]},
     {}, "n", False),
    ({}, {}, "n", False),
])
def test_required_node_affinity(term: dict[str, object], labels: dict[str, str], name: str,
                                runs: bool) -> None:
    ds = _with_required_terms(term)
    assert node_should_run(node(name, labels), ds).should_run is runs


def test_node_affinity_terms_are_ored_and_expressions_anded() -> None:
    ds = _with_required_terms(
        {"matchExpressions": [{"key": "a", "operator": "Exists"},
                              {"key": "b", "operator": "Exists"}]},
        {"matchExpressions": [{"key": "c", "operator": "Exists"}]})
    assert node_should_run(node("n", {"a": "1"}), ds) == NOT_ELIGIBLE
    assert node_should_run(node("n", {"a": "1", "b": "1"}), ds) == ELIGIBLE
    assert node_should_run(node("n", {"c": "1"}), ds) == ELIGIBLE


def test_node_selector_and_affinity_must_both_match() -> None:
    ds = daemonset(template_spec={
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}})
    assert node_should_run(node("n", {"disk": "ssd", "zone": "a"}), ds) == ELIGIBLE
    assert node_should_run(node("n", {"disk": "ssd", "zone": "b"}), ds) == NOT_ELIGIBLE
    assert node_should_run(node("n", {"zone": "a"}), ds) == NOT_ELIGIBLE


CONTROL_PLANE = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


@pytest.mark.parametrize(("taint", "expected"), [
    # The Kubernetes in Action demo DaemonSet skips the tainted control-plane node ...
    (CONTROL_PLANE, KEEP_ONLY),
    (("dedicated", "db", "NoExecute"), NOT_ELIGIBLE),
    (("dedicated", "db", "PreferNoSchedule"), ELIGIBLE),
    # ... and the taints of a cordoned or failing node are tolerated by every daemon pod.
    (("node.kubernetes.io/unschedulable", "", "NoSchedule"), ELIGIBLE),
    (("node.kubernetes.io/not-ready", "", "NoExecute"), ELIGIBLE),
    (("node.kubernetes.io/unreachable", "", "NoExecute"), ELIGIBLE),
    (("node.kubernetes.io/disk-pressure", "", "NoSchedule"), ELIGIBLE),
    (("node.kubernetes.io/memory-pressure", "", "NoSchedule"), ELIGIBLE),
    (("node.kubernetes.io/pid-pressure", "", "NoSchedule"), ELIGIBLE),
    # A NotReady node's NoSchedule taint keeps existing daemon pods but gets no new one.
    (("node.kubernetes.io/not-ready", "", "NoSchedule"), KEEP_ONLY),
    (("node.kubernetes.io/network-unavailable", "", "NoSchedule"), KEEP_ONLY),
])
def test_taints_against_daemon_tolerations(taint: tuple[str, str, str],
                                           expected: Eligibility) -> None:
    ds = manifest("kia2/Chapter17/ds.demo.yaml")
    assert node_should_run(node("n", taints=[taint]), ds) == expected


def test_host_network_daemons_tolerate_network_unavailable() -> None:
    ds = manifest("kia2/Chapter17/ds.node-agent.hostNetwork.yaml")
    taint = ("node.kubernetes.io/network-unavailable", "", "NoSchedule")
    assert node_should_run(node("n", taints=[taint]), ds) == ELIGIBLE


def test_tolerate_all_taints_runs_on_the_control_plane() -> None:
    ds = manifest("kia2/Chapter17/ds.demo.tolerateAllTaints.yaml")
    assert node_should_run(node("cp", taints=[CONTROL_PLANE]), ds) == ELIGIBLE
    assert node_should_run(node("x", taints=[("any", "v", "NoExecute")]), ds) == ELIGIBLE


def test_template_tolerations_count() -> None:
    ds = daemonset(template_spec={"tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]})
    assert node_should_run(node("n", taints=[("dedicated", "db", "NoSchedule")]), ds) == ELIGIBLE
    assert node_should_run(node("n", taints=[("dedicated", "web", "NoSchedule")]),
                           ds) == KEEP_ONLY


@pytest.mark.parametrize(("toleration", "taint", "result"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
     ("k", "v", "NoSchedule"), True),
    ({"key": "k", "value": "v"}, ("k", "v", "NoExecute"), True),
    ({"key": "k", "operator": "Exists"}, ("k", "anything", "NoSchedule"), True),
    ({"operator": "Exists"}, ("k", "v", "NoExecute"), True),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, ("k", "", "NoSchedule"), False),
    ({"key": "k", "operator": "Equal", "value": "v"}, ("k", "w", "NoSchedule"), False),
    ({"key": "other", "operator": "Exists"}, ("k", "", "NoSchedule"), False),
])
def test_toleration_matching(toleration: dict[str, str], taint: tuple[str, str, str],
                             result: bool) -> None:
    key, value, effect = taint
    assert tolerates(codec.decode(core_pb2.Toleration, toleration),
                     core_pb2.Taint(key=key, value=value, effect=effect)) is result


def test_daemon_tolerations_replace_ones_with_toleration_seconds() -> None:
    spec = codec.decode(core_pb2.PodSpec, {"tolerations": [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]})
    add_daemon_tolerations(spec)
    encoded = [codec.encode(t) for t in spec.tolerations]
    assert encoded == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
         "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    add_daemon_tolerations(spec)
    assert len(spec.tolerations) == 6


def test_pod_template_gets_labels_and_tolerations() -> None:
    ds = manifest("kia2/Chapter17/ds.node-agent.hostNetwork.yaml")
    template = create_pod_template(ds.spec.template, 3, "abc123")
    assert dict(template.metadata.labels) == {"app": "node-agent", "pod-template-generation": "3",
                                              "controller-revision-hash": "abc123"}
    keys = [t.key for t in template.spec.tolerations]
    assert "node.kubernetes.io/network-unavailable" in keys
    assert not ds.spec.template.spec.tolerations, "the DaemonSet itself is left alone"
    assert "pod-template-generation" not in create_pod_template(ds.spec.template, None, "h") \
        .metadata.labels


def test_node_affinity_replaces_required_terms_and_keeps_the_rest() -> None:
    spec = codec.decode(core_pb2.PodSpec, {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["old"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [
                {"key": "fast", "operator": "Exists"}]}}]}}})
    replace_node_name_affinity(spec, "node-7")
    assert codec.encode(spec.affinity) == {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [
                {"key": "fast", "operator": "Exists"}]}}]}}
    empty = core_pb2.PodSpec()
    replace_node_name_affinity(empty, "n")
    assert codec.encode(empty.affinity)["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchFields"][0]["values"] == ["n"]


def test_target_node_is_the_bound_node_or_the_affinity_node() -> None:
    assert target_node_name(pod("p", "bound")) == "bound"
    assert target_node_name(pod("p", target="wanted")) == "wanted"
    assert target_node_name(pod("p")) is None


def test_pod_updated_by_hash_or_template_generation() -> None:
    current = pod("p", revision_hash="h2")
    assert is_pod_updated(current, "h2", None)
    assert not is_pod_updated(current, "h1", None)
    current.metadata.labels["pod-template-generation"] = "4"
    assert is_pod_updated(current, "other", 4)
    assert not is_pod_updated(current, "other", 5)
