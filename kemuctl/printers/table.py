"""Tables as ``kubectl get`` prints them: a column list per kind, a row function, and the
decorations every kind shares (NAMESPACE first with -A, ``kind/name`` names when several kinds
print together, -L label columns, --show-labels)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kemu.api.kinds import Kind
from kemuctl.timefmt import since

RowFunc = Callable[[Any, float], list[str]]


@dataclass(frozen=True)
class Column:
    """A column definition; ``wide`` columns show with ``-o wide`` only (priority 1)."""

    name: str
    wide: bool = False
    is_name: bool = False


@dataclass(frozen=True)
class KindTable:
    columns: tuple[Column, ...]
    row: RowFunc


@dataclass(frozen=True)
class TableOptions:
    wide: bool = False
    with_namespace: bool = False
    with_kind: bool = False
    show_labels: bool = False
    label_columns: tuple[str, ...] = ()


NAME = Column("Name", is_name=True)
AGE = Column("Age")


def _generic_row(obj: Any, now: float) -> list[str]:
    return [obj.metadata.name, since(obj.metadata.creation_timestamp, now)]


GENERIC = KindTable((NAME, AGE), _generic_row)


def format_labels(labels: Mapping[str, str]) -> str:
    """labels.FormatLabels: ``a=b,c=d`` sorted by key, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_column_header(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()


def headers(table: KindTable, options: TableOptions) -> list[str]:
    names = [c.name.upper() for c in table.columns if options.wide or not c.wide]
    if options.with_namespace:
        names.insert(0, "NAMESPACE")
    names.extend(label_column_header(k) for k in options.label_columns)
    if options.show_labels:
        names.append("LABELS")
    return names


def row(table: KindTable, kind: Kind, obj: Any, options: TableOptions, now: float) -> list[str]:
    cells = table.row(obj, now)
    shown: list[str] = []
    for column, cell in zip(table.columns, cells, strict=True):
        if column.wide and not options.wide:
            continue
        if column.is_name and options.with_kind:
            cell = f"{kind.qualified_singular}/{cell}"
        shown.append(cell)
    if options.with_namespace:
        shown.insert(0, obj.metadata.namespace)
    labels = obj.metadata.labels
    shown.extend(labels.get(k, "") for k in options.label_columns)
    if options.show_labels:
        shown.append(format_labels(labels))
    return shown


def lines(cells: Sequence[Sequence[str]]) -> str:
    return "".join("\t".join(c) + "\n" for c in cells)
