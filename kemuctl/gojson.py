"""JSON and YAML text as Go's encoders write it, so output and annotations match kubectl's.

Go sorts map keys, escapes ``<``, ``>`` and ``&`` in strings, and ``sigs.k8s.io/yaml`` emits
block YAML with sorted keys, unindented sequences, double quotes when a string needs quoting and
``|`` blocks for multi-line strings.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
         "\u2029": "\\u2029"}


def _escape(text: str) -> str:
    for raw, escaped in _HTML.items():
        text = text.replace(raw, escaped)
    return text


def marshal(value: Any) -> str:
    """``json.Marshal``: compact, sorted keys, HTML-escaped."""
    return _escape(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def marshal_indent(value: Any) -> str:
    """``json.MarshalIndent(v, "", "    ")``, as ``kubectl get -o json`` prints."""
    return _escape(json.dumps(value, sort_keys=True, indent=4, ensure_ascii=False))


class _Dumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)


def to_yaml(value: Any) -> str:
    """The YAML kubectl prints for ``value``."""
    text: str = yaml.dump(value, Dumper=_Dumper, default_flow_style=False, sort_keys=True,
                          allow_unicode=True, width=80)
    return text
