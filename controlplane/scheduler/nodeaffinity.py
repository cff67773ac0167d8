"""Matching nodes against a pod's ``nodeSelector`` and node affinity, as Kubernetes'
``component-helpers/scheduling/corev1/nodeaffinity`` does.

Required terms are ORed, the requirements inside a term ANDed. A term that cannot be parsed (an
unknown operator, ``In`` with no values, ``Gt`` with a non-integer) or that is empty matches no
node. ``matchFields`` supports ``metadata.name`` with ``In``/``NotIn`` and one value: that is how
DaemonSet pods are pinned to their node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kemu.api.labels import Operator, Requirement
from kemu.v1 import core_pb2

NODE_NAME_FIELD = "metadata.name"

_OPERATORS = {
    "In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST, "Gt": Operator.GREATER_THAN,
    "Lt": Operator.LESS_THAN,
}


def _label_requirement(expression: core_pb2.NodeSelectorRequirement) -> Requirement | None:
    operator = _OPERATORS.get(expression.operator)
    values = tuple(expression.values)
    if operator is None:
        return None
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        return None
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        return None
    if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(values) != 1:
            return None
        try:
            int(values[0])
        except ValueError:
            return None
    return Requirement(expression.key, operator, values)


@dataclass(frozen=True)
class FieldRequirement:
    """``metadata.name In [x]`` or ``NotIn [x]``."""

    name: str
    negate: bool

    def matches(self, node_name: str) -> bool:
        return (node_name == self.name) != self.negate


def _field_requirement(expression: core_pb2.NodeSelectorRequirement) -> FieldRequirement | None:
    if expression.key != NODE_NAME_FIELD or len(expression.values) != 1:
        return None
    if expression.operator not in ("In", "NotIn"):
        return None
    return FieldRequirement(expression.values[0], expression.operator == "NotIn")


@dataclass(frozen=True)
class Term:
    """One parsed NodeSelectorTerm."""

    labels: tuple[Requirement, ...]
    fields: tuple[FieldRequirement, ...]
    valid: bool

    @staticmethod
    def parse(term: core_pb2.NodeSelectorTerm) -> Term:
        labels: list[Requirement] = []
        fields: list[FieldRequirement] = []
        valid = bool(term.match_expressions) or bool(term.match_fields)
        for expression in term.match_expressions:
            requirement = _label_requirement(expression)
            if requirement is None:
                valid = False
            else:
                labels.append(requirement)
        for expression in term.match_fields:
            field_requirement = _field_requirement(expression)
            if field_requirement is None:
                valid = False
            else:
                fields.append(field_requirement)
        return Term(tuple(labels), tuple(fields), valid)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.valid:
            return False
        return all(r.matches(labels) for r in self.labels) and \
            all(f.matches(node_name) for f in self.fields)

    def pinned_names(self) -> set[str] | None:
        """The node names ``metadata.name In`` requirements allow (None: any name)."""
        names: set[str] | None = None
        for f in self.fields:
            if not f.negate:
                names = {f.name} if names is None else names & {f.name}
        return names


@dataclass(frozen=True)
class RequiredAffinity:
    """``nodeSelector`` AND (any required term); None terms means no required affinity."""

    node_selector: tuple[tuple[str, str], ...]
    terms: tuple[Term, ...] | None

    @staticmethod
    def of(pod: core_pb2.Pod) -> RequiredAffinity:
        terms: tuple[Term, ...] | None = None
        affinity = pod.spec.affinity
        if pod.spec.HasField("affinity") and affinity.HasField("node_affinity") and \
                affinity.node_affinity.HasField("required_during_scheduling_ignored_during_execution"):
            required = affinity.node_affinity.required_during_scheduling_ignored_during_execution
            terms = tuple(Term.parse(t) for t in required.node_selector_terms)
        return RequiredAffinity(tuple(sorted(pod.spec.node_selector.items())), terms)

    def is_empty(self) -> bool:
        return not self.node_selector and self.terms is None

    def matches(self, node: core_pb2.Node, labels: Mapping[str, str] | None = None) -> bool:
        """``labels``: the node's labels, when the caller has them as a dict already."""
        if labels is None:
            labels = node.metadata.labels
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(term.matches(labels, node.metadata.name) for term in self.terms)

    def pinned_names(self) -> set[str] | None:
        """The only node names that can match (NodeAffinity PreFilter), or None for any.

        Terms are ORed, so names are pinned only when every term pins them.
        """
        if not self.terms:
            return None
        union: set[str] = set()
        for term in self.terms:
            names = term.pinned_names()
            if names is None:
                return None
            union |= names
        return union


@dataclass(frozen=True)
class PreferredTerm:
    weight: int
    term: Term


def preferred_terms(pod: core_pb2.Pod) -> tuple[PreferredTerm, ...]:
    affinity = pod.spec.affinity
    if not pod.spec.HasField("affinity") or not affinity.HasField("node_affinity"):
        return ()
    found: Iterable[core_pb2.PreferredSchedulingTerm] = \
        affinity.node_affinity.preferred_during_scheduling_ignored_during_execution
    return tuple(PreferredTerm(p.weight, Term.parse(p.preference)) for p in found if p.weight)
