"""``kemuctl get`` tables and output formats on objects created through the API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml

from kemu.api.meta import now_rfc3339
from tests.integration.cli.conftest import Api, Kemuctl, owner_reference

pytestmark = pytest.mark.integration


def replica_set(api: Api, namespace: str, name: str = "whoami-web") -> Any:
    return api.create("ReplicaSet", {
        "metadata": {"name": name, "namespace": namespace, "labels": {"kiamol": "ch06"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web",
                                                       "image": "kiamol/ch02-whoami"}]}}}})


def owned_pod(api: Api, namespace: str, owner: Any, name: str, status: dict[str, Any]) -> Any:
    api.create("Pod", {
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app": owner.metadata.name},
                     "ownerReferences": [owner_reference(owner, "ReplicaSet", "apps/v1")]},
        "spec": {"containers": [{"name": "web", "image": "kiamol/ch02-whoami"}]}})
    return api.set_status("Pod", name, namespace, status)


def ready(ip: str) -> dict[str, Any]:
    return {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": True,
                                   "state": {"running": {"startedAt": now_rfc3339()}}}]}


@pytest.fixture
def pods(api: Api, namespace: str) -> Any:
    rs = replica_set(api, namespace)
    owned_pod(api, namespace, rs, "whoami-web-a", ready("10.1.0.1"))
    owned_pod(api, namespace, rs, "whoami-web-b", {
        "phase": "Pending",
        "containerStatuses": [{"name": "web", "state": {"waiting": {"reason":
                                                                    "ContainerCreating"}}}]})
    owned_pod(api, namespace, rs, "whoami-web-c", {
        "phase": "Running",
        "containerStatuses": [{"name": "web", "restartCount": 4,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                               "lastState": {"terminated": {
                                   "exitCode": 1, "reason": "Error",
                                   "finishedAt": now_rfc3339(time.time() - 30)}}}]})
    api.set_status("ReplicaSet", "whoami-web", namespace, {"replicas": 3, "readyReplicas": 1})
    return rs


def test_pod_table_columns(kemuctl: Kemuctl, namespace: str, pods: Any) -> None:
    result = kemuctl("get", "pods", "-n", namespace)
    assert result.exit_code == 0, result.stderr
    assert result.lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert result.lines[0].startswith("NAME           READY   STATUS              RESTARTS")
    rows = result.rows()
    assert [r[:4] for r in rows] == [["whoami-web-a", "1/1", "Running", "0"],
                                     ["whoami-web-b", "0/1", "ContainerCreating", "0"],
                                     ["whoami-web-c", "0/1", "CrashLoopBackOff", "4"]]
    assert rows[2][4] in ("(30s", "(31s", "(32s", "(33s") and rows[2][5] == "ago)"
    wide = kemuctl("get", "po", "-o", "wide", "-n", namespace)
    assert wide.lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                                     "NOMINATED", "NODE", "READINESS", "GATES"]
    assert wide.rows()[0][-4:] == ["10.1.0.1", "<none>", "<none>", "<none>"]


def test_kiamol_custom_columns_query(kemuctl: Kemuctl, namespace: str, pods: Any) -> None:
    result = kemuctl("get", "po", "-l", "app=whoami-web", "-n", namespace, "-o",
                     "custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].name,"
                     "OWNER_KIND:.metadata.ownerReferences[0].kind")
    assert result.exit_code == 0, result.stderr
    assert result.lines == ["NAME           OWNER        OWNER_KIND",
                            "whoami-web-a   whoami-web   ReplicaSet",
                            "whoami-web-b   whoami-web   ReplicaSet",
                            "whoami-web-c   whoami-web   ReplicaSet"]


def test_jsonpath_name_and_documents(kemuctl: Kemuctl, namespace: str, pods: Any) -> None:
    names = kemuctl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}")
    assert names.stdout == "whoami-web-a whoami-web-b whoami-web-c"
    ranged = kemuctl("get", "pods", "-n", namespace, "-o",
                     'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}'
                     "{end}")
    assert ranged.stdout == "whoami-web-a\tRunning\nwhoami-web-b\tPending\nwhoami-web-c\tRunning\n"
    ip = kemuctl("get", "pod", "whoami-web-a", "-n", namespace, "-o", "jsonpath={.status.podIP}")
    assert ip.stdout == "10.1.0.1"
    assert kemuctl("get", "pods", "-n", namespace, "-o", "name").lines == [
        "pod/whoami-web-a", "pod/whoami-web-b", "pod/whoami-web-c"]
    single = json.loads(kemuctl("get", "pod/whoami-web-a", "-n", namespace, "-o", "json").stdout)
    assert (single["kind"], single["metadata"]["name"]) == ("Pod", "whoami-web-a")
    listed = yaml.safe_load(kemuctl("get", "pods", "whoami-web-a", "whoami-web-b", "-n",
                                    namespace, "-o", "yaml").stdout)
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["whoami-web-a", "whoami-web-b"]
    broken = kemuctl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[7].metadata.name}")
    assert broken.exit_code == 1
    assert "array index out of bounds: index 7, length 3" in broken.stderr


def test_several_kinds_labels_and_sorting(kemuctl: Kemuctl, namespace: str, api: Api,
                                          pods: Any) -> None:
    api.create("Service", {"metadata": {"name": "whoami-web", "namespace": namespace},
                           "spec": {"type": "LoadBalancer", "selector": {"app": "whoami-web"},
                                    "ports": [{"port": 8088, "targetPort": 80}]}})
    both = kemuctl("get", "rs,svc", "-n", namespace)
    assert both.exit_code == 0, both.stderr
    blank = both.lines.index("")
    assert both.lines[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert both.lines[1].split()[:4] == ["replicaset.apps/whoami-web", "3", "3", "1"]
    assert both.lines[blank + 1].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP",
                                             "PORT(S)", "AGE"]
    assert both.lines[blank + 2].split()[:5] == ["service/whoami-web", "LoadBalancer", "<none>",
                                                 "<pending>", "8088/TCP"]
    labels = kemuctl("get", "rs", "-n", namespace, "--show-labels", "-L", "kiamol")
    assert labels.lines[0].split()[-2:] == ["KIAMOL", "LABELS"]
    assert labels.rows()[0][-2:] == ["ch06", "kiamol=ch06"]
    ordered = kemuctl("get", "pods", "-n", namespace, "--sort-by=.status.phase", "-o", "name")
    assert ordered.lines == ["pod/whoami-web-b", "pod/whoami-web-a", "pod/whoami-web-c"]
    selected = kemuctl("get", "pods", "-n", namespace, "--field-selector", "status.phase=Pending",
                       "--no-headers")
    assert [r[0] for r in (line.split() for line in selected.lines)] == ["whoami-web-b"]


def test_all_namespaces_adds_the_namespace_column(kemuctl: Kemuctl, namespace: str,
                                                  pods: Any) -> None:
    result = kemuctl("get", "rs", "-A")
    assert result.lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [namespace, "whoami-web"] in [r[:2] for r in result.rows()]
    namespaces = kemuctl("get", "ns", namespace)
    assert namespaces.lines[0].split() == ["NAME", "STATUS", "AGE"]


def test_empty_and_missing(kemuctl: Kemuctl, namespace: str) -> None:
    empty = kemuctl("get", "deploy", "-n", namespace)
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr.strip() == f"No resources found in {namespace} namespace."
    missing = kemuctl("get", "pod", "nope", "-n", namespace)
    assert missing.exit_code == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    assert kemuctl("get", "pod", "nope", "-n", namespace, "--ignore-not-found").exit_code == 0
    unknown = kemuctl("get", "widgets")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == 'error: the server doesn\'t have a resource type "widgets"'
    bad_format = kemuctl("get", "pods", "-o", "table")
    assert bad_format.exit_code == 1
    assert bad_format.stderr.startswith('error: unable to match a printer suitable for the output '
                                        'format "table"')


def test_events_table(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    for index, reason in enumerate(("Scheduled", "Pulled")):
        api.create("Event", {
            "metadata": {"name": f"web.{index}", "namespace": namespace},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": namespace},
            "reason": reason, "message": f"{reason} it", "type": "Normal", "count": 1,
            "firstTimestamp": now_rfc3339(), "lastTimestamp": now_rfc3339(),
            "source": {"component": "kubelet"}})
    result = kemuctl("get", "events", "-n", namespace)
    assert result.lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [r[1:] for r in result.rows()] == [["Normal", "Scheduled", "pod/web", "Scheduled", "it"],
                                              ["Normal", "Pulled", "pod/web", "Pulled", "it"]]
