"""What a daemon pod looks like: the DaemonSet's template plus the daemon tolerations, the
revision labels, and a required node affinity naming its node.

Daemon pods tolerate the taints a sick or cordoned node gets (not-ready and unreachable for
ever, the pressure taints, unschedulable, and network-unavailable for host-network pods), so a
node's trouble does not take its daemons away. The pod is pinned to its node by
``matchFields metadata.name In [node]`` and placed by the default scheduler.
"""

from __future__ import annotations

from kemu.v1 import apps_pb2, core_pb2

CONTROLLER_REVISION_HASH = "controller-revision-hash"
# Deprecated, kept for compatibility as Kubernetes does.
POD_TEMPLATE_GENERATION = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

_ALWAYS: tuple[tuple[str, str], ...] = (
    (TAINT_NOT_READY, "NoExecute"),
    (TAINT_UNREACHABLE, "NoExecute"),
    (TAINT_DISK_PRESSURE, "NoSchedule"),
    (TAINT_MEMORY_PRESSURE, "NoSchedule"),
    (TAINT_PID_PRESSURE, "NoSchedule"),
    (TAINT_UNSCHEDULABLE, "NoSchedule"),
)


def _same_toleration(a: core_pb2.Toleration, b: core_pb2.Toleration) -> bool:
    """Kubernetes' ``MatchToleration``: same key, operator, value and effect."""
    return (a.key, a.operator, a.value, a.effect) == (b.key, b.operator, b.value, b.effect)


def add_or_update_toleration(spec: core_pb2.PodSpec, toleration: core_pb2.Toleration) -> bool:
    """Add ``toleration``, replacing one that matches it (e.g. with tolerationSeconds)."""
    replaced = False
    kept: list[core_pb2.Toleration] = []
    for existing in spec.tolerations:
        if _same_toleration(existing, toleration):
            if existing == toleration:
                return False
            kept.append(toleration)
            replaced = True
        else:
            kept.append(existing)
    if not replaced:
        kept.append(toleration)
    del spec.tolerations[:]
    spec.tolerations.extend(kept)
    return True


def add_daemon_tolerations(spec: core_pb2.PodSpec) -> None:
    for key, effect in _ALWAYS:
        add_or_update_toleration(spec, core_pb2.Toleration(key=key, operator="Exists",
                                                           effect=effect))
    if spec.host_network:
        add_or_update_toleration(spec, core_pb2.Toleration(
            key=TAINT_NETWORK_UNAVAILABLE, operator="Exists", effect="NoSchedule"))


def template_generation(ds: apps_pb2.DaemonSet) -> int | None:
    """The deprecated template generation the API server keeps in an annotation, if any."""
    raw = ds.metadata.annotations.get(TEMPLATE_GENERATION_ANNOTATION)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def create_pod_template(template: core_pb2.PodTemplateSpec, generation: int | None,
                        revision_hash: str) -> core_pb2.PodTemplateSpec:
    """A copy of ``template`` with the daemon tolerations and the revision labels."""
    out = core_pb2.PodTemplateSpec()
    out.CopyFrom(template)
    add_daemon_tolerations(out.spec)
    if generation is not None:
        out.metadata.labels[POD_TEMPLATE_GENERATION] = str(generation)
    if revision_hash:
        out.metadata.labels[CONTROLLER_REVISION_HASH] = revision_hash
    return out


def replace_node_name_affinity(spec: core_pb2.PodSpec, node_name: str) -> None:
    """Make the required node affinity exactly ``matchFields metadata.name In [node_name]``.

    Any other required terms are replaced (the controller has already checked them); the
    preferred terms and pod (anti-)affinity stay.
    """
    required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    del required.node_selector_terms[:]
    term = required.node_selector_terms.add()
    term.match_fields.add(key="metadata.name", operator="In", values=[node_name])


def target_node_name(pod: core_pb2.Pod) -> str | None:
    """The node a daemon pod is bound to, or is pinned to by its node affinity."""
    if pod.spec.node_name:
        return pod.spec.node_name
    spec = pod.spec
    if not (spec.HasField("affinity") and spec.affinity.HasField("node_affinity") and
            spec.affinity.node_affinity.HasField(
                "required_during_scheduling_ignored_during_execution")):
        return None
    required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    for term in required.node_selector_terms:
        for requirement in term.match_fields:
            if requirement.key == "metadata.name" and requirement.operator == "In":
                if len(requirement.values) != 1:
                    return None
                return str(requirement.values[0])
    return None


def is_pod_updated(pod: core_pb2.Pod, revision_hash: str, generation: int | None) -> bool:
    """The pod runs the current template: its hash label (or deprecated generation) matches."""
    labels = pod.metadata.labels
    if generation is not None and labels.get(POD_TEMPLATE_GENERATION) == str(generation):
        return True
    return bool(revision_hash) and labels.get(CONTROLLER_REVISION_HASH) == revision_hash
