"""What a pod says about where it may run: tolerations, node and pod affinity, topology spread.

Taint effects are shared with Node validation.
"""

from __future__ import annotations

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.selectors import validate_label_selector
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import (
    dns1123_label_problems,
    dns1123_subdomain_problems,
    label_value_problems,
    qualified_name_problems,
)
from kemu.v1 import core_pb2

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
WHEN_UNSATISFIABLE = ("DoNotSchedule", "ScheduleAnyway")


def taint_effect(effect: str, path: str, allow_empty: bool) -> list[FieldError]:
    if not effect:
        return [] if allow_empty else [errors.required(path)]
    if effect in TAINT_EFFECTS:
        return []
    return [errors.unsupported(path, effect, TAINT_EFFECTS)]


def validate_tolerations(tolerations: list[core_pb2.Toleration], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for i, toleration in enumerate(tolerations):
        item = f"{path}[{i}]"
        if toleration.key:
            found.extend(common.qualified_name(f"{item}.key", toleration.key))
        if not toleration.key and toleration.operator != "Exists":
            found.append(errors.invalid(
                f"{item}.operator", toleration.operator,
                "operator must be Exists when `key` is empty, which means \"match all values "
                "and all keys\""))
        if toleration.HasField("toleration_seconds") and toleration.effect != "NoExecute":
            found.append(errors.invalid(f"{item}.effect", toleration.effect,
                                        "effect must be 'NoExecute' when `tolerationSeconds` is "
                                        "set"))
        if toleration.operator in ("Equal", ""):
            problems = label_value_problems(toleration.value)
            if problems:
                found.append(errors.invalid(f"{item}.operator", toleration.value,
                                            ";".join(problems)))
        elif toleration.operator == "Exists":
            if toleration.value:
                found.append(errors.invalid(f"{item}.operator", toleration.value,
                                            "value must be empty when `operator` is 'Exists'"))
        else:
            found.append(errors.unsupported(f"{item}.operator", toleration.operator,
                                            ("Equal", "Exists")))
        found.extend(taint_effect(toleration.effect, f"{item}.effect", allow_empty=True))
    return found


def _node_selector_requirement(req: core_pb2.NodeSelectorRequirement, path: str,
                               check_values: bool) -> list[FieldError]:
    found: list[FieldError] = []
    if req.operator in ("In", "NotIn"):
        if not req.values:
            found.append(errors.required(f"{path}.values", "must be specified when `operator` "
                                                           "is 'In' or 'NotIn'"))
    elif req.operator in ("Exists", "DoesNotExist"):
        if req.values:
            found.append(errors.forbidden(f"{path}.values", "may not be specified when "
                                          "`operator` is 'Exists' or 'DoesNotExist'"))
    elif req.operator in ("Gt", "Lt"):
        if len(req.values) != 1:
            found.append(errors.required(f"{path}.values", "must be specified single value "
                                                           "when `operator` is 'Lt' or 'Gt'"))
    else:
        found.append(errors.invalid(f"{path}.operator", req.operator,
                                    "not a valid selector operator"))
    found.extend(common.invalid_each(f"{path}.key", req.key, qualified_name_problems(req.key)))
    if check_values:
        for i, value in enumerate(req.values):
            found.extend(common.invalid_each(f"{path}.values[{i}]", value,
                                             label_value_problems(value)))
    return found


def _node_field_requirement(req: core_pb2.NodeSelectorRequirement,
                            path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if req.operator in ("In", "NotIn"):
        if len(req.values) != 1:
            found.append(errors.required(f"{path}.values", "must be only one value when "
                                         "`operator` is 'In' or 'NotIn' for node field selector"))
    else:
        found.append(errors.invalid(f"{path}.operator", req.operator,
                                    "not a valid selector operator"))
    if req.key != "metadata.name":
        found.append(errors.invalid(f"{path}.key", req.key, "not a valid field selector key"))
    else:
        for i, value in enumerate(req.values):
            found.extend(common.invalid_each(f"{path}.values[{i}]", value,
                                             dns1123_subdomain_problems(value)))
    return found


def _node_selector_term(term: core_pb2.NodeSelectorTerm, path: str,
                        check_values: bool) -> list[FieldError]:
    found: list[FieldError] = []
    for j, req in enumerate(term.match_expressions):
        found.extend(_node_selector_requirement(req, f"{path}.matchExpressions[{j}]",
                                                check_values))
    for j, req in enumerate(term.match_fields):
        found.extend(_node_field_requirement(req, f"{path}.matchFields[{j}]"))
    return found


def _pod_affinity_term(term: core_pb2.PodAffinityTerm, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if term.HasField("label_selector"):
        found.extend(validate_label_selector(term.label_selector, f"{path}.labelSelector"))
    for name in term.namespaces:
        found.extend(common.invalid_each(f"{path}.namespace", name, dns1123_label_problems(name)))
    if not term.topology_key:
        found.append(errors.required(f"{path}.topologyKey", "can not be empty"))
    found.extend(common.invalid_each(f"{path}.topologyKey", term.topology_key,
                                     qualified_name_problems(term.topology_key)))
    return found


def _weight(weight: int, path: str) -> list[FieldError]:
    if 1 <= weight <= 100:
        return []
    return [errors.invalid(path, weight, "must be in the range 1-100")]


def _pod_affinity(affinity: core_pb2.PodAffinity, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    required = f"{path}.requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(affinity.required_during_scheduling_ignored_during_execution):
        found.extend(_pod_affinity_term(term, f"{required}[{i}]"))
    preferred = f"{path}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, weighted in enumerate(affinity.preferred_during_scheduling_ignored_during_execution):
        found.extend(_weight(weighted.weight, f"{preferred}[{i}].weight"))
        found.extend(_pod_affinity_term(weighted.pod_affinity_term,
                                        f"{preferred}[{i}].podAffinityTerm"))
    return found


def validate_affinity(affinity: core_pb2.Affinity, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if affinity.HasField("node_affinity"):
        node = affinity.node_affinity
        at = f"{path}.nodeAffinity"
        if node.HasField("required_during_scheduling_ignored_during_execution"):
            selector = node.required_during_scheduling_ignored_during_execution
            terms = f"{at}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
            if not selector.node_selector_terms:
                found.append(errors.required(terms, "must have at least one node selector term"))
            for i, term in enumerate(selector.node_selector_terms):
                found.extend(_node_selector_term(term, f"{terms}[{i}]", check_values=True))
        preferred = f"{at}.preferredDuringSchedulingIgnoredDuringExecution"
        for i, weighted in enumerate(node.preferred_during_scheduling_ignored_during_execution):
            found.extend(_weight(weighted.weight, f"{preferred}[{i}].weight"))
            found.extend(_node_selector_term(weighted.preference, f"{preferred}[{i}].preference",
                                             check_values=False))
    if affinity.HasField("pod_affinity"):
        found.extend(_pod_affinity(affinity.pod_affinity, f"{path}.podAffinity"))
    if affinity.HasField("pod_anti_affinity"):
        found.extend(_pod_affinity(affinity.pod_anti_affinity, f"{path}.podAntiAffinity"))
    return found


def validate_topology_spread(constraints: list[core_pb2.TopologySpreadConstraint],
                             path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for i, constraint in enumerate(constraints):
        item = f"{path}[{i}]"
        if constraint.max_skew <= 0:
            found.append(errors.invalid(f"{item}.maxSkew", constraint.max_skew,
                                        "must be greater than zero"))
        if not constraint.topology_key:
            found.append(errors.required(f"{item}.topologyKey", "can not be empty"))
        if constraint.when_unsatisfiable not in WHEN_UNSATISFIABLE:
            found.append(errors.unsupported(f"{item}.whenUnsatisfiable",
                                            constraint.when_unsatisfiable, WHEN_UNSATISFIABLE))
        for later in constraints[i + 1:]:
            if (later.topology_key, later.when_unsatisfiable) == \
                    (constraint.topology_key, constraint.when_unsatisfiable):
                found.append(errors.duplicate(
                    f"{item}.{{topologyKey, whenUnsatisfiable}}",
                    f"{{{constraint.topology_key}, {constraint.when_unsatisfiable}}}"))
                break
        if constraint.HasField("label_selector"):
            found.extend(validate_label_selector(constraint.label_selector,
                                                 f"{item}.labelSelector"))
    return found
