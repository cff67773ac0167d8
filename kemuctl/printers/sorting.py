"""``--sort-by=JSONPATH``: order objects as kubectl does (numbers by value, quantities by amount,
other strings in natural order, objects missing the field first)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from kemu.api.quantity import QuantityError, parse_quantity
from kemuctl.errors import CliError
from kemuctl.printers.jsonpath import JSONPath, JSONPathError, relaxed

T = TypeVar("T")


def natural_less(a: str, b: str) -> bool:
    """vbom.ml/util/sortorder.NaturalLess: digit runs compare by value."""
    i = j = 0
    while i < len(a) and j < len(b):
        ca, cb = a[i], b[j]
        da, db = ca.isdigit(), cb.isdigit()
        if da != db:
            return da
        if not da:
            if ca != cb:
                return ca < cb
            i += 1
            j += 1
            continue
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        start_a, start_b = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        run_a, run_b = a[start_a:i], b[start_b:j]
        if len(run_a) != len(run_b):
            return len(run_a) < len(run_b)
        if run_a != run_b:
            return run_a < run_b
        if start_a != start_b:
            return start_a < start_b
    return len(a) < len(b)


def _less(left: Any, right: Any) -> bool:
    if isinstance(left, bool) and isinstance(right, bool):
        return not left and right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return bool(left < right)
    if isinstance(left, str) and isinstance(right, str):
        try:
            return parse_quantity(left) < parse_quantity(right)
        except QuantityError:
            return natural_less(left, right)
    raise CliError(f"unsortable type: {type(left).__name__}")


def sort_documents(items: Sequence[T], documents: Sequence[Any], expression: str) -> list[T]:
    """``items`` ordered by the value ``expression`` finds in the matching ``documents``."""
    try:
        template = relaxed(expression)
        path = JSONPath(template)
    except JSONPathError as exc:
        raise CliError(str(exc)) from None

    def first(document: Any) -> list[Any]:
        try:
            results = path.find_results(document)
        except JSONPathError as exc:
            raise CliError(str(exc)) from None
        return results[0] if results else []

    values = [first(d) for d in documents]
    if items and not any(values):
        raise CliError(f'couldn\'t find any field with path "{template}" in the list of objects')

    def compare(a: tuple[T, list[Any]], b: tuple[T, list[Any]]) -> int:
        va, vb = a[1], b[1]
        if not va:
            return -1 if vb else 0
        if not vb:
            return 1
        if _less(va[0], vb[0]):
            return -1
        if _less(vb[0], va[0]):
            return 1
        return 0

    pairs = sorted(zip(items, values, strict=True), key=functools.cmp_to_key(compare))
    return [item for item, _ in pairs]
