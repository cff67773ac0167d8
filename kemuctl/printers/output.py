"""``-o`` formats other than tables: yaml, json, name, jsonpath and custom columns, plus the
document shapes kubectl prints (one object, or a ``List`` of several)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kemu.api import codec
from kemu.api.kinds import Kind
from kemuctl.errors import CliError
from kemuctl.gojson import marshal_indent, to_yaml
from kemuctl.printers.jsonpath import JSONPath, JSONPathError

FORMATS = ("custom-columns", "custom-columns-file", "json", "jsonpath", "jsonpath-file", "name",
           "wide", "yaml")
HUMAN = ("", "wide")


@dataclass(frozen=True)
class OutputFormat:
    name: str
    argument: str = ""

    @property
    def human(self) -> bool:
        return self.name in HUMAN

    @property
    def wide(self) -> bool:
        return self.name == "wide"


def parse_output(value: str) -> OutputFormat:
    name, _, argument = value.partition("=")
    if name in HUMAN and not argument:
        return OutputFormat(name)
    if name in ("jsonpath-file", "custom-columns-file"):
        try:
            argument = Path(argument).read_text()
        except OSError as exc:
            raise CliError(f"error reading template {argument}, {exc}") from None
        name = name.removesuffix("-file")
        argument = argument.strip() if name == "custom-columns" else argument
    if name in ("jsonpath", "custom-columns"):
        if not argument and name == "jsonpath":
            raise CliError("template format specified but no template given")
        return OutputFormat(name, argument)
    if name in ("json", "yaml", "name") and not argument:
        return OutputFormat(name)
    raise CliError(f'unable to match a printer suitable for the output format "{value}", allowed '
                   f'formats are: {",".join(FORMATS)}')


def document(obj: Any) -> dict[str, Any]:
    return codec.encode(obj)


def list_document(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": list(documents), "kind": "List",
            "metadata": {"resourceVersion": ""}}


def name_line(kind: Kind, obj: Any) -> str:
    return f"{kind.qualified_singular}/{obj.metadata.name}"


def render_document(fmt: OutputFormat, doc: dict[str, Any]) -> str:
    """One document (an object or a List) as yaml, json or jsonpath text."""
    if fmt.name == "yaml":
        return to_yaml(doc)
    if fmt.name == "json":
        return marshal_indent(doc) + "\n"
    if fmt.name == "jsonpath":
        try:
            return JSONPath(fmt.argument).execute(doc)
        except JSONPathError as exc:
            raise CliError(f'error executing jsonpath "{fmt.argument}": Error executing template: '
                           f"{exc}. Printing more information for debugging the template:\n"
                           f"\ttemplate was:\n\t\t{fmt.argument}\n") from None
    raise AssertionError(fmt.name)


def check_template(fmt: OutputFormat) -> None:
    """Fail early on a template that does not parse."""
    if fmt.name == "jsonpath":
        try:
            JSONPath(fmt.argument)
        except JSONPathError as exc:
            raise CliError(f"error parsing jsonpath {fmt.argument}, {exc}") from None
