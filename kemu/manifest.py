"""Reading manifests: multi-document YAML or JSON from files, folders or text, into objects.

Each document becomes a ``Manifest`` (its kind, the decoded message, unknown-field warnings and
where it came from) or raises ``ManifestError`` naming the file, the document and the problem:
an unknown kind (``no matches for kind "Ingress" in version "networking.k8s.io/v1"``), a
missing apiVersion or kind, malformed YAML, or wrong field types by path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kemu.api import codec, kinds
from kemu.api.errors import FieldError
from kemu.api.kinds import Kind

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Manifest:
    kind: Kind
    obj: Any
    source: str
    document: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class ManifestError(ValueError):
    def __init__(self, source: str, message: str, errors: list[FieldError] | None = None):
        self.source = source
        self.errors = errors or []
        super().__init__(f"error: {message}" + (f" (from {source})" if source else ""))


def _sources(path: Path, recursive: bool) -> Iterator[Path]:
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        for child in sorted(path.glob(pattern)):
            if child.is_file() and child.suffix in MANIFEST_SUFFIXES:
                yield child
    else:
        yield path


def load_paths(paths: list[str], recursive: bool = False, stdin_text: str | None = None
               ) -> list[Manifest]:
    """Manifests from files, folders (their .yaml/.yml/.json files) or ``-`` (stdin_text)."""
    found: list[Manifest] = []
    for raw in paths:
        if raw == "-":
            found.extend(load_text(stdin_text or "", "STDIN"))
            continue
        path = Path(raw)
        if not path.exists():
            raise ManifestError("", f'the path "{raw}" does not exist')
        for source in _sources(path, recursive):
            found.extend(load_text(source.read_text(), str(source)))
    return found


def documents(text: str, source: str) -> list[dict[str, Any]]:
    """The non-empty documents of a YAML (or JSON) text; ``List`` kinds are expanded."""
    try:
        raw = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(source, f"error parsing {source}: {exc}") from None
    out: list[dict[str, Any]] = []
    for index, doc in enumerate(raw):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(source, f"document {index} is a {type(doc).__name__}, "
                                        "not an object")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(i for i in doc["items"] if isinstance(i, dict))
        else:
            out.append(doc)
    return out


def load_text(text: str, source: str = "") -> list[Manifest]:
    return [decode_document(doc, source) for doc in documents(text, source)]


def decode_document(doc: dict[str, Any], source: str = "") -> Manifest:
    api_version, kind_name = doc.get("apiVersion"), doc.get("kind")
    if not kind_name or not isinstance(kind_name, str):
        raise ManifestError(source, f"Object 'Kind' is missing in '{_brief(doc)}'")
    if not api_version or not isinstance(api_version, str):
        raise ManifestError(source, f"Object 'apiVersion' is missing in '{_brief(doc)}'")
    try:
        kind = kinds.for_manifest(api_version, kind_name)
    except kinds.UnknownKindError as exc:
        name = (doc.get("metadata") or {}).get("name", "") if isinstance(doc.get("metadata"), dict) else ""
        raise ManifestError(source, f'resource mapping not found for name: "{name}" namespace: '
                                    f'"" from "{source}": {exc}') from None
    warnings: list[str] = []
    try:
        obj = codec.decode(kind.message, doc, warnings)
    except codec.DecodeError as exc:
        name = (doc.get("metadata") or {}).get("name", "") if isinstance(doc.get("metadata"), dict) else ""
        details = "; ".join(str(e) for e in exc.errors)
        raise ManifestError(source, f'{kind.name} "{name}" in version "{api_version}" cannot be '
                                    f"handled as a {kind.name}: {details}", exc.errors) from None
    return Manifest(kind, obj, source, doc, warnings)


def _brief(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True)
    return text if len(text) < 200 else text[:197] + "..."
