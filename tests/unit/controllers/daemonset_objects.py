"""Plain objects for the DaemonSet unit tests: nodes, DaemonSets from YAML-shaped dicts, pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kemu.api import codec
from kemu.api.meta import now_rfc3339
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, core_pb2

MANIFESTS = Path("/work/shared/manifests")


def node(name: str, labels: dict[str, str] | None = None,
         taints: list[tuple[str, str, str]] | None = None) -> core_pb2.Node:
    """``taints``: (key, value, effect)."""
    out = core_pb2.Node()
    out.metadata.name = name
    out.metadata.labels.update(labels or {})
    for key, value, effect in taints or []:
        out.spec.taints.add(key=key, value=value, effect=effect)
    return out


def daemonset(spec: dict[str, Any] | None = None, name: str = "ds",
              template_spec: dict[str, Any] | None = None) -> apps_pb2.DaemonSet:
    document: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                  **(template_spec or {})}},
            **(spec or {}),
        },
    }
    return codec.decode(apps_pb2.DaemonSet, document)


def manifest(relative: str) -> Any:
    [loaded] = load_paths([str(MANIFESTS / relative)])
    return loaded.obj


def pod(name: str, node_name: str = "", *, revision_hash: str = "", phase: str = "Running",
        ready: bool = False, ready_since: float | None = None, created: float = 0.0,
        deleting: bool = False, target: str = "") -> core_pb2.Pod:
    out = core_pb2.Pod()
    out.metadata.name = name
    out.metadata.namespace = "default"
    out.metadata.creation_timestamp = now_rfc3339(created or 1_000_000.0)
    if revision_hash:
        out.metadata.labels["controller-revision-hash"] = revision_hash
    if deleting:
        out.metadata.deletion_timestamp = now_rfc3339()
    out.spec.node_name = node_name
    if target:
        term = out.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
            .node_selector_terms.add()
        term.match_fields.add(key="metadata.name", operator="In", values=[target])
    out.status.phase = phase
    if ready or ready_since is not None:
        out.status.conditions.add(type="Ready", status="True",
                                  last_transition_time=now_rfc3339(ready_since or 1_000_000.0))
    return out
