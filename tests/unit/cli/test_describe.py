"""Describe layouts: field order, alignment blocks, tables and the Events section."""

from __future__ import annotations

from typing import Any

import pytest

from kemu.api import codec
from kemu.api.meta import now_rfc3339
from kemu.v1 import coordination_pb2, core_pb2
from kemuctl.describe.nodes import describe_node
from kemuctl.describe.pods import describe_pod, qos_class
from kemuctl.gojson import marshal, to_yaml

pytestmark = pytest.mark.unit

NOW = 3_000_000.0


def pod(resources: dict[str, Any] | None = None) -> core_pb2.Pod:
    container: dict[str, Any] = {"name": "web", "image": "nginx",
                                 "ports": [{"containerPort": 80, "protocol": "TCP"}]}
    if resources:
        container["resources"] = resources
    return codec.decode(core_pb2.Pod, {
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "b": "2"},
                     "creationTimestamp": now_rfc3339(NOW - 600),
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web-rs",
                                          "controller": True}]},
        "spec": {"nodeName": "node-1", "containers": [container],
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "hostIP": "192.168.0.2", "podIP": "10.1.0.4",
                   "podIPs": [{"ip": "10.1.0.4"}],
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0,
                                          "containerID": "kemu://abc",
                                          "state": {"running": {"startedAt":
                                                                now_rfc3339(NOW - 590)}}}]}})


def event(reason: str, age: float, count: int = 1) -> core_pb2.Event:
    return codec.decode(core_pb2.Event, {
        "metadata": {"name": reason}, "type": "Normal", "reason": reason,
        "message": f"{reason} happened", "count": count,
        "firstTimestamp": now_rfc3339(NOW - age - 60), "lastTimestamp": now_rfc3339(NOW - age),
        "source": {"component": "kubelet"}})


def test_pod_describe() -> None:
    text = describe_pod(pod(), [event("Started", 5), event("Pulled", 30, count=3)], NOW)
    lines = text.splitlines()
    assert lines[:5] == ["Name:         web", "Namespace:    default",
                         "Node:         node-1/192.168.0.2", "Labels:       app=web",
                         "              b=2"]
    # "IPs:" has no tab, so the next lines start a new alignment block, as in kubectl.
    assert lines[8:11] == ["IPs:", "  IP:           10.1.0.4", "Controlled By:  ReplicaSet/web-rs"]
    assert "    Port:           80/TCP" in lines
    assert "    Host Port:      0/TCP" in lines
    assert "  Ready          True " in lines
    assert "Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s" in lines
    events = lines[lines.index("Events:"):]
    assert events[1:] == [
        "  Type    Reason   Age                From     Message",
        "  ----    ------   ----               ----     -------",
        "  Normal  Pulled   30s (x3 over 90s)  kubelet  Pulled happened",
        "  Normal  Started  65s                kubelet  Started happened"]


def test_pod_without_events_section_and_no_events() -> None:
    assert "Events:" not in describe_pod(pod(), None, NOW)
    assert describe_pod(pod(), [], NOW).splitlines()[-1].startswith("Events:")
    assert describe_pod(pod(), [], NOW).splitlines()[-1].endswith("<none>")


def test_qos_classes() -> None:
    assert qos_class(pod()) == "BestEffort"
    assert qos_class(pod({"requests": {"cpu": "100m"}})) == "Burstable"
    both = {"cpu": "1", "memory": "1Gi"}
    assert qos_class(pod({"requests": both, "limits": both})) == "Guaranteed"


def test_node_describe() -> None:
    node = codec.decode(core_pb2.Node, {
        "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/worker": ""},
                     "creationTimestamp": now_rfc3339(NOW - 3600)},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                 "podCIDR": "10.244.1.0/24"},
        "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status",
                                   "lastHeartbeatTime": now_rfc3339(NOW),
                                   "lastTransitionTime": now_rfc3339(NOW)}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
                   "nodeInfo": {"kubeletVersion": "v1.32.0"}}})
    lease = coordination_pb2.Lease()
    lease.spec.holder_identity = "node-1"
    pods = [pod({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1"}})]
    lines = describe_node(node, pods, lease, "", [], NOW).splitlines()
    assert lines[:2] == ["Name:               node-1", "Roles:              worker"]
    assert "Taints:             dedicated=gpu:NoSchedule" in lines
    assert "Unschedulable:      false" in lines
    assert lines[lines.index("Lease:") + 1] == "  HolderIdentity:  node-1"
    assert "PodCIDR:                      10.244.1.0/24" in lines
    assert "Non-terminated Pods:          (1 in total)" in lines
    pod_row = next(line for line in lines if line.startswith("  default"))
    assert pod_row.split() == ["default", "web", "500m", "(25%)", "1", "(50%)", "1Gi", "(25%)",
                               "0", "(0%)", "10m"]
    allocated = lines[lines.index("  (Total limits may be over 100 percent, i.e., "
                                  "overcommitted.)") + 1:][:5]
    assert [line.split() for line in allocated] == [
        ["Resource", "Requests", "Limits"], ["--------", "--------", "------"],
        ["cpu", "500m", "(25%)", "1", "(50%)"], ["memory", "1Gi", "(25%)", "0", "(0%)"],
        ["ephemeral-storage", "0", "(0%)", "0", "(0%)"]]
    assert lines[-1].startswith("Events:")


def test_go_json_and_yaml() -> None:
    assert marshal({"b": "<&>", "a": 1}) == '{"a":1,"b":"\\u003c\\u0026\\u003e"}'
    assert to_yaml({"b": ["x"], "a": "", "c": "yes", "d": "a\nb\n"}) == \
        'a: ""\nb:\n- x\nc: "yes"\nd: |\n  a\n  b\n'
