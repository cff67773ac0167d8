"""The columns and cells ``get`` prints for each kind."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec, kinds
from kemu.api.meta import now_rfc3339
from kemuctl.printers import table
from kemuctl.printers.catalog import table_for
from kemuctl.printers.table import TableOptions

pytestmark = pytest.mark.unit

NOW = 2_000_000.0
CREATED = now_rfc3339(NOW - 300)


def obj(kind_name: str, document: dict[str, Any]) -> Any:
    document.setdefault("metadata", {}).setdefault("name", "x")
    document["metadata"].setdefault("creationTimestamp", CREATED)
    return codec.decode(kinds.by_name(kind_name).message, document)


def header_and_row(kind_name: str, document: dict[str, Any], **options: Any) -> tuple[list[str],
                                                                                      list[str]]:
    kind = kinds.by_name(kind_name)
    opts = TableOptions(**options)
    kind_table = table_for(kind, opts.wide)
    return table.headers(kind_table, opts), table.row(kind_table, kind, obj(kind_name, document),
                                                      opts, NOW)


def test_pods_wide_and_with_namespace_and_labels() -> None:
    document = {"metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]},
                "status": {"phase": "Running", "podIP": "10.0.0.5"}}
    headers, row = header_and_row("Pod", document, wide=True, with_namespace=True,
                                  show_labels=True, label_columns=("app", "x.io/tier"))
    assert headers == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                       "NOMINATED NODE", "READINESS GATES", "APP", "TIER", "LABELS"]
    assert row == ["ns", "web", "0/1", "Running", "0", "5m", "10.0.0.5", "node-1", "<none>",
                   "<none>", "web", "", "app=web"]


def test_kind_prefix_on_the_name_column() -> None:
    _, row = header_and_row("ReplicaSet", {"metadata": {"name": "web"}}, with_kind=True)
    assert row[0] == "replicaset.apps/web"


def test_nodes() -> None:
    document = {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": "",
                                        "kubernetes.io/role": "worker"}},
                "spec": {"unschedulable": True},
                "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                           "nodeInfo": {"kubeletVersion": "v1.32.0"},
                           "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}]}}
    headers, row = header_and_row("Node", document, wide=True)
    assert headers == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                       "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    assert row == ["x", "NotReady,SchedulingDisabled", "control-plane,worker", "5m", "v1.32.0",
                   "10.1.1.1", "<none>", "<unknown>", "<unknown>", "<unknown>"]
    _, row = header_and_row("Node", {"status": {"conditions": [{"type": "Ready",
                                                                "status": "True"}]}})
    assert row[1:3] == ["Ready", "<none>"]
    _, row = header_and_row("Node", {})
    assert row[1] == "Unknown"


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a", "image": "img:1"},
                                    {"name": "b", "image": "img:2"}]}}


def test_replica_sets_and_replication_controllers() -> None:
    headers, row = header_and_row("ReplicaSet", {
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1}}, wide=True)
    assert headers == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                       "SELECTOR"]
    assert row == ["x", "3", "2", "1", "5m", "a,b", "img:1,img:2", "app=web"]
    _, row = header_and_row("ReplicationController", {"spec": {"selector": {"app": "web"}}},
                            wide=True)
    assert row[1] == "1" and row[-1] == "app=web"


def test_deployments_daemon_sets_stateful_sets() -> None:
    headers, row = header_and_row("Deployment", {
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}})
    assert headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row == ["x", "2/3", "3", "2", "5m"]
    headers, row = header_and_row("DaemonSet", {
        "spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1}})
    assert headers == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                       "NODE SELECTOR", "AGE"]
    assert row == ["x", "2", "2", "1", "2", "1", "disk=ssd", "5m"]
    headers, row = header_and_row("StatefulSet", {"spec": {"replicas": 2},
                                                  "status": {"readyReplicas": 2}})
    assert (headers, row) == (["NAME", "READY", "AGE"], ["x", "2/2", "5m"])


def test_jobs_and_cron_jobs() -> None:
    headers, row = header_and_row("Job", {
        "spec": {"completions": 3},
        "status": {"succeeded": 3, "startTime": now_rfc3339(NOW - 100),
                   "completionTime": now_rfc3339(NOW - 40),
                   "conditions": [{"type": "Complete", "status": "True"}]}})
    assert headers == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row == ["x", "Complete", "3/3", "60s", "5m"]
    _, row = header_and_row("Job", {"spec": {"parallelism": 2},
                                    "status": {"startTime": now_rfc3339(NOW - 10)}})
    assert row[1:4] == ["Running", "0/1 of 2", "10s"]
    headers, row = header_and_row("CronJob", {"spec": {"schedule": "*/1 * * * *",
                                                       "suspend": False}})
    assert headers == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE",
                       "AGE"]
    assert row == ["x", "*/1 * * * *", "<none>", "False", "0", "<none>", "5m"]


def test_services() -> None:
    headers, row = header_and_row("Service", {"spec": {
        "type": "NodePort", "clusterIPs": ["10.96.0.10"],
        "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53,
                                                                       "protocol": "UDP"}]}})
    assert headers == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert row == ["x", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "5m"]
    _, row = header_and_row("Service", {"spec": {"type": "LoadBalancer", "ports": [{"port": 8088}]}})
    assert row[1:5] == ["LoadBalancer", "<none>", "<pending>", "8088/TCP"]
    _, row = header_and_row("Service", {
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}})
    assert row[3] == "1.2.3.4"


def test_endpoints() -> None:
    headers, row = header_and_row("Endpoints", {"subsets": [{
        "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)],
        "ports": [{"port": 80}]}]})
    assert headers == ["NAME", "ENDPOINTS", "AGE"]
    assert row[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."
    _, row = header_and_row("Endpoints", {})
    assert row[1] == "<none>"


def test_events() -> None:
    document = {"metadata": {"name": "web.1"}, "type": "Normal", "reason": "Scheduled",
                "involvedObject": {"kind": "Pod", "name": "web"}, "message": " hi ",
                "firstTimestamp": now_rfc3339(NOW - 90), "lastTimestamp": now_rfc3339(NOW - 30),
                "count": 2, "source": {"component": "default-scheduler"}}
    headers, row = header_and_row("Event", document)
    assert headers == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row == ["30s", "Normal", "Scheduled", "pod/web", "hi"]
    headers, row = header_and_row("Event", document, wide=True)
    assert headers == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE",
                       "FIRST SEEN", "COUNT", "NAME"]
    assert row[-5:] == ["default-scheduler", "hi", "90s", "2", "web.1"]


def test_namespaces_config_maps_leases_revisions_claims() -> None:
    assert header_and_row("Namespace", {"status": {"phase": "Active"}}) == (
        ["NAME", "STATUS", "AGE"], ["x", "Active", "5m"])
    assert header_and_row("ConfigMap", {"data": {"a": "1", "b": "2"}}) == (
        ["NAME", "DATA", "AGE"], ["x", "2", "5m"])
    assert header_and_row("Lease", {"spec": {"holderIdentity": "node-1"}}) == (
        ["NAME", "HOLDER", "AGE"], ["x", "node-1", "5m"])
    revision = {"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                  "name": "agent", "controller": True}]},
                "revision": 2}
    assert header_and_row("ControllerRevision", revision) == (
        ["NAME", "CONTROLLER", "REVISION", "AGE"], ["x", "daemonset.apps/agent", "2", "5m"])
    headers, row = header_and_row("PersistentVolumeClaim", {
        "spec": {"volumeName": "pv-1", "storageClassName": "fast"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                   "accessModes": ["ReadWriteOnce"]}})
    assert headers == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                       "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert row == ["x", "Bound", "pv-1", "1Gi", "RWO", "fast", "<unset>", "5m"]
