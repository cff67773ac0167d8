"""Which nodes a DaemonSet's pod belongs on (Kubernetes' ``NodeShouldRunDaemonPod``).

A DaemonSet is judged as the pod it would create: its template with the node's name filled in
and the daemon tolerations added. The template's ``nodeName`` pins it to one node; its
``nodeSelector`` and required node affinity must match the node's labels (and ``metadata.name``
for ``matchFields``); and every NoSchedule or NoExecute taint must be tolerated. A node whose
only untolerated taints are NoSchedule keeps the pods it already has (``should_continue``) but
gets no new one; an untolerated NoExecute taint evicts them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.controllers.daemonset.template import add_daemon_tolerations
from kemu.api.taints import first_untolerated
from kemu.v1 import apps_pb2, core_pb2

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
OBJECT_NAME_FIELD = "metadata.name"


@dataclass(frozen=True)
class Eligibility:
    """``should_run``: a pod should be created here if there is none.
    ``should_continue``: a pod already here may stay."""

    should_run: bool
    should_continue: bool


NOT_ELIGIBLE = Eligibility(False, False)
ELIGIBLE = Eligibility(True, True)


# -- taints and tolerations ---------------------------------------------------------------
# -- node selectors and affinity -----------------------------------------------------------
def _requirement_matches(requirement: core_pb2.NodeSelectorRequirement,
                         values: Mapping[str, str]) -> bool:
    """One matchExpressions/matchFields requirement against labels (or fields)."""
    op, key, wanted = requirement.operator, requirement.key, list(requirement.values)
    if op == "In":
        return key in values and values[key] in wanted
    if op == "NotIn":
        return key not in values or values[key] not in wanted
    if op == "Exists":
        return key in values
    if op == "DoesNotExist":
        return key not in values
    if op in ("Gt", "Lt"):
        if key not in values or len(wanted) != 1:
            return False
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False  # an unknown operator is a term that cannot match


def _field_requirement_matches(requirement: core_pb2.NodeSelectorRequirement,
                               fields: Mapping[str, str]) -> bool:
    # Only metadata.name with In/NotIn (one value) is a valid node field selector.
    if requirement.key != OBJECT_NAME_FIELD or requirement.operator not in ("In", "NotIn") \
            or len(requirement.values) != 1:
        return False
    return _requirement_matches(requirement, fields)


def term_matches(term: core_pb2.NodeSelectorTerm, node: core_pb2.Node) -> bool:
    """A term ANDs its expressions and fields; an empty term matches no node."""
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.metadata.labels
    fields = {OBJECT_NAME_FIELD: node.metadata.name}
    return all(_requirement_matches(r, labels) for r in term.match_expressions) and \
        all(_field_requirement_matches(r, fields) for r in term.match_fields)


def node_selector_matches(selector: core_pb2.NodeSelector, node: core_pb2.Node) -> bool:
    """Terms are ORed; a selector without terms matches no node."""
    return any(term_matches(term, node) for term in selector.node_selector_terms)


def required_affinity_matches(spec: core_pb2.PodSpec, node: core_pb2.Node) -> bool:
    """The pod's ``nodeSelector`` and required node affinity both allow ``node``."""
    labels = node.metadata.labels
    for key, value in spec.node_selector.items():
        if labels.get(key) != value:
            return False
    if spec.HasField("affinity") and spec.affinity.HasField("node_affinity"):
        affinity = spec.affinity.node_affinity
        if affinity.HasField("required_during_scheduling_ignored_during_execution"):
            return node_selector_matches(
                affinity.required_during_scheduling_ignored_during_execution, node)
    return True


# -- the DaemonSet question ----------------------------------------------------------------
def simulated_pod_spec(ds: apps_pb2.DaemonSet) -> core_pb2.PodSpec:
    """The spec of the pod ``ds`` would create (without the node), daemon tolerations added."""
    spec = core_pb2.PodSpec()
    spec.CopyFrom(ds.spec.template.spec)
    add_daemon_tolerations(spec)
    return spec


def node_should_run(node: core_pb2.Node, ds: apps_pb2.DaemonSet,
                    spec: core_pb2.PodSpec | None = None) -> Eligibility:
    """Whether ``ds`` should run (and keep running) a pod on ``node``.

    ``spec`` is ``simulated_pod_spec(ds)`` when the caller has it cached.
    """
    pod_spec = spec if spec is not None else simulated_pod_spec(ds)
    if pod_spec.node_name and pod_spec.node_name != node.metadata.name:
        return NOT_ELIGIBLE
    if not required_affinity_matches(pod_spec, node):
        return NOT_ELIGIBLE
    taints = node.spec.taints
    tolerations = pod_spec.tolerations
    if first_untolerated(taints, tolerations, (NO_SCHEDULE, NO_EXECUTE)) is None:
        return ELIGIBLE
    evicting = first_untolerated(taints, tolerations, (NO_EXECUTE,))
    return Eligibility(False, evicting is None)
