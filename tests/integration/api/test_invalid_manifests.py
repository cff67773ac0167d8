"""Invalid manifests through the real API server: each is refused with an error naming the
field, Kubernetes' way, and nothing is stored.

Malformed YAML, wrong types and unknown kinds fail in ``kemu.manifest`` before any request;
everything else is sent with GrpcClient and refused by the server's validation (or, for an
object too big for etcd, by its size check).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from kemu.api import kinds
from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import ManifestError, load_text
from kemu.v1 import core_pb2

pytestmark = pytest.mark.integration

NAMESPACE = "invalid-manifests"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    field: str
    message: str
    code: Code = Code.INVALID_ARGUMENT
    tweak: Callable[[Any], None] | None = None  # applied to the decoded object before sending


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def pod(name: str, **spec: Any) -> dict[str, Any]:
    body = {"containers": [{"name": "app", "image": "nginx:1.25"}], **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.25", **extra}


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    body = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [container()]}}, **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": body}


def with_kind(document: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["apiVersion"], changed["kind"] = api_version, kind
    return changed


def job(name: str, restart: str | None = "Never", **spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [container()]}
    if restart:
        pod_spec["restartPolicy"] = restart
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": pod_spec}, **spec}}


def cron_job(name: str, schedule: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": job(name)["spec"]}}}


def node_affinity(operator: str, values: list[str]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "disk", "operator": operator, "values": values}]}]}}}


AFFINITY_PATH = ("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                 "nodeSelectorTerms[0].matchExpressions[0]")


def _bad_quantity(obj: Any) -> None:
    obj.spec.containers[0].resources.limits["cpu"].value = "two cores"


def _big_args(obj: Any) -> None:
    obj.spec.containers[0].args.extend(["x" * 1024] * 2048)


# -- refused by the loader (nothing is sent) ------------------------------------------------

LOADER_CASES = [
    Case("malformed-yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n"
                           "spec:\n  containers:\n  - name: a\n   image: x\n",
         "", "error parsing malformed-yaml.yaml"),
    Case("replicas-as-word", dump(deployment("loader-replicas", replicas="three")),
         "spec.replicas", 'spec.replicas: Invalid value: "three": expected an integer, got string'),
    Case("containers-as-map", dump(pod("loader-containers", containers={"name": "a"})),
         "spec.containers",
         'spec.containers: Invalid value: {"name":"a"}: expected an array, got object'),
    Case("port-as-word", dump(pod("loader-port", containers=[container(
        ports=[{"containerPort": "http"}])])),
         "spec.containers[0].ports[0].containerPort",
         'spec.containers[0].ports[0].containerPort: Invalid value: "http": expected an integer'),
    Case("replicas-overflow", dump(deployment("loader-overflow", replicas=2**31)),
         "spec.replicas", "spec.replicas: Invalid value: 2147483648: out of range for int32"),
    Case("quantity-syntax", dump(pod("loader-quantity", containers=[container(
        resources={"limits": {"cpu": "two cores"}})])),
         "spec.containers[0].resources.limits[cpu]",
         'spec.containers[0].resources.limits[cpu]: Invalid value: "two cores": quantities must '
         "match the regular expression"),
    Case("unknown-kind", dump({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                               "metadata": {"name": "loader-ingress"}}),
         "", 'no matches for kind "Ingress" in version "networking.k8s.io/v1"'),
    Case("wrong-api-version", dump(with_kind(pod("loader-version"), "apps/v1", "Pod")),
         "", 'no matches for kind "Pod" in version "apps/v1"'),
    Case("missing-kind", "apiVersion: v1\nmetadata:\n  name: loader-kind\n",
         "", "Object 'Kind' is missing"),
]

# -- refused by the server on create --------------------------------------------------------

NAME_RULE = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
CREATE_CASES = [
    Case("label-key", dump({**pod("label-key"), "metadata": {
        "name": "label-key", "labels": {"app/tier/x": "web"}}}),
         "metadata.labels", 'metadata.labels: Invalid value: "app/tier/x": a qualified name must'),
    Case("label-value", dump({**pod("label-value"), "metadata": {
        "name": "label-value", "labels": {"app": "-web-"}}}),
         "metadata.labels", 'metadata.labels: Invalid value: "-web-": a valid label must be'),
    Case("uppercase-name", dump(deployment("WebApp")),
         "metadata.name", f'metadata.name: Invalid value: "WebApp": {NAME_RULE}'),
    Case("service-name-digit", dump({"apiVersion": "v1", "kind": "Service",
                                     "metadata": {"name": "1web"},
                                     "spec": {"ports": [{"port": 80}]}}),
         "metadata.name", 'metadata.name: Invalid value: "1web": a DNS-1035 label must consist'),
    Case("namespace-with-dots", dump({"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": "team.a"}}),
         "metadata.name", 'metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label'),
    Case("cronjob-name-too-long", dump(cron_job("c" * 53, "@daily")),
         "metadata.name",
         f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters'),
    Case("selector-mismatch", dump(deployment(
        "selector-mismatch", selector={"matchLabels": {"app": "other"}})),
         "spec.template.metadata.labels",
         'spec.template.metadata.labels: Invalid value: {"app":"selector-mismatch"}: `selector` '
         "does not match template `labels`"),
    Case("empty-selector", dump(with_kind(deployment("empty-selector", selector={}),
                                          "apps/v1", "ReplicaSet")),
         "spec.selector", "spec.selector: Invalid value: {}: empty selector is invalid for "
                          "deployment"),
    Case("missing-selector", dump(deployment("missing-selector", selector=None)),
         "spec.selector", "spec.selector: Required value"),
    Case("negative-replicas", dump(deployment("negative-replicas", replicas=-1)),
         "spec.replicas", "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    Case("no-containers", dump(pod("no-containers", containers=[])),
         "spec.containers", "spec.containers: Required value"),
    Case("duplicate-container-names", dump(pod("duplicate-names", initContainers=[container()])),
         "spec.initContainers[0].name", 'spec.initContainers[0].name: Duplicate value: "app"'),
    Case("bad-port", dump(pod("bad-port", containers=[container(
        ports=[{"containerPort": 70000}])])),
         "spec.containers[0].ports[0].containerPort",
         "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
         "65535, inclusive"),
    Case("job-restart-always", dump(job("restart-always", restart=None)),
         "spec.template.spec.restartPolicy",
         'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
         '"OnFailure", "Never"'),
    Case("bad-cron-schedule", dump(cron_job("bad-schedule", "61 * * * *")),
         "spec.schedule",
         'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'),
    Case("cron-time-zone-in-schedule", dump(cron_job("tz-schedule", "TZ=UTC 0 3 * * *")),
         "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    Case("toleration-exists-with-value", dump(pod("toleration-value", tolerations=[
        {"key": "gpu", "operator": "Exists", "value": "yes"}])),
         "spec.tolerations[0].operator",
         "spec.tolerations[0].operator: Invalid value: \"yes\": value must be empty when "
         "`operator` is 'Exists'"),
    Case("toleration-seconds-without-no-execute", dump(pod("toleration-seconds", tolerations=[
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}])),
         "spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"),
    Case("node-affinity-operator", dump(pod("affinity-operator",
                                            affinity=node_affinity("Equals", ["ssd"]))),
         f"{AFFINITY_PATH}.operator",
         f'{AFFINITY_PATH}.operator: Invalid value: "Equals": not a valid selector operator'),
    Case("node-affinity-values", dump(pod("affinity-values",
                                          affinity=node_affinity("Exists", ["ssd"]))),
         f"{AFFINITY_PATH}.values",
         f"{AFFINITY_PATH}.values: Forbidden: may not be specified when `operator` is 'Exists' "
         "or 'DoesNotExist'"),
    Case("requests-over-limits", dump(pod("requests-over-limits", containers=[container(
        resources={"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}})])),
         "spec.containers[0].resources.requests",
         'spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or '
         "equal to memory limit of 1Gi"),
    Case("bad-quantity-over-grpc", dump(pod("bad-quantity", containers=[container(
        resources={"limits": {"cpu": "1"}})])),
         "spec.containers[0].resources.limits[cpu]",
         'spec.containers[0].resources.limits[cpu]: Invalid value: "two cores": quantities must '
         "match the regular expression", tweak=_bad_quantity),
    Case("mount-of-unknown-volume", dump(pod("unknown-volume", containers=[container(
        volumeMounts=[{"name": "data", "mountPath": "/data"}])])),
         "spec.containers[0].volumeMounts[0].name",
         'spec.containers[0].volumeMounts[0].name: Not found: "data"'),
    Case("config-map-over-1mib", dump({"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "big-config"},
                                       "data": {"a": "x" * (1024 * 1024), "b": "y"}}),
         "data", "data: Too long: must have at most 1048576 bytes"),
    Case("annotations-over-256kib", dump({"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "big-annotations",
                                                       "annotations": {"note": "n" * 262144}}}),
         "metadata.annotations", "metadata.annotations: Too long: must have at most 262144 bytes"),
    Case("object-over-1.5mib", dump(pod("huge-pod")), "spec.containers",
         'Pod "huge-pod" is too large: spec.containers: Too long', code=Code.RESOURCE_EXHAUSTED,
         tweak=_big_args),
    Case("recreate-with-rolling-update", dump(deployment("recreate", strategy={
        "type": "Recreate", "rollingUpdate": {"maxSurge": 1}})),
         "spec.strategy.rollingUpdate",
         "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
         "'Recreate'"),
    Case("no-surge-no-unavailable", dump(deployment("frozen-rollout", strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})),
         "spec.strategy.rollingUpdate.maxUnavailable",
         "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
         "`maxSurge` is 0"),
    Case("daemon-set-strategy", dump(with_kind(deployment("ds-strategy", updateStrategy={
        "type": "Replace"}), "apps/v1", "DaemonSet")),
         "spec.updateStrategy",
         'spec.updateStrategy: Unsupported value: "Replace": supported values: "RollingUpdate", '
         '"OnDelete"'),
    Case("stateful-set-policy", dump(with_kind(deployment(
        "sts-policy", serviceName="sts-policy", podManagementPolicy="Random"),
        "apps/v1", "StatefulSet")),
         "spec.podManagementPolicy",
         "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or "
         "'Parallel'"),
    Case("service-duplicate-port-names", dump({"apiVersion": "v1", "kind": "Service",
                                               "metadata": {"name": "dup-ports"},
                                               "spec": {"ports": [{"name": "web", "port": 80},
                                                                  {"name": "web", "port": 81}]}}),
         "spec.ports[1].name", 'spec.ports[1].name: Duplicate value: "web"'),
    Case("service-port-range", dump({"apiVersion": "v1", "kind": "Service",
                                     "metadata": {"name": "port-range"},
                                     "spec": {"ports": [{"port": 99999}]}}),
         "spec.ports[0].port",
         "spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive"),
    Case("config-map-key", dump({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "bad-key"}, "data": {"my key": "v"}}),
         "data[my key]", 'data[my key]: Invalid value: "my key": a valid config key must'),
    Case("claim-without-access-modes", dump({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                             "metadata": {"name": "no-modes"},
                                             "spec": {"resources": {"requests": {
                                                 "storage": "1Gi"}}}}),
         "spec.accessModes", "spec.accessModes: Required value: at least 1 access mode is required"),
    Case("node-taint-effect", dump({"apiVersion": "v1", "kind": "Node",
                                    "metadata": {"name": "invalid-taint-node"},
                                    "spec": {"taints": [{"key": "gpu", "effect": "NoRun"}]}}),
         "spec.taints[0].effect",
         'spec.taints[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", '
         '"PreferNoSchedule", "NoExecute"'),
    Case("env-name", dump(pod("env-name", containers=[container(env=[{"name": "A=B"}])])),
         "spec.containers[0].env[0].name",
         'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable '
         "name must consist only of printable ASCII characters other than '='"),
    Case("probe-two-handlers", dump(pod("two-handlers", containers=[container(readinessProbe={
        "exec": {"command": ["true"]}, "httpGet": {"port": 80}})])),
         "spec.containers[0].readinessProbe.httpGet",
         "spec.containers[0].readinessProbe.httpGet: Forbidden: may not specify more than 1 "
         "handler type"),
    Case("host-path-type", dump(pod("host-path-type", volumes=[
        {"name": "logs", "hostPath": {"path": "/var/log", "type": "Folder"}}])),
         "spec.volumes[0].hostPath.type",
         'spec.volumes[0].hostPath.type: Unsupported value: "Folder": supported values: "",'),
    Case("indexed-job-without-completions", dump(job("indexed", completionMode="Indexed",
                                                     parallelism=2)),
         "spec.completions", "spec.completions: Required value: when completion mode is Indexed"),
    Case("lease-duration", dump({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                 "metadata": {"name": "zero-lease"},
                                 "spec": {"leaseDurationSeconds": 0}}),
         "spec.leaseDurationSeconds",
         "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
    Case("endpoints-ip", dump({"apiVersion": "v1", "kind": "Endpoints",
                               "metadata": {"name": "bad-endpoints"},
                               "subsets": [{"addresses": [{"ip": "10.0.0.256"}],
                                            "ports": [{"port": 80}]}]}),
         "subsets[0].addresses[0].ip",
         'subsets[0].addresses[0].ip: Invalid value: "10.0.0.256": must be a valid IP address'),
    Case("replication-controller-mismatch", dump({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc-mismatch"},
        "spec": {"selector": {"app": "db"}, "template": {"metadata": {"labels": {"app": "web"}},
                                                         "spec": {"containers": [container()]}}}}),
         "spec.template.metadata.labels",
         'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match '
         "template `labels`"),
]


@dataclass(frozen=True)
class UpdateCase:
    id: str
    text: str
    change: Callable[[Any], None]
    field: str
    message: str


def _change_selector(obj: Any) -> None:
    obj.spec.selector.match_labels["tier"] = "front"
    obj.spec.template.metadata.labels["tier"] = "front"


def _add_port(obj: Any) -> None:
    obj.spec.containers[0].ports.add(container_port=8080)


def _rename_service(obj: Any) -> None:
    obj.spec.service_name = "elsewhere"


def _change_job_image(obj: Any) -> None:
    obj.spec.template.spec.containers[0].image = "nginx:1.26"


def _move_cluster_ip(obj: Any) -> None:
    obj.spec.cluster_ip = "10.96.10.11"
    del obj.spec.cluster_ips[:]
    obj.spec.cluster_ips.append("10.96.10.11")


def _edit_immutable_data(obj: Any) -> None:
    obj.data["mode"] = "slow"


def _move_pod_cidr(obj: Any) -> None:
    obj.spec.pod_cidr = "10.250.2.0/24"
    del obj.spec.pod_cidrs[:]
    obj.spec.pod_cidrs.append("10.250.2.0/24")


UPDATE_CASES = [
    UpdateCase("deployment-selector", dump(deployment("immutable-selector")), _change_selector,
               "spec.selector",
               'spec.selector: Invalid value: {"matchLabels":{"app":"immutable-selector",'
               '"tier":"front"}}: field is immutable'),
    UpdateCase("pod-spec", dump(pod("pod-update")), _add_port, "spec",
               "spec: Forbidden: pod updates may not change fields other than "
               "`spec.containers[*].image`"),
    UpdateCase("stateful-set-service-name", dump(with_kind(deployment(
        "sts-update", serviceName="sts-update"), "apps/v1", "StatefulSet")), _rename_service,
               "spec", "spec: Forbidden: updates to statefulset spec for fields other than "
                       "'replicas', 'ordinals', 'template', 'updateStrategy'"),
    UpdateCase("job-template", dump(job("job-update")), _change_job_image, "spec.template",
               "spec.template: Invalid value: "),
    UpdateCase("service-cluster-ip", dump({"apiVersion": "v1", "kind": "Service",
                                           "metadata": {"name": "fixed-ip"},
                                           "spec": {"clusterIP": "10.96.10.10",
                                                    "ports": [{"port": 80}]}}),
               _move_cluster_ip, "spec.clusterIPs[0]",
               'spec.clusterIPs[0]: Invalid value: ["10.96.10.11"]: may not change once set'),
    UpdateCase("immutable-config-map", dump({"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "frozen"},
                                             "data": {"mode": "fast"}, "immutable": True}),
               _edit_immutable_data, "data",
               "data: Forbidden: field is immutable when `immutable` is set"),
    UpdateCase("node-pod-cidr", dump({"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": "invalid-cidr-node"},
                                      "spec": {"podCIDR": "10.250.1.0/24"}}),
               _move_pod_cidr, "spec.podCIDRs",
               'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to '
               "valid"),
]


def test_at_least_thirty_invalid_manifests() -> None:
    assert len(LOADER_CASES) + len(CREATE_CASES) + len(UPDATE_CASES) >= 30


@pytest.fixture
async def namespace(client: GrpcClient) -> str:
    ns = core_pb2.Namespace()
    ns.metadata.name = NAMESPACE
    try:
        await client.create(ns)
    except ApiError as exc:
        if exc.code != Code.ALREADY_EXISTS:
            raise
    return NAMESPACE


def _load_one(case_id: str, text: str, namespace: str) -> Any:
    (manifest,) = load_text(text, f"{case_id}.yaml")
    assert manifest.warnings == []
    if manifest.kind.namespaced:
        manifest.obj.metadata.namespace = namespace
    return manifest.obj


async def _assert_absent(client: GrpcClient, obj: Any) -> None:
    with pytest.raises(ApiError) as missing:
        await client.get(type(obj), obj.metadata.name, obj.metadata.namespace)
    assert missing.value.code == Code.NOT_FOUND


@pytest.mark.parametrize("case", LOADER_CASES, ids=[c.id for c in LOADER_CASES])
async def test_refused_by_the_loader(case: Case, client: GrpcClient) -> None:
    with pytest.raises(ManifestError) as refused:
        load_text(case.text, f"{case.id}.yaml")
    error = refused.value
    assert case.message in str(error), str(error)
    assert error.source == f"{case.id}.yaml"
    if case.field:
        assert [e.field for e in error.errors] == [case.field]
    document = yaml.safe_load(case.text) if case.id != "malformed-yaml" else None
    if isinstance(document, dict) and document.get("kind") == "Pod":
        # Nothing could have been sent, and nothing by that name exists.
        with pytest.raises(ApiError) as missing:
            await client.get(core_pb2.Pod, document["metadata"]["name"], NAMESPACE)
        assert missing.value.code == Code.NOT_FOUND


@pytest.mark.parametrize("case", CREATE_CASES, ids=[c.id for c in CREATE_CASES])
async def test_refused_on_create(case: Case, client: GrpcClient, namespace: str) -> None:
    obj = _load_one(case.id, case.text, namespace)
    if case.tweak:
        case.tweak(obj)
    with pytest.raises(ApiError) as refused:
        await client.create(obj)
    error = refused.value
    assert error.code == case.code, str(error)
    assert case.field in error.fields, (error.fields, str(error))
    assert case.message in str(error), str(error)
    assert all(c.reason.startswith("FieldValue") for c in error.causes), error.causes
    if case.code == Code.INVALID_ARGUMENT:
        assert error.reason == "Invalid"
        prefix = f'{kinds.of(obj).qualified_kind} "{obj.metadata.name}" is invalid: '
        assert str(error).startswith(prefix), str(error)
    await _assert_absent(client, obj)


@pytest.mark.parametrize("case", UPDATE_CASES, ids=[c.id for c in UPDATE_CASES])
async def test_refused_on_update(case: UpdateCase, client: GrpcClient, namespace: str) -> None:
    obj = _load_one(case.id, case.text, namespace)
    stored = await client.create(obj)
    changed = type(stored)()
    changed.CopyFrom(stored)
    case.change(changed)
    with pytest.raises(ApiError) as refused:
        await client.update(changed)
    error = refused.value
    assert error.code == Code.INVALID_ARGUMENT and error.reason == "Invalid", str(error)
    assert case.field in error.fields, (error.fields, str(error))
    assert case.message in str(error), str(error)
    current = await client.get(type(stored), stored.metadata.name, stored.metadata.namespace)
    assert current == stored, "a refused update changed the stored object"
