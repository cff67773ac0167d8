"""Printing fetched objects in any ``-o`` format, the way ``kubectl get`` lays them out: one
table per kind (blank line between kinds, ``kind/name`` names when several kinds print), or one
document (a bare object when exactly one was named, else a ``List``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kemuctl.fetch import Found
from kemuctl.printers import custom_columns, table
from kemuctl.printers.catalog import table_for
from kemuctl.printers.output import (
    OutputFormat,
    document,
    list_document,
    name_line,
    render_document,
)
from kemuctl.printers.table import TableOptions
from kemuctl.tabwriter import TabWriter, table_writer


@dataclass
class Renderer:
    fmt: OutputFormat
    options: TableOptions
    no_headers: bool = False
    writer: TabWriter | None = None
    _printed_header_for: str = ""

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = table_writer()
        self.columns = custom_columns.parse_spec(self.fmt.argument) \
            if self.fmt.name == "custom-columns" else []

    def tables(self, found: Sequence[Found], with_kind: bool) -> str:
        """Human-readable tables, one per run of objects of the same kind."""
        assert self.writer is not None
        now = time.time()
        chunks: list[str] = []
        current = ""
        for item in found:
            if item.kind.name != current:
                if current:
                    chunks.append(self.writer.flush())
                    self.writer.reset_widths()
                    if not self.no_headers and any(chunks):
                        chunks.append("\n")
                current = item.kind.name
                kind_table = table_for(item.kind, self.fmt.wide)
                options = replace(self.options, with_kind=with_kind,
                                  with_namespace=self.options.with_namespace
                                  and item.kind.namespaced)
                if not self.no_headers:
                    self.writer.write(table.lines([table.headers(kind_table, options)]))
            self.writer.write(table.lines([table.row(kind_table, item.kind, item.obj, options,
                                                     now)]))
        chunks.append(self.writer.flush())
        return "".join(chunks)

    def watch_rows(self, found: Sequence[Found]) -> str:
        """Rows for watch events, with the header before the first one."""
        assert self.writer is not None
        if self.fmt.human:
            now = time.time()
            for item in found:
                kind_table = table_for(item.kind, self.fmt.wide)
                options = replace(self.options, with_namespace=self.options.with_namespace
                                  and item.kind.namespaced)
                if not self.no_headers and self._printed_header_for != item.kind.name:
                    self.writer.write(table.lines([table.headers(kind_table, options)]))
                    self._printed_header_for = item.kind.name
                self.writer.write(table.lines([table.row(kind_table, item.kind, item.obj,
                                                         options, now)]))
            return self.writer.flush()
        if self.fmt.name == "custom-columns":
            headers = not self.no_headers and not self._printed_header_for
            self._printed_header_for = "custom-columns"
            return custom_columns.render(self.columns, [document(i.obj) for i in found],
                                         headers=headers, writer=self.writer)
        if self.fmt.name == "name":
            return "".join(name_line(i.kind, i.obj) + "\n" for i in found)
        parts = [render_document(self.fmt, document(i.obj)) for i in found]
        if self.fmt.name == "yaml":
            return "".join("---\n" + p for p in parts)
        return "".join(parts)

    def everything(self, found: Sequence[Found], single: bool, with_kind: bool) -> str:
        if self.fmt.human:
            return self.tables(found, with_kind)
        if self.fmt.name == "name":
            return "".join(name_line(i.kind, i.obj) + "\n" for i in found)
        documents = [document(i.obj) for i in found]
        if self.fmt.name == "custom-columns":
            return custom_columns.render(self.columns, documents, headers=not self.no_headers)
        if single and len(documents) == 1:
            return render_document(self.fmt, documents[0])
        return render_document(self.fmt, list_document(documents))
