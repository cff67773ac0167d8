"""The default Filter plugins, in kube-scheduler's order. Each says why a node cannot take the pod,
in Kubernetes' words, or returns None when it can. A node is rejected by the first filter that
fails, so only that filter's reasons are counted for it."""

from __future__ import annotations

from collections.abc import Callable

from controlplane.scheduler.cache import NodeInfo
from controlplane.scheduler.framework import PodContext, Status, unresolvable, unschedulable
from kemu.api import taints
from kemu.v1 import core_pb2

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_AFFINITY_CONFLICT = "pod affinity terms conflict"
REASON_SPREAD = "node(s) didn't match pod topology spread constraints"
REASON_SPREAD_LABEL = REASON_SPREAD + " (missing required label)"

_CORDON = core_pb2.Taint(key=taints.UNSCHEDULABLE_TAINT, effect=taints.NO_SCHEDULE)


def _untolerated_taint_reason(taint_key: str, taint_value: str) -> str:
    return f"node(s) had untolerated taint {{{taint_key}: {taint_value}}}"


def node_unschedulable(ctx: PodContext, info: NodeInfo) -> Status | None:
    """A cordoned node takes only pods that tolerate node.kubernetes.io/unschedulable:NoSchedule."""
    assert info.node is not None
    if not info.node.spec.unschedulable or taints.tolerated(ctx.tolerations, _CORDON):
        return None
    return unresolvable("NodeUnschedulable", REASON_UNSCHEDULABLE)


def taint_toleration(ctx: PodContext, info: NodeInfo) -> Status | None:
    """NoSchedule and NoExecute taints must be tolerated; PreferNoSchedule only scores."""
    assert info.node is not None
    taint = taints.first_untolerated(info.node.spec.taints, ctx.tolerations,
                                     (taints.NO_SCHEDULE, taints.NO_EXECUTE))
    if taint is None:
        return None
    return unresolvable("TaintToleration", _untolerated_taint_reason(taint.key, taint.value))


def node_affinity(ctx: PodContext, info: NodeInfo) -> Status | None:
    assert info.node is not None
    if ctx.required.is_empty() or ctx.required.matches(info.node, info.labels):
        return None
    return unresolvable("NodeAffinity", REASON_AFFINITY)


def node_ports(ctx: PodContext, info: NodeInfo) -> Status | None:
    for ip, protocol, port in ctx.ports:
        if info.port_conflict(ip, protocol, port):
            return unschedulable("NodePorts", REASON_PORTS)
    return None


def node_resources_fit(ctx: PodContext, info: NodeInfo) -> Status | None:
    """Requests against allocatable minus what the node's pods (assumed ones too) request."""
    reasons: list[str] = []
    allocatable, used, wanted = info.allocatable, info.requested, ctx.requests
    if len(info.pods) + 1 > allocatable.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    if wanted.is_zero():
        return unschedulable("NodeResourcesFit", *reasons) if reasons else None
    if wanted.milli_cpu > 0 and wanted.milli_cpu > allocatable.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if wanted.memory > 0 and wanted.memory > allocatable.memory - used.memory:
        reasons.append("Insufficient memory")
    if wanted.ephemeral_storage > 0 and \
            wanted.ephemeral_storage > allocatable.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, quantity in sorted(wanted.scalar.items()):
        if quantity > 0 and quantity > allocatable.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return unschedulable("NodeResourcesFit", *reasons) if reasons else None


def pod_topology_spread(ctx: PodContext, info: NodeInfo) -> Status | None:
    """DoNotSchedule constraints: matching pods in the node's domain, plus the pod itself if it
    matches, minus the fewest in any domain, may not exceed maxSkew."""
    state = ctx.spread_filter
    if state is None or not state.constraints:
        return None
    for i, constraint in enumerate(state.constraints):
        value = info.labels.get(constraint.topology_key)
        if value is None:
            return unresolvable("PodTopologySpread", REASON_SPREAD_LABEL)
        own = 1 if constraint.selector.matches(ctx.pod.metadata.labels) else 0
        skew = state.match_num[i].get(value, 0) + own - state.min_match(i)
        if skew > constraint.max_skew:
            return unschedulable("PodTopologySpread", REASON_SPREAD)
    return None


Filter = Callable[[PodContext, NodeInfo], "Status | None"]

FILTERS: tuple[Filter, ...] = (node_unschedulable, taint_toleration, node_affinity, node_ports,
                               node_resources_fit, pod_topology_spread)


def run_filters(ctx: PodContext, info: NodeInfo) -> Status | None:
    for check in FILTERS:
        status = check(ctx, info)
        if status is not None:
            return status
    return None


def pre_filter(ctx: PodContext) -> tuple[set[str] | None, Status | None]:
    """NodeAffinity's PreFilter: the node names ``metadata.name In`` pins the pod to, if any."""
    names = ctx.required.pinned_names()
    if names is not None and not names:
        return None, unresolvable("NodeAffinity", REASON_AFFINITY_CONFLICT)
    return names, None
