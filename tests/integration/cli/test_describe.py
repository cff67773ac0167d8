"""``kemuctl describe`` with related objects and events from the API."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api.meta import now_rfc3339, now_rfc3339_micro
from tests.integration.cli.conftest import Api, Kemuctl, owner_reference

pytestmark = pytest.mark.integration


def event(api: Api, namespace: str, involved: Any, kind: str, reason: str,
          kind_in_ref: str | None = None) -> None:
    api.create("Event", {
        "metadata": {"name": f"{involved.metadata.name}.{reason.lower()}",
                     "namespace": namespace},
        "involvedObject": {"kind": kind_in_ref or kind, "name": involved.metadata.name,
                           "namespace": involved.metadata.namespace,
                           "uid": involved.metadata.uid},
        "reason": reason, "message": f"{reason} for {involved.metadata.name}", "type": "Normal",
        "count": 1, "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339(),
        "source": {"component": "replicaset-controller"}})


def test_describe_replica_set_with_pods_and_events(kemuctl: Kemuctl, namespace: str,
                                                   api: Api) -> None:
    rs = api.create("ReplicaSet", {
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx",
                                                       "ports": [{"containerPort": 80}]}]}}}})
    for name, phase in (("web-1", "Running"), ("web-2", "Pending")):
        api.create("Pod", {"metadata": {"name": name, "namespace": namespace,
                                        "labels": {"app": "web"},
                                        "ownerReferences": [owner_reference(rs, "ReplicaSet",
                                                                            "apps/v1")]},
                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}})
        api.set_status("Pod", name, namespace, {"phase": phase})
    api.set_status("ReplicaSet", "web", namespace, {"replicas": 2})
    event(api, namespace, rs, "ReplicaSet", "SuccessfulCreate")
    result = kemuctl("describe", "rs", "web", "-n", namespace)
    assert result.exit_code == 0, result.stderr
    lines = result.lines
    assert lines[0] == "Name:         web"
    assert "Selector:     app=web" in lines
    assert "Replicas:     2 current / 2 desired" in lines
    assert "Pods Status:  1 Running / 1 Waiting / 0 Succeeded / 0 Failed" in lines
    assert "    Port:          80/TCP" in lines
    assert lines[-3].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[-1].split()[:2] == ["Normal", "SuccessfulCreate"]
    assert lines[-1].endswith("replicaset-controller  SuccessfulCreate for web")


def test_describe_pod_by_prefix_and_all_of_a_kind(kemuctl: Kemuctl, namespace: str,
                                                  api: Api) -> None:
    for name in ("api-1", "api-2", "db-1"):
        api.create("Pod", {"metadata": {"name": name, "namespace": namespace},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pod = api.get("Pod", "api-1", namespace)
    event(api, namespace, pod, "Pod", "Scheduled")
    prefixed = kemuctl("describe", "pods", "api", "-n", namespace)
    assert prefixed.exit_code == 0, prefixed.stderr
    names = [line.split()[1] for line in prefixed.lines if line.startswith("Name:")]
    assert names == ["api-1", "api-2"]
    first = prefixed.stdout.split("\n\n\n")[0]
    assert "Scheduled  " in first and "Events:" in first
    assert prefixed.stdout.count("Events:") == 2
    every = kemuctl("describe", "po", "-n", namespace)
    assert [line.split()[1] for line in every.lines if line.startswith("Name:")] == [
        "api-1", "api-2", "db-1"]
    missing = kemuctl("describe", "pod", "zzz", "-n", namespace)
    assert missing.exit_code == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "zzz" not found'


def test_describe_node(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    name = f"node-{namespace}"
    node = api.create("Node", {"metadata": {"name": name, "labels": {
        "node-role.kubernetes.io/worker": "", "kubernetes.io/hostname": name}},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}})
    api.set_status("Node", name, "", {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()}],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "kemu", "operatingSystem": "linux"}})
    api.create("Lease", {"metadata": {"name": name, "namespace": "kube-node-lease"},
                         "spec": {"holderIdentity": name, "renewTime": now_rfc3339_micro()}})
    api.create("Pod", {"metadata": {"name": "heavy", "namespace": namespace},
                       "spec": {"nodeName": name, "containers": [{
                           "name": "c", "image": "x",
                           "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                                         "limits": {"cpu": "2"}}}]}})
    event(api, "default", node, "Node", "NodeReady")
    result = kemuctl("describe", "node", name)
    assert result.exit_code == 0, result.stderr
    lines = result.lines
    assert lines[1] == "Roles:              worker"
    assert "Taints:             dedicated=gpu:NoSchedule" in lines
    assert lines[lines.index("Lease:") + 1] == f"  HolderIdentity:  {name}"
    assert any(line.split()[:2] == ["Ready", "True"] for line in lines)
    assert "  InternalIP:  10.0.0.7" in lines
    assert "Non-terminated Pods:          (1 in total)" in lines
    row = next(line.split() for line in lines if line.startswith(f"  {namespace}"))
    assert row[:10] == [namespace, "heavy", "1", "(25%)", "2", "(50%)", "2Gi", "(25%)", "0",
                        "(0%)"]
    assert ["cpu", "1", "(25%)", "2", "(50%)"] in [line.split() for line in lines]
    assert ["memory", "2Gi", "(25%)", "0", "(0%)"] in [line.split() for line in lines]
    assert lines[-1].split()[:2] == ["Normal", "NodeReady"]
    nodes = kemuctl("get", "node", name)
    assert nodes.rows() == [[name, "Ready", "worker", nodes.rows()[0][3], "v1.32.0"]]
