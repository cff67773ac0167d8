"""Node affinity terms: operators, ORed terms, matchFields pinning, terms that match nothing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from controlplane.scheduler.filters import pre_filter
from controlplane.scheduler.framework import UNRESOLVABLE, PodContext
from controlplane.scheduler.nodeaffinity import RequiredAffinity, Term, preferred_terms
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_node, make_pod

pytestmark = pytest.mark.unit

Expr = tuple[str, str, Sequence[str]]


def term(expressions: Sequence[Expr] = (), fields: Sequence[Expr] = ()) -> core_pb2.NodeSelectorTerm:
    t = core_pb2.NodeSelectorTerm()
    for key, op, values in expressions:
        t.match_expressions.add(key=key, operator=op, values=list(values))
    for key, op, values in fields:
        t.match_fields.add(key=key, operator=op, values=list(values))
    return t


def pod_with_terms(*terms: core_pb2.NodeSelectorTerm) -> core_pb2.Pod:
    pod = make_pod()
    required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    for t in terms:
        required.node_selector_terms.add().CopyFrom(t)
    return pod


LABELS = {"zone": "a", "cores": "8", "disk": "ssd"}


@pytest.mark.parametrize("expression, matches", [
    (("zone", "In", ["a", "b"]), True),
    (("zone", "In", ["b"]), False),
    (("zone", "NotIn", ["b"]), True),
    (("zone", "NotIn", ["a"]), False),
    (("missing", "NotIn", ["a"]), True),
    (("disk", "Exists", []), True),
    (("gpu", "Exists", []), False),
    (("gpu", "DoesNotExist", []), True),
    (("disk", "DoesNotExist", []), False),
    (("cores", "Gt", ["4"]), True),
    (("cores", "Gt", ["8"]), False),
    (("cores", "Lt", ["16"]), True),
    (("cores", "Lt", ["8"]), False),
    (("zone", "Gt", ["1"]), False),        # label not an integer
    (("missing", "Lt", ["1"]), False),
])
def test_operators(expression: Expr, matches: bool) -> None:
    assert Term.parse(term([expression])).matches(LABELS, "node-1") is matches


@pytest.mark.parametrize("expression", [
    ("zone", "In", []),
    ("zone", "Exists", ["a"]),
    ("cores", "Gt", ["x"]),
    ("cores", "Gt", ["1", "2"]),
    ("zone", "Matches", ["a"]),
])
def test_unparseable_term_matches_nothing(expression: Expr) -> None:
    assert not Term.parse(term([expression])).matches(LABELS, "node-1")


def test_empty_term_matches_nothing() -> None:
    assert not Term.parse(term()).matches(LABELS, "node-1")


def test_expressions_in_a_term_are_anded_terms_are_ored() -> None:
    both = term([("zone", "In", ["a"]), ("disk", "In", ["hdd"])])
    assert not Term.parse(both).matches(LABELS, "node-1")
    required = RequiredAffinity.of(pod_with_terms(both, term([("cores", "Gt", ["2"])])))
    assert required.matches(make_node(labels=LABELS))
    required = RequiredAffinity.of(pod_with_terms(both))
    assert not required.matches(make_node(labels=LABELS))


def test_match_fields_pin_by_node_name() -> None:
    pinned = RequiredAffinity.of(pod_with_terms(term(fields=[("metadata.name", "In", ["node-2"])])))
    assert pinned.matches(make_node("node-2"))
    assert not pinned.matches(make_node("node-1"))
    assert pinned.pinned_names() == {"node-2"}
    other = RequiredAffinity.of(pod_with_terms(term(fields=[("metadata.name", "NotIn", ["node-2"])])))
    assert other.matches(make_node("node-1")) and not other.matches(make_node("node-2"))
    assert other.pinned_names() is None


def test_match_fields_need_one_value_and_the_name_field() -> None:
    assert not Term.parse(term(fields=[("metadata.name", "In", ["a", "b"])])).matches({}, "a")
    assert not Term.parse(term(fields=[("spec.x", "In", ["a"])])).matches({}, "a")


def test_pinned_names_of_ored_terms() -> None:
    pinned = pod_with_terms(term(fields=[("metadata.name", "In", ["node-1"])]),
                            term(fields=[("metadata.name", "In", ["node-3"])]))
    assert RequiredAffinity.of(pinned).pinned_names() == {"node-1", "node-3"}
    open_term = pod_with_terms(term(fields=[("metadata.name", "In", ["node-1"])]),
                               term([("zone", "In", ["a"])]))
    assert RequiredAffinity.of(open_term).pinned_names() is None


def test_conflicting_name_pins_fail_prefilter() -> None:
    pod = pod_with_terms(term(fields=[("metadata.name", "In", ["a"]),
                                      ("metadata.name", "In", ["b"])]))
    names, status = pre_filter(PodContext.of(pod))
    assert names is None and status is not None
    assert status.code == UNRESOLVABLE and status.reasons == ("pod affinity terms conflict",)


def test_preferred_terms_skip_zero_weight() -> None:
    pod = make_pod()
    preferred = pod.spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution
    preferred.add(weight=0).preference.CopyFrom(term([("zone", "In", ["a"])]))
    preferred.add(weight=5).preference.CopyFrom(term([("zone", "In", ["a"])]))
    found = preferred_terms(pod)
    assert [p.weight for p in found] == [5]
