"""``kemuctl cordon``, ``uncordon``, ``taint`` and ``drain`` on nodes created through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.cli.conftest import Api, Kemuctl, owner_reference

pytestmark = pytest.mark.integration

TEMPLATE = {"metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def make_node(api: Api, name: str) -> Any:
    node = api.create("Node", {"metadata": {"name": name}})
    api.set_status("Node", name, "", {"conditions": [{"type": "Ready", "status": "True"}]})
    return node


def pod_on(api: Api, namespace: str, node: str, name: str, *, owner: Any = None,
           owner_kind: str = "", phase: str = "Running", empty_dir: bool = False) -> None:
    document: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}}
    if owner is not None:
        document["metadata"]["ownerReferences"] = [owner_reference(owner, owner_kind, "apps/v1")]
    if empty_dir:
        document["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    api.create("Pod", document)
    api.set_status("Pod", name, namespace, {"phase": phase})


def test_cordon_and_uncordon(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    name = f"n-{namespace}"
    make_node(api, name)
    assert kemuctl("cordon", name).lines == [f"node/{name} cordoned"]
    assert kemuctl("cordon", name).lines == [f"node/{name} already cordoned"]
    assert kemuctl("get", "nodes", name).rows()[0][1] == "Ready,SchedulingDisabled"
    assert kemuctl("uncordon", f"node/{name}").lines == [f"node/{name} uncordoned"]
    assert kemuctl("uncordon", name).lines == [f"node/{name} already uncordoned"]
    assert not api.get("Node", name).spec.unschedulable
    missing = kemuctl("cordon", "no-such-node")
    assert missing.stderr.strip() == 'Error from server (NotFound): nodes "no-such-node" not found'


def test_taint(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    name = f"n-{namespace}"
    make_node(api, name)
    assert kemuctl("taint", "nodes", name, "dedicated=gpu:NoSchedule").lines == [
        f"node/{name} tainted"]
    clash = kemuctl("taint", "nodes", name, "dedicated=cpu:NoSchedule")
    assert clash.exit_code == 1
    assert clash.stderr.strip() == (f"error: node {name} already has dedicated taint(s) with "
                                    "same effect(s) and --overwrite is false")
    assert kemuctl("taint", "node", name, "dedicated=cpu:NoSchedule", "--overwrite").lines == [
        f"node/{name} modified"]
    assert kemuctl("taint", f"no/{name}", "spot:NoExecute").lines == [f"node/{name} tainted"]
    taints = {(t.key, t.value, t.effect) for t in api.get("Node", name).spec.taints}
    assert taints == {("dedicated", "cpu", "NoSchedule"), ("spot", "", "NoExecute")}
    # describe orders taints by effect, then key, as kubectl does.
    assert kemuctl("describe", "node", name).lines[5:7] == [
        "Taints:             spot:NoExecute", "                    dedicated=cpu:NoSchedule"]
    assert kemuctl("taint", "nodes", name, "dedicated-").lines == [f"node/{name} untainted"]
    absent = kemuctl("taint", "nodes", name, "dedicated:NoSchedule-")
    assert absent.stderr.strip() == 'error: taint "dedicated:NoSchedule" not found'
    wrong = kemuctl("taint", "pods", "x", "a=b:NoSchedule")
    assert wrong.stderr.strip() == "error: invalid resource type pods, only node types are " \
        "supported"
    effect = kemuctl("taint", "nodes", name, "a=b:Sometimes")
    assert effect.stderr.strip() == "error: invalid taint effect: Sometimes, unsupported taint " \
        "effect"


def test_drain(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    name = f"n-{namespace}"
    make_node(api, name)
    rs = api.create("ReplicaSet", {"metadata": {"name": "web", "namespace": namespace},
                                   "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                            "template": TEMPLATE}})
    ds = api.create("DaemonSet", {"metadata": {"name": "agent", "namespace": namespace},
                                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                           "template": TEMPLATE}})
    pod_on(api, namespace, name, "web-1", owner=rs, owner_kind="ReplicaSet")
    pod_on(api, namespace, name, "agent-1", owner=ds, owner_kind="DaemonSet")
    pod_on(api, namespace, name, "bare")
    pod_on(api, namespace, name, "scratch", owner=rs, owner_kind="ReplicaSet", empty_dir=True)
    pod_on(api, namespace, name, "done", phase="Succeeded")

    refused = kemuctl("drain", name)
    assert refused.exit_code == 1
    assert refused.lines == [f"node/{name} cordoned"]
    problems = (f"[cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                f"{namespace}/agent-1, cannot delete cannot delete Pods that declare no "
                f"controller (use --force to override): {namespace}/bare, cannot delete Pods "
                f"with local storage (use --delete-emptydir-data to override): "
                f"{namespace}/scratch]")
    assert refused.stderr.splitlines() == [
        f'error: unable to drain node "{name}" due to error: {problems}, continuing command...',
        "There are pending nodes to be drained:", f" {name}", problems]
    assert api.exists("Pod", "web-1", namespace)

    stuck = kemuctl("drain", name, "--ignore-daemonsets", "--force", "--delete-emptydir-data",
                    "--grace-period=30", "--timeout=1s")
    assert stuck.exit_code == 1
    assert "global timeout reached: 1s" in stuck.stderr
    # A finished pod needs no kubelet to go: it was removed at once.
    assert "pod/done evicted" in stuck.lines
    assert not api.exists("Pod", "done", namespace)

    drained = kemuctl("drain", name, "--ignore-daemonsets", "--force", "--delete-emptydir-data",
                      "--grace-period=0")
    assert drained.exit_code == 0, drained.stderr
    lines = drained.lines
    assert lines[0] == f"node/{name} already cordoned"
    evictions = [f"evicting pod {namespace}/{p}" for p in ("bare", "scratch", "web-1")]
    assert lines[1:4] == evictions
    assert sorted(lines[4:7]) == ["pod/bare evicted", "pod/scratch evicted", "pod/web-1 evicted"]
    assert lines[7:] == [f"node/{name} drained"]
    assert drained.stderr.strip() == (f"Warning: ignoring DaemonSet-managed Pods: "
                                      f"{namespace}/agent-1; deleting Pods that declare no "
                                      f"controller: {namespace}/bare")
    remaining = kemuctl("get", "pods", "-n", namespace, "-o", "name")
    assert remaining.lines == ["pod/agent-1"]
    assert api.get("Node", name).spec.unschedulable
