"""Services, Endpoints, Nodes, ConfigMaps, PVCs, Namespaces, Leases and Events."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec
from tests.unit.validation.helpers import create, fields, rendered, status_update, update, valid

pytestmark = pytest.mark.unit


def errors_of(kind: str, document: dict[str, Any]) -> list[str]:
    return rendered(create(kind, document)[1])


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return {"metadata": {"name": name}, "spec": body}


def test_service_names_are_dns_1035_labels() -> None:
    assert errors_of("Service", service(name="1web")) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ports": []}, "spec.ports: Required value"),
    ({"ports": [{"port": 0}]},
     "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ({"ports": [{"port": 80, "name": "http"}, {"port": 81}]},
     "spec.ports[1].name: Required value"),
    ({"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]},
     'spec.ports[1].name: Duplicate value: "http"'),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
     'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}'),
    ({"ports": [{"port": 80, "targetPort": 0}], "type": "ClusterIP"}, None),
    ({"ports": [{"port": 80, "targetPort": 70000}]},
     "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ({"ports": [{"port": 80, "targetPort": "HTTP"}]},
     'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric '
     "characters (a-z, 0-9), and hyphens (-)"),
    ({"ports": [{"port": 80, "protocol": "ICMP"}]},
     'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", '
     '"UDP"'),
    ({"type": "Ingress"},
     'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", '
     '"LoadBalancer", "NodePort"'),
    ({"ports": [{"port": 80, "nodePort": 30080}]},
     "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
    ({"sessionAffinity": "Sticky"},
     'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"'),
    ({"clusterIP": "10.0.0.300"},
     'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. '
     "10.9.8.7 or 2001:db8::ffff)"),
    ({"type": "NodePort", "clusterIP": "None"},
     "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort "
     "services"),
    ({"type": "ExternalName", "ports": []}, "spec.externalName: Required value"),
    ({"internalTrafficPolicy": "Nearby"},
     'spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", '
     '"Local"'),
    ({"externalTrafficPolicy": "Local"},
     'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
     "externally-accessible services"),
])
def test_service_rules(spec: dict[str, Any], expected: str | None) -> None:
    found = errors_of("Service", service(**spec))
    if expected is None:
        assert found == []
    else:
        assert expected in found


def test_headless_and_external_name_services_need_no_ports() -> None:
    valid("Service", service(ports=[], clusterIP="None"))
    valid("Service", {"metadata": {"name": "db"},
                      "spec": {"type": "ExternalName", "externalName": "db.example.com."}})


def test_service_cluster_ip_is_immutable_and_kept_when_left_out() -> None:
    old = valid("Service", service(clusterIP="10.96.0.10"))
    moved = codec.decode(type(old), codec.encode(old))
    moved.spec.cluster_ip = "10.96.0.11"
    del moved.spec.cluster_ips[:]
    found = rendered(update("Service", moved, old)[1])
    assert found == ['spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set']
    omitted = codec.decode(type(old), codec.encode(old))
    omitted.spec.cluster_ip = ""
    del omitted.spec.cluster_ips[:]
    kept, found = update("Service", omitted, old)
    assert found == [] and kept.spec.cluster_ip == "10.96.0.10"


def test_endpoints() -> None:
    good = {"metadata": {"name": "web"}, "subsets": [{
        "addresses": [{"ip": "10.244.1.5", "nodeName": "node-1"}],
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}]}
    assert valid("Endpoints", good).subsets[0].ports[0].protocol == "TCP"
    found = errors_of("Endpoints", {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "127.0.0.1"}, {"ip": "banana"}],
         "ports": [{"port": 80}, {"port": 0, "name": "b"}]}, {}]})
    assert found == [
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback '
        "range (127.0.0.0/8, ::1/128)",
        'subsets[0].addresses[1].ip: Invalid value: "banana": must be a valid IP address, (e.g. '
        "10.9.8.7 or 2001:db8::ffff)",
        "subsets[0].ports[0].name: Required value",
        "subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"]


def test_node_taints_and_cidrs() -> None:
    found = errors_of("Node", {"metadata": {"name": "node-1"}, "spec": {
        "podCIDR": "10.244.1.0", "taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoRun"},
            {"key": "bad key", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "x", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "y", "effect": "NoSchedule"},
            {"key": "empty"}]}})
    assert found == [
        'spec.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
        'spec.taints[1].key: Invalid value: "bad key": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'spec.taints[3]: Duplicate value: {"effect":"NoSchedule","key":"dedicated","value":"y"}: '
        "taints must be unique by key and effect pair",
        "spec.taints[4].effect: Required value",
        'spec.podCIDRs[0]: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. '
        "10.9.8.0/24 or 2001:db8::/64)"]


def test_node_cidr_is_set_once_and_status_quantities() -> None:
    old = valid("Node", {"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"}})
    moved = codec.decode(type(old), codec.encode(old))
    moved.spec.pod_cidr = "10.244.2.0/24"
    del moved.spec.pod_cidrs[:]
    moved.spec.pod_cidrs.append("10.244.2.0/24")
    assert rendered(update("Node", moved, old)[1]) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']
    reported = codec.decode(type(old), codec.encode(old))
    reported.status.capacity["cpu"].value = "four"
    # allocatable defaults to capacity, so the bad quantity is reported for both.
    assert fields(status_update("Node", reported, old)) == ["status.capacity.cpu",
                                                           "status.allocatable.cpu"]
    reported.status.capacity["cpu"].value = "4"
    assert status_update("Node", reported, old) == []


def test_config_maps() -> None:
    assert errors_of("ConfigMap", {"metadata": {"name": "c"}, "data": {"bad key": "x"}}) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
        "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
    assert errors_of("ConfigMap", {"metadata": {"name": "c"}, "data": {"k": "x"},
                                   "binaryData": {"k": "eA=="}}) == [
        'data[k]: Invalid value: "k": duplicate of key present in binaryData']
    assert errors_of("ConfigMap", {"metadata": {"name": "c"}, "data": {"..": "x"}})[-1] == \
        "data[..]: Invalid value: \"..\": must not be '..'"
    big = {"metadata": {"name": "c"}, "data": {"a": "x" * (512 * 1024),
                                               "b": "y" * (512 * 1024 + 1)}}
    assert errors_of("ConfigMap", big) == ["data: Too long: must have at most 1048576 bytes"]


def test_immutable_config_maps() -> None:
    old = valid("ConfigMap", {"metadata": {"name": "c"}, "data": {"k": "v"}, "immutable": True})
    changed = codec.decode(type(old), codec.encode(old))
    changed.data["k"] = "w"
    changed.immutable = False
    assert rendered(update("ConfigMap", changed, old)[1]) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]
    labelled = codec.decode(type(old), codec.encode(old))
    labelled.metadata.labels["a"] = "b"
    assert update("ConfigMap", labelled, old)[1] == []


def test_persistent_volume_claims() -> None:
    assert errors_of("PersistentVolumeClaim", {"metadata": {"name": "d"}, "spec": {}}) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value"]
    found = errors_of("PersistentVolumeClaim", {"metadata": {"name": "d"}, "spec": {
        "accessModes": ["ReadWriteOncePod", "ReadWriteOnce", "WriteMany"],
        "resources": {"requests": {"storage": "0"}}, "volumeMode": "Raw"}})
    assert found == [
        'spec.accessModes: Unsupported value: "WriteMany": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
        "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
        'spec.resources[storage]: Invalid value: "0": must be greater than zero',
        'spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"']
    old = valid("PersistentVolumeClaim", {"metadata": {"name": "d"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    bound = codec.decode(type(old), codec.encode(old))
    bound.spec.volume_name = "pv-1"
    assert update("PersistentVolumeClaim", bound, old)[1] == []
    resized = codec.decode(type(old), codec.encode(old))
    resized.spec.access_modes.append("ReadOnlyMany")
    assert fields(update("PersistentVolumeClaim", resized, old)[1]) == ["spec"]


def test_namespaces() -> None:
    assert fields(create("Namespace", {"metadata": {"name": "team.a"}})[1]) == ["metadata.name"]
    assert fields(create("Namespace", {"metadata": {"name": "a", "namespace": "b"}})[1]) == [
        "metadata.namespace"]
    old = valid("Namespace", {"metadata": {"name": "team-a"}})
    terminating = codec.decode(type(old), codec.encode(old))
    terminating.status.phase = "Terminating"
    assert rendered(status_update("Namespace", terminating, old)) == [
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if "
        "`deletionTimestamp` is empty"]


def test_leases_and_events() -> None:
    assert errors_of("Lease", {"metadata": {"name": "l", "namespace": "kube-node-lease"},
                               "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]
    assert errors_of("Event", {"metadata": {"name": "e", "namespace": "team-a"},
                               "involvedObject": {"kind": "Pod", "namespace": "other"},
                               "reason": "Started"}) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    assert errors_of("Event", {"metadata": {"name": "e"}, "eventTime": "2024-01-01T00:00:00.0Z",
                               "involvedObject": {"kind": "Node", "name": "n"}}) == [
        "reportingComponent: Required value",
        'reportingComponent: Invalid value: "": name part must be non-empty',
        "reportingInstance: Required value",
        "action: Required value", "reason: Required value"]
    valid("Event", {"metadata": {"name": "n.1", "namespace": "default"},
                    "involvedObject": {"kind": "Node", "name": "n"}, "reason": "Ready"})


def test_finalizers_are_standard_or_fully_qualified() -> None:
    found = errors_of("ConfigMap", {"metadata": {"name": "c", "finalizers": [
        "orphan", "example.com/cleanup", "cleanup", "example.com/cleanup"]}})
    assert found == [
        'metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard finalizer '
        "name nor is it fully qualified",
        'metadata.finalizers[3]: Duplicate value: "example.com/cleanup"']
