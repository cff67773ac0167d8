"""Defaults, field by field, against what Kubernetes' defaulters fill in."""

from __future__ import annotations

import pytest

from controlplane.apiserver.defaults.pod import default_pull_policy, image_tag
from kemu.api import codec
from tests.unit.validation.helpers import container, create, deployment, pod, template, valid

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("image", "tag", "policy"), [
    ("nginx", "latest", "Always"),
    ("nginx:latest", "latest", "Always"),
    ("nginx:1.25", "1.25", "IfNotPresent"),
    ("registry.example.com:5000/team/app", "latest", "Always"),
    ("registry.example.com:5000/team/app:v2", "v2", "IfNotPresent"),
    ("localhost:5000/app", "latest", "Always"),
    ("gcr.io/kuar-demo/kuard-amd64:blue", "blue", "IfNotPresent"),
    ("busybox@sha256:" + "a" * 64, "", "IfNotPresent"),
    ("busybox:1.36@sha256:" + "b" * 64, "1.36", "IfNotPresent"),
    ("Busybox", "", "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image: str, tag: str, policy: str) -> None:
    assert image_tag(image) == tag
    assert default_pull_policy(image) == policy


def test_pod_spec_and_container_defaults() -> None:
    obj = valid("Pod", pod({"containers": [container(
        ports=[{"containerPort": 80}],
        livenessProbe={"httpGet": {"port": 80}},
        readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 2},
        env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])]}))
    spec = codec.encode(obj)["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["livenessProbe"] == {"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
                                  "timeoutSeconds": 1, "periodSeconds": 10,
                                  "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"]["periodSeconds"] == 2
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "spec.nodeName"}


def test_given_values_are_not_overwritten() -> None:
    obj = valid("Pod", pod({"containers": [container(imagePullPolicy="Never")],
                            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                            "enableServiceLinks": False, "dnsPolicy": "Default"}))
    assert obj.spec.restart_policy == "Never"
    assert obj.spec.termination_grace_period_seconds == 0
    assert obj.spec.enable_service_links is False
    assert obj.spec.dns_policy == "Default"
    assert obj.spec.containers[0].image_pull_policy == "Never"


def test_volume_defaults() -> None:
    obj = valid("Pod", pod({"containers": [container()], "volumes": [
        {"name": "scratch"},
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "secret", "secret": {"secretName": "s"}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "meta", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
    ]}))
    volumes = codec.encode(obj)["spec"]["volumes"]
    assert volumes[0] == {"name": "scratch", "emptyDir": {}}
    assert volumes[1]["configMap"] == {"name": "cfg", "defaultMode": 420}
    assert volumes[2]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert volumes[3]["hostPath"] == {"path": "/var/log", "type": ""}
    assert volumes[4]["downwardAPI"]["defaultMode"] == 420
    assert volumes[4]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"


