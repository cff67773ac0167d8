"""Completion indexes of Indexed Jobs, kept as ordered intervals.

``status.completedIndexes`` (and ``failedIndexes``) is Kubernetes' compressed text: increasing
indexes separated by commas, three or more consecutive ones written as a range, so 0, 1, 2 and
4 read ``0-2,4`` and 1, 3, 4, 5 and 7 read ``1,3-5,7``; two consecutive ones stay a list
(``4,5``). Indexes at or beyond ``completions`` are dropped when read back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
UNKNOWN_INDEX = -1


@dataclass(frozen=True)
class Interval:
    first: int
    last: int


class Intervals:
    """Disjoint, ordered, non-adjacent intervals of indexes."""

    def __init__(self, intervals: Iterable[Interval] = ()):
        self.items: list[Interval] = list(intervals)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Intervals) and self.items == other.items

    def __repr__(self) -> str:
        return f"Intervals({self})"

    def __str__(self) -> str:
        parts = []
        for item in self.items:
            if item.last == item.first:
                parts.append(str(item.first))
            elif item.last == item.first + 1:
                parts.append(f"{item.first},{item.last}")
            else:
                parts.append(f"{item.first}-{item.last}")
        return ",".join(parts)

    def total(self) -> int:
        return sum(item.last - item.first + 1 for item in self.items)

    def has(self, index: int) -> bool:
        low, high = 0, len(self.items)
        while low < high:
            middle = (low + high) // 2
            if self.items[middle].last >= index:
                high = middle
            else:
                low = middle + 1
        return low < len(self.items) and self.items[low].first <= index

    def merge(self, other: Intervals) -> Intervals:
        merged: list[Interval] = []
        for item in sorted(self.items + other.items, key=lambda i: i.first):
            if merged and item.first <= merged[-1].last + 1:
                if item.last > merged[-1].last:
                    merged[-1] = Interval(merged[-1].first, item.last)
            else:
                merged.append(item)
        return Intervals(merged)

    def with_indexes(self, indexes: Iterable[int]) -> Intervals:
        return self.merge(Intervals(Interval(i, i) for i in sorted(set(indexes))))

    def indexes(self) -> list[int]:
        return [i for item in self.items for i in range(item.first, item.last + 1)]


def parse(text: str, completions: int) -> Intervals:
    """Read ``0-2,4``; corrupt pieces are skipped, indexes >= completions dropped."""
    result: list[Interval] = []
    if not text:
        return Intervals()
    for piece in text.split(","):
        bounds = piece.split("-")
        try:
            first = int(bounds[0])
            last = int(bounds[1]) if len(bounds) > 1 else first
        except ValueError:
            continue
        if first >= completions:
            break
        last = min(last, completions - 1)
        if result and result[-1].last == first - 1:
            result[-1] = Interval(result[-1].first, last)
        else:
            result.append(Interval(first, last))
    return Intervals(result)


def completion_index(annotations: Mapping[str, str]) -> int:
    """The pod's completion index annotation, or UNKNOWN_INDEX when absent or malformed."""
    value = annotations.get(COMPLETION_INDEX)
    if value is None:
        return UNKNOWN_INDEX
    try:
        index = int(value)
    except ValueError:
        return UNKNOWN_INDEX
    return index if index >= 0 else UNKNOWN_INDEX


def first_pending(count: int, completions: int, taken: Intervals) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` not in ``taken``."""
    result: list[int] = []
    candidate = 0
    for item in taken.items:
        while candidate < completions and len(result) < count and candidate < item.first:
            result.append(candidate)
            candidate += 1
        candidate = max(candidate, item.last + 1)
    while candidate < completions and len(result) < count:
        result.append(candidate)
        candidate += 1
    return result
