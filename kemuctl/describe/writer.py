"""kubectl's PrefixWriter: text at indentation levels of two spaces, aligned at the end by a
tab writer (minwidth 0, padding 2), as ``tabbedString`` does."""

from __future__ import annotations

from kemuctl.tabwriter import tabbed

LEVEL_0, LEVEL_1, LEVEL_2, LEVEL_3, LEVEL_4 = range(5)


class PrefixWriter:
    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._parts.append("  " * level + text)

    def line(self, text: str = "") -> None:
        self._parts.append(text + "\n")

    def raw(self) -> str:
        """The text without alignment (what ``rollout history --revision`` prints)."""
        return "".join(self._parts)

    def render(self) -> str:
        return tabbed(self.raw())
