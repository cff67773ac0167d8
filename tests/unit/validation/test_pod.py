"""Pod validation: each rule, with Kubernetes' path and message."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec
from tests.unit.validation.helpers import (
    container,
    create,
    fields,
    pod,
    rendered,
    status_update,
    strategy,
    update,
    valid,
)

pytestmark = pytest.mark.unit

DNS_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def errors_of(spec: dict[str, Any], **metadata: Any) -> list[str]:
    _, found = create("Pod", pod(spec, **metadata))
    return rendered(found)


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no containers", {"containers": []}, "spec.containers: Required value"),
    ("container name", {"containers": [container(name="Web")]},
     f'spec.containers[0].name: Invalid value: "Web": {DNS_LABEL}'),
    ("missing image", {"containers": [{"name": "app"}]}, "spec.containers[0].image: Required value"),
    ("duplicate names", {"containers": [container(), container()]},
     'spec.containers[1].name: Duplicate value: "app"'),
    ("init and app share a name", {"initContainers": [container()], "containers": [container()]},
     'spec.initContainers[0].name: Duplicate value: "app"'),
    ("port out of range", {"containers": [container(ports=[{"containerPort": 70000}])]},
     "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
     "65535, inclusive"),
    ("port zero", {"containers": [container(ports=[{"containerPort": 0}])]},
     "spec.containers[0].ports[0].containerPort: Required value"),
    ("host port", {"containers": [container(ports=[{"containerPort": 80, "hostPort": -1}])]},
     "spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, "
     "inclusive"),
    ("port name", {"containers": [container(ports=[{"containerPort": 80, "name": "web_http"}])]},
     'spec.containers[0].ports[0].name: Invalid value: "web_http": must contain only '
     "alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("port name too long",
     {"containers": [container(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}])]},
     'spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more '
     "than 15 characters"),
    ("duplicate port names", {"containers": [container(ports=[
        {"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}])]},
     'spec.containers[0].ports[1].name: Duplicate value: "http"'),
    ("protocol", {"containers": [container(ports=[{"containerPort": 80, "protocol": "HTTP"}])]},
     'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", '
     '"TCP", "UDP"'),
    ("host port conflict", {"containers": [
        container(ports=[{"containerPort": 80, "hostPort": 8080}]),
        container(name="b", ports=[{"containerPort": 81, "hostPort": 8080}])]},
     'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"'),
    ("restart policy", {"containers": [container()], "restartPolicy": "Sometimes"},
     'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
     '"OnFailure", "Never"'),
    ("dns policy", {"containers": [container()], "dnsPolicy": "Google"},
     'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
     '"ClusterFirst", "Default", "None"'),
    ("negative grace", {"containers": [container()], "terminationGracePeriodSeconds": -5},
     "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0"),
    ("deadline", {"containers": [container()], "activeDeadlineSeconds": 0},
     "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"),
    ("pull policy", {"containers": [container(imagePullPolicy="Sometimes")]},
     'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
     '"Always", "IfNotPresent", "Never"'),
    ("env name", {"containers": [container(env=[{"name": "A=B", "value": "1"}])]},
     'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name '
     "must consist only of printable ASCII characters other than '='"),
    ("env source and value", {"containers": [container(env=[{"name": "A", "value": "1",
                                                              "valueFrom": {"fieldRef": {
                                                                  "fieldPath": "metadata.name"}}}])]},
     'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` '
     "is not empty"),
    ("env field path", {"containers": [container(env=[{"name": "A", "valueFrom": {"fieldRef": {
        "fieldPath": "spec.host"}}}])]},
     'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.host": '
     'supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
     '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", '
     '"status.podIPs"'),
    ("requests over limits", {"containers": [container(resources={
        "requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]},
     'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to '
     "cpu limit of 1"),
    ("negative quantity", {"containers": [container(resources={"requests": {"memory": "-1Gi"}})]},
     'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than '
     "or equal to 0"),
    ("unknown resource", {"containers": [container(resources={"requests": {"cpus": "1"}})]},
     'spec.containers[0].resources.requests[cpus]: Invalid value: "cpus": must be a standard '
     "resource type or fully qualified"),
    ("extended resource needs a limit", {"containers": [container(resources={
        "requests": {"example.com/gpu": "1"}})]},
     "spec.containers[0].resources.limits: Required value: Limit must be set for non "
     "overcommitable resources"),
    ("mount of unknown volume", {"containers": [container(volumeMounts=[
        {"name": "data", "mountPath": "/data"}])]},
     'spec.containers[0].volumeMounts[0].name: Not found: "data"'),
    ("mount paths unique", {"volumes": [{"name": "a"}, {"name": "b"}], "containers": [container(
        volumeMounts=[{"name": "a", "mountPath": "/d"}, {"name": "b", "mountPath": "/d"}])]},
     'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique'),
    ("duplicate volumes", {"volumes": [{"name": "a"}, {"name": "a"}],
                           "containers": [container()]},
     'spec.volumes[1].name: Duplicate value: "a"'),
    ("volume name", {"volumes": [{"name": "My_Vol"}], "containers": [container()]},
     f'spec.volumes[0].name: Invalid value: "My_Vol": {DNS_LABEL}'),
    ("two volume sources", {"volumes": [{"name": "a", "emptyDir": {},
                                         "hostPath": {"path": "/tmp"}}],
                            "containers": [container()]},
     "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"),
    ("host path type", {"volumes": [{"name": "a", "hostPath": {"path": "/x", "type": "Dir"}}],
                        "containers": [container()]},
     'spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", '
     '"BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", '
     '"Socket"'),
    ("config map volume name", {"volumes": [{"name": "a", "configMap": {}}],
                                "containers": [container()]},
     "spec.volumes[0].configMap.name: Required value"),
    ("volume file mode", {"volumes": [{"name": "a", "secret": {"secretName": "s",
                                                               "defaultMode": 1000}}],
                          "containers": [container()]},
     "spec.volumes[0].secret.defaultMode: Invalid value: 1000: must be a number between 0 and "
     "0777 (octal), both inclusive"),
    ("volume item path", {"volumes": [{"name": "a", "configMap": {"name": "c", "items": [
        {"key": "k", "path": "../etc"}]}}], "containers": [container()]},
     'spec.volumes[0].configMap.items[0].path: Invalid value: "../etc": must not contain \'..\''),
    ("probe handlers", {"containers": [container(livenessProbe={
        "exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})]},
     "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler "
     "type"),
    ("probe without handler", {"containers": [container(readinessProbe={"periodSeconds": 5})]},
     "spec.containers[0].readinessProbe: Required value: must specify a handler type"),
    ("probe threshold", {"containers": [container(readinessProbe={
        "exec": {"command": ["true"]}, "failureThreshold": -1})]},
     "spec.containers[0].readinessProbe.failureThreshold: Invalid value: -1: must be greater "
     "than or equal to 0"),
    ("liveness success threshold", {"containers": [container(livenessProbe={
        "exec": {"command": ["true"]}, "successThreshold": 2})]},
     "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"),
    ("probe port", {"containers": [container(readinessProbe={"httpGet": {"port": "Web"}})]},
     'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "Web": must contain only '
     "alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("init container probe", {"initContainers": [container(name="init", readinessProbe={
        "exec": {"command": ["true"]}})], "containers": [container()]},
     "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
     "without restartPolicy=Always"),
    ("init container restart policy", {"initContainers": [container(name="init",
                                                                    restartPolicy="Never")],
                                       "containers": [container()]},
     'spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: '
     '"Always"'),
    ("app container restart policy", {"containers": [container(restartPolicy="Always")]},
     "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"),
    ("toleration exists with value", {"containers": [container()], "tolerations": [
        {"key": "k", "operator": "Exists", "value": "v"}]},
     "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` "
     "is 'Exists'"),
    ("toleration operator", {"containers": [container()], "tolerations": [
        {"key": "k", "operator": "In"}]},
     'spec.tolerations[0].operator: Unsupported value: "In": supported values: "Equal", '
     '"Exists"'),
    ("toleration without key", {"containers": [container()], "tolerations": [{"value": "v"}]},
     'spec.tolerations[0].operator: Invalid value: "": operator must be Exists when `key` is '
     'empty, which means "match all values and all keys"'),
    ("toleration seconds need NoExecute", {"containers": [container()], "tolerations": [
        {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]},
     "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' "
     "when `tolerationSeconds` is set"),
    ("toleration effect", {"containers": [container()], "tolerations": [
        {"key": "k", "operator": "Exists", "effect": "NoRun"}]},
     'spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", '
     '"PreferNoSchedule", "NoExecute"'),
    ("node selector", {"containers": [container()], "nodeSelector": {"disk": "fast ssd"}},
     'spec.nodeSelector: Invalid value: "fast ssd": a valid label must be an empty string or '
     "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
     "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
     "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    ("affinity operator", {"containers": [container()], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "Has"}]}]}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     'nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: "Has": not a valid '
     "selector operator"),
    ("affinity In needs values", {"containers": [container()], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In"}]}]}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     "nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when "
     "`operator` is 'In' or 'NotIn'"),
    ("affinity Exists takes no values", {"containers": [container()], "affinity": {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "disk", "operator": "Exists", "values": ["ssd"]}]}]}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     "nodeSelectorTerms[0].matchExpressions[0].values: Forbidden: may not be specified when "
     "`operator` is 'Exists' or 'DoesNotExist'"),
    ("affinity Gt takes one value", {"containers": [container()], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "cores", "operator": "Gt",
                                   "values": ["1", "2"]}]}]}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     "nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified single "
     "value when `operator` is 'Lt' or 'Gt'"),
    ("affinity match fields", {"containers": [container()], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.labels", "operator": "In",
                              "values": ["x"]}]}]}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     'nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.labels": not a valid '
     "field selector key"),
    ("no node selector terms", {"containers": [container()], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}},
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
     "nodeSelectorTerms: Required value: must have at least one node selector term"),
    ("preferred weight", {"containers": [container()], "affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 0, "preference": {"matchExpressions": [
                {"key": "disk", "operator": "Exists"}]}}]}}},
     "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
     "Invalid value: 0: must be in the range 1-100"),
    ("pod affinity topology key", {"containers": [container()], "affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "db"}}}]}}},
     "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: "
     "Required value: can not be empty"),
    ("topology spread", {"containers": [container()], "topologySpreadConstraints": [
        {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]},
     "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"),
    ("hostname", {"containers": [container()], "hostname": "web.local"},
     f'spec.hostname: Invalid value: "web.local": {DNS_LABEL}'),
    ("host network port mismatch", {"hostNetwork": True, "containers": [container(
        ports=[{"containerPort": 80, "hostPort": 81}])]},
     "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when "
     "`hostNetwork` is true"),
    ("image whitespace", {"containers": [container(image=" nginx")]},
     'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
     "whitespace"),
    ("run as user", {"containers": [container()], "securityContext": {"runAsUser": -1}},
     "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, "
     "inclusive"),
]


@pytest.mark.parametrize(("spec", "expected"), [(s, e) for _, s, e in CASES],
                         ids=[c[0] for c in CASES])
def test_pod_spec_rule(spec: dict[str, Any], expected: str) -> None:
    assert expected in errors_of(spec)


def test_a_good_pod_has_no_errors() -> None:
    valid("Pod", pod({
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "cfg", "configMap": {"name": "cfg", "items": [
                        {"key": "app.conf", "path": "conf/app.conf"}]}}],
        "initContainers": [container(name="sidecar", restartPolicy="Always",
                                     readinessProbe={"tcpSocket": {"port": "http"}})],
        "containers": [container(
            ports=[{"name": "http", "containerPort": 8080}],
            env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "LIMIT", "valueFrom": {"resourceFieldRef": {
                     "resource": "limits.memory", "divisor": "1Mi"}}}],
            volumeMounts=[{"name": "data", "mountPath": "/data"},
                          {"name": "cfg", "mountPath": "/etc/app"}],
            resources={"requests": {"cpu": "250m", "memory": "64Mi"},
                       "limits": {"cpu": 1, "memory": "128Mi", "example.com/gpu": 1}},
            livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}},
            lifecycle={"preStop": {"sleep": {"seconds": 5}}})],
        "tolerations": [{"operator": "Exists"},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 60}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]}}},
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
    }))


def test_bad_object_names_and_metadata() -> None:
    assert fields(create("Pod", pod(name="Web"))[1]) == ["metadata.name"]
    found = rendered(create("Pod", pod(labels={"bad key!": "x", "ok": "-x"}))[1])
    assert len(found) == 2 and all(f.startswith("metadata.labels: Invalid value:") for f in found)


def test_pod_update_may_change_only_images_deadline_tolerations() -> None:
    old = valid("Pod", pod({"containers": [container()], "tolerations": [
        {"key": "a", "operator": "Exists"}]}))
    old.metadata.resource_version = "5"
    image = codec.decode(type(old), codec.encode(old))
    image.spec.containers[0].image = "nginx:1.26"
    image.spec.active_deadline_seconds = 30
    image.spec.tolerations.add(key="b", operator="Exists")
    assert update("Pod", image, old)[1] == []

    ports = codec.decode(type(old), codec.encode(old))
    ports.spec.containers[0].ports.add(container_port=81)
    found = rendered(update("Pod", ports, old)[1])
    assert found == [
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)"]

    removed = codec.decode(type(old), codec.encode(old))
    del removed.spec.tolerations[:]
    assert rendered(update("Pod", removed, old)[1]) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"]

    more = codec.decode(type(old), codec.encode(old))
    more.spec.containers.add(name="b", image="x")
    assert "spec.containers: Forbidden: pod updates may not add or remove containers" in \
        rendered(update("Pod", more, old)[1])


def test_pod_binding_may_set_node_name_but_users_may_not() -> None:
    old = valid("Pod", pod())
    bound = codec.decode(type(old), codec.encode(old))
    bound.spec.node_name = "node-1"
    assert strategy("Pod").validate_raw_update(bound, old) == []
    assert fields(update("Pod", bound, old)[1]) == ["spec"]


def test_pod_status_keeps_qos_and_checks_ips() -> None:
    old = valid("Pod", pod({"containers": [container(resources={"requests": {"cpu": "1"}})]}))
    new = codec.decode(type(old), codec.encode(old))
    new.status.Clear()
    new.status.phase = "Running"
    new.status.pod_ip = "10.244.1.300"
    assert rendered(status_update("Pod", new, old)) == [
        'status.podIP: Invalid value: "10.244.1.300": must be a valid IP address, (e.g. '
        "10.9.8.7 or 2001:db8::ffff)"]