def test_pods_copy_limits_into_missing_requests_but_templates_do_not() -> None:
    resources = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}
    obj = valid("Pod", pod({"containers": [container(resources=resources)]}))
    requests = {k: v.value for k, v in obj.spec.containers[0].resources.requests.items()}
    assert requests == {"cpu": "500m", "memory": "1Gi"}
    rs = valid("ReplicaSet", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": template(containers=[container(resources=resources)])}})
    assert dict(rs.spec.template.spec.containers[0].resources.requests) == {
        "cpu": rs.spec.template.spec.containers[0].resources.requests["cpu"]}


def test_host_network_pods_get_host_ports() -> None:
    obj = valid("Pod", pod({"hostNetwork": True,
                            "containers": [container(ports=[{"containerPort": 8080}])]}))
    assert obj.spec.containers[0].ports[0].host_port == 8080


def test_pod_status_and_qos_on_create() -> None:
    best, _ = create("Pod", pod())
    assert (best.status.phase, best.status.qos_class) == ("Pending", "BestEffort")
    guaranteed, _ = create("Pod", pod({"containers": [container(
        resources={"limits": {"cpu": "1", "memory": "64Mi"}})]}))
    assert guaranteed.status.qos_class == "Guaranteed"
    burstable, _ = create("Pod", pod({"containers": [container(
        resources={"requests": {"cpu": "100m"}})]}))
    assert burstable.status.qos_class == "Burstable"


def test_deployment_defaults() -> None:
    spec = codec.encode(valid("Deployment", deployment()))["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    recreate = codec.encode(valid("Deployment", deployment(strategy={"type": "Recreate"})))
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}


def test_replica_set_and_replication_controller_defaults() -> None:
    rs = valid("ReplicaSet", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": template()}})
    assert rs.spec.replicas == 1
    rc = valid("ReplicationController", {"metadata": {"name": "web"},
                                         "spec": {"template": template({"app": "web"})}})
    assert rc.spec.replicas == 1
    assert dict(rc.spec.selector) == {"app": "web"}
    assert dict(rc.metadata.labels) == {"app": "web"}
    labelled = valid("ReplicationController", {"metadata": {"name": "web", "labels": {"a": "b"}},
                                               "spec": {"template": template({"app": "web"})}})
    assert dict(labelled.metadata.labels) == {"a": "b"}


def test_daemon_set_defaults() -> None:
    ds = valid("DaemonSet", {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": template()}})
    spec = codec.encode(ds)["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10
    on_delete = valid("DaemonSet", {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": template(),
        "updateStrategy": {"type": "OnDelete"}}})
    assert codec.encode(on_delete)["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_stateful_set_defaults() -> None:
    sts = valid("StatefulSet", {"metadata": {"name": "db"}, "spec": {
        "serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": template(),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    spec = codec.encode(sts)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}


@pytest.mark.parametrize(("given", "completions", "parallelism"), [
    ({}, 1, 1),
    ({"completions": 5}, 5, 1),
    ({"parallelism": 3}, None, 3),
    ({"completions": 4, "parallelism": 2}, 4, 2),
])
def test_job_completions_and_parallelism(given: dict[str, int], completions: int | None,
                                         parallelism: int) -> None:
    job = valid("Job", {"metadata": {"name": "work"}, "spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}, **given}})
    assert (job.spec.completions if job.spec.HasField("completions") else None) == completions
    assert job.spec.parallelism == parallelism


def test_job_defaults_and_generated_selector() -> None:
    job = valid("Job", {"metadata": {"name": "work"}, "spec": {
        "template": {"spec": {"restartPolicy": "OnFailure", "containers": [container()]}}}})
    uid = job.metadata.uid
    assert job.spec.backoff_limit == 6
    assert job.spec.completion_mode == "NonIndexed"
    assert job.spec.suspend is False
    assert job.spec.pod_replacement_policy == "TerminatingOrFailed"
    assert dict(job.spec.selector.match_labels) == {"batch.kubernetes.io/controller-uid": uid}
    expected = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                "batch.kubernetes.io/job-name": "work", "job-name": "work"}
    assert dict(job.spec.template.metadata.labels) == expected
    assert dict(job.metadata.labels) == expected


def test_job_labels_come_from_the_template_and_per_index_backoff() -> None:
    job = valid("Job", {"metadata": {"name": "work"}, "spec": {
        "completions": 3, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
        "template": {"metadata": {"labels": {"app": "batch"}},
                     "spec": {"restartPolicy": "Never", "containers": [container()]}}}})
    assert dict(job.metadata.labels) == {"app": "batch"}
    assert job.spec.backoff_limit == 2**31 - 1


def test_job_with_manual_selector_keeps_it() -> None:
    job = valid("Job", {"metadata": {"name": "work"}, "spec": {
        "manualSelector": True, "selector": {"matchLabels": {"app": "batch"}},
        "template": {"metadata": {"labels": {"app": "batch"}},
                     "spec": {"restartPolicy": "Never", "containers": [container()]}}}})
    assert dict(job.spec.selector.match_labels) == {"app": "batch"}
    assert dict(job.spec.template.metadata.labels) == {"app": "batch"}


def test_job_with_pod_failure_policy_replaces_only_failed_pods() -> None:
    job = valid("Job", {"metadata": {"name": "work"}, "spec": {
        "podFailurePolicy": {"rules": [{"action": "Ignore",
                                        "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        "template": {"spec": {"restartPolicy": "Never", "containers": [container()]}}}})
    assert job.spec.pod_replacement_policy == "Failed"
    assert job.spec.pod_failure_policy.rules[0].on_pod_conditions[0].status == "True"


def test_cron_job_defaults() -> None:
    cj = valid("CronJob", {"metadata": {"name": "nightly"}, "spec": {
        "schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [container()]}}}}}})
    spec = cj.spec
    assert (spec.concurrency_policy, spec.suspend) == ("Allow", False)
    assert (spec.successful_jobs_history_limit, spec.failed_jobs_history_limit) == (3, 1)
    assert spec.job_template.spec.template.spec.dns_policy == "ClusterFirst"
    assert not spec.job_template.spec.HasField("backoff_limit")


def test_service_defaults() -> None:
    svc = valid("Service", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 81, "targetPort": "adm"}]}})
    spec = codec.encode(svc)["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert spec["ports"][0] == {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == "adm"
    node_port = valid("Service", {"metadata": {"name": "np"}, "spec": {
        "type": "NodePort", "ports": [{"port": 80}]}})
    assert node_port.spec.external_traffic_policy == "Cluster"
    headless = valid("Service", {"metadata": {"name": "db"}, "spec": {
        "clusterIP": "None", "selector": {"app": "db"}}})
    assert list(headless.spec.cluster_ips) == ["None"]


def test_claim_namespace_and_node_defaults() -> None:
    claim = valid("PersistentVolumeClaim", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    assert (claim.spec.volume_mode, claim.status.phase) == ("Filesystem", "Pending")
    namespace = valid("Namespace", {"metadata": {"name": "team-a"}})
    assert namespace.status.phase == "Active"
    assert dict(namespace.metadata.labels) == {"kubernetes.io/metadata.name": "team-a"}
    assert list(namespace.spec.finalizers) == ["kubernetes"]
    node = valid("Node", {"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"},
                          "status": {"capacity": {"cpu": "4", "pods": "110"}}})
    assert list(node.spec.pod_cidrs) == ["10.244.1.0/24"]
    assert {k: v.value for k, v in node.status.allocatable.items()} == {"cpu": "4", "pods": "110"}


def test_defaulting_is_idempotent() -> None:
    once, _ = create("Deployment", deployment())
    twice, _ = create("Deployment", codec.encode(once))
    once.metadata.uid = twice.metadata.uid
    assert twice.spec == once.spec
