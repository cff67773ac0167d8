"""Reading ``-f FILE|DIR|-`` into manifest documents, one at a time, so that a bad document is
reported and the good ones in the same files are still applied (kubectl's ContinueOnError)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kemu import manifest
from kemu.manifest import Manifest, ManifestError
from kemuctl.errors import CliError

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Loaded:
    """A decoded manifest, or the error its document produced."""

    source: str
    manifest: Manifest | None = None
    error: str = ""


def _files(path: Path, recursive: bool) -> Iterator[Path]:
    if not path.is_dir():
        yield path
        return
    pattern = "**/*" if recursive else "*"
    for child in sorted(path.glob(pattern)):
        if child.is_file() and child.suffix in SUFFIXES:
            yield child


def _stdin() -> str:
    return sys.stdin.read()


def load(paths: Sequence[str], recursive: bool = False) -> list[Loaded]:
    """Every document of every file; a missing path fails the whole command, as in kubectl."""
    for raw in paths:
        if raw != "-" and not Path(raw).exists():
            raise CliError(f'the path "{raw}" does not exist')
    loaded: list[Loaded] = []
    for raw in paths:
        if raw == "-":
            loaded.extend(_documents(_stdin(), "STDIN"))
            continue
        for source in _files(Path(raw), recursive):
            try:
                text = source.read_text()
            except OSError as exc:
                loaded.append(Loaded(str(source), error=f"error: {exc}"))
                continue
            loaded.extend(_documents(text, str(source)))
    return loaded


def _documents(text: str, source: str) -> Iterator[Loaded]:
    try:
        documents = manifest.documents(text, source)
    except ManifestError as exc:
        yield Loaded(source, error=str(exc))
        return
    for document in documents:
        try:
            yield Loaded(source, manifest.decode_document(document, source))
        except ManifestError as exc:
            yield Loaded(source, error=str(exc))
