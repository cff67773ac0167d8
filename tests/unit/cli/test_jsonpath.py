"""The JSONPath subset kubectl supports, and custom columns and --sort-by built on it."""

from __future__ import annotations

from typing import Any

import pytest

from kemuctl.errors import CliError
from kemuctl.printers import custom_columns
from kemuctl.printers.jsonpath import JSONPath, JSONPathError, go_print, relaxed
from kemuctl.printers.sorting import natural_less, sort_documents

pytestmark = pytest.mark.unit

PODS: dict[str, Any] = {
    "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
    "items": [
        {"metadata": {"name": "web-1", "labels": {"app": "web"},
                      "ownerReferences": [{"kind": "ReplicaSet", "name": "web"}]},
         "status": {"phase": "Running", "restarts": 3,
                    "conditions": [{"type": "Ready", "status": "True"},
                                   {"type": "PodScheduled", "status": "True"}]}},
        {"metadata": {"name": "web-10"},
         "status": {"phase": "Pending", "restarts": 0,
                    "conditions": [{"type": "Ready", "status": "False"}]}},
    ],
}


def run(template: str) -> str:
    return JSONPath(template).execute(PODS)


@pytest.mark.parametrize(("template", "expected"), [
    ("{.kind}", "List"),
    ("{.items[0].metadata.name}", "web-1"),
    ("{.items[*].metadata.name}", "web-1 web-10"),
    ("{.items[-1].metadata.name}", "web-10"),
    ("{.items[0:1].metadata.name}", "web-1"),
    ("{.items[::1].status.phase}", "Running Pending"),
    ("{.items[1,0].metadata.name}", "web-10 web-1"),
    ("{..phase}", "Running Pending"),
    ("{.items[*]['metadata.name']}", ""),
    ("{.items[0].metadata['name']}", "web-1"),
    ('{.items[?(@.status.phase=="Pending")].metadata.name}', "web-10"),
    ('{.items[?(@.status.restarts>1)].metadata.name}', "web-1"),
    ("{.items[?(@.metadata.labels)].metadata.name}", "web-1"),
    ('{.items[0].status.conditions[?(@.type=="Ready")].status}', "True"),
    ("{.items[0].metadata.labels}", '{"app":"web"}'),
    ("{.items[0].status.restarts}", "3"),
    ("{.items[0].missing}", ""),
    ('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}',
     "web-1\tRunning\nweb-10\tPending\n"),
    ("name: {.items[0].metadata.name}!", "name: web-1!"),
])
def test_templates(template: str, expected: str) -> None:
    assert run(template) == expected


def test_index_out_of_range_is_an_error_as_in_kubectl() -> None:
    with pytest.raises(JSONPathError, match="array index out of bounds: index 5, length 2"):
        run("{.items[5].metadata.name}")


def test_unclosed_range_is_a_parse_error() -> None:
    with pytest.raises(JSONPathError):
        JSONPath("{range .items[*]}{.metadata.name}")


def test_relaxed_expressions() -> None:
    assert relaxed(".metadata.name") == "{.metadata.name}"
    assert relaxed("metadata.name") == "{.metadata.name}"
    assert relaxed("{.metadata.name}") == "{.metadata.name}"
    with pytest.raises(JSONPathError):
        relaxed("{a}{b}")


def test_go_print_formats_like_fmt_sprint() -> None:
    assert go_print({"b": 1, "a": "x"}) == "map[a:x b:1]"
    assert go_print(["a", True, None]) == "[a true <nil>]"
    assert go_print(2.0) == "2"


def test_custom_columns_with_missing_values() -> None:
    columns = custom_columns.parse_spec(
        "NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].name,"
        "OWNER_KIND:.metadata.ownerReferences[0].kind")
    text = custom_columns.render(columns, PODS["items"])
    assert text.splitlines() == ["NAME     OWNER    OWNER_KIND",
                                 "web-1    web      ReplicaSet",
                                 "web-10   <none>   <none>"]


def test_custom_columns_join_several_values() -> None:
    columns = custom_columns.parse_spec("TYPES:.status.conditions[*].type")
    assert custom_columns.render(columns, PODS["items"][:1], headers=False) == \
        "Ready,PodScheduled\n"


def test_custom_columns_spec_errors() -> None:
    with pytest.raises(CliError, match="expected <header>:<json-path-expr>"):
        custom_columns.parse_spec("NAME")
    with pytest.raises(CliError, match="no custom columns given"):
        custom_columns.parse_spec("")


def test_natural_order() -> None:
    assert natural_less("web-2", "web-10")
    assert not natural_less("web-10", "web-2")
    assert natural_less("a", "b")
    assert natural_less("a", "ab")


def test_sort_by_numbers_strings_and_quantities() -> None:
    docs = [{"n": "web-10", "r": 3, "q": "1Gi"}, {"n": "web-2", "r": 1, "q": "512Mi"},
            {"n": "web-1", "r": 2, "q": "2G"}]
    assert [d["n"] for d in sort_documents(docs, docs, ".n")] == ["web-1", "web-2", "web-10"]
    assert [d["r"] for d in sort_documents(docs, docs, "{.r}")] == [1, 2, 3]
    assert [d["q"] for d in sort_documents(docs, docs, ".q")] == ["512Mi", "1Gi", "2G"]


def test_sort_puts_objects_without_the_field_first_and_fails_when_none_has_it() -> None:
    docs = [{"n": "b", "x": 1}, {"n": "a"}]
    assert [d["n"] for d in sort_documents(docs, docs, ".x")] == ["a", "b"]
    with pytest.raises(CliError, match="couldn't find any field"):
        sort_documents(docs, docs, ".nope")
