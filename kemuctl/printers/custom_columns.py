"""``-o custom-columns=HEADER:PATH,...``: one column per JSONPath, as kubectl prints them.

A path yielding nothing prints ``<none>``; several values print comma-separated, each formatted
as Go's ``fmt.Sprint`` would (``map[app:web]`` for a map).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kemuctl.errors import CliError
from kemuctl.printers.jsonpath import JSONPath, JSONPathError, go_print, relaxed
from kemuctl.tabwriter import TabWriter


@dataclass(frozen=True)
class CustomColumn:
    header: str
    expression: str
    path: JSONPath


def parse_spec(spec: str) -> list[CustomColumn]:
    if not spec:
        raise CliError("custom-columns format specified but no custom columns given")
    columns: list[CustomColumn] = []
    for part in spec.split(","):
        header, colon, expression = part.partition(":")
        if not colon or not header:
            raise CliError(f"unexpected custom-columns spec: {part}, expected "
                           "<header>:<json-path-expr>")
        try:
            template = relaxed(expression)
            columns.append(CustomColumn(header, expression, JSONPath(template)))
        except JSONPathError as exc:
            raise CliError(str(exc)) from None
    return columns


def cell(column: CustomColumn, document: Any) -> str:
    try:
        results = column.path.find_results(document)
    except JSONPathError as exc:
        raise CliError(str(exc)) from None
    values = [v for group in results for v in group]
    if not results or not results[0]:
        return "<none>"
    return ",".join(go_print(v) for v in values)


def render(columns: Sequence[CustomColumn], documents: Sequence[Any], *, headers: bool = True,
           writer: TabWriter | None = None) -> str:
    tab = writer or TabWriter(6, 3)
    if headers:
        tab.write("\t".join(c.header for c in columns) + "\n")
    for document in documents:
        tab.write("\t".join(cell(c, document) for c in columns) + "\n")
    return tab.flush()
