"""Column alignment exactly as Go's ``text/tabwriter`` does it, which is what kubectl prints with.

Cells are separated by tabs; a column block is a run of consecutive lines that have a cell in
that column, and its width is the widest cell plus padding (at least ``minwidth``). The last cell
of a line is never padded. ``remember_widths`` keeps column widths across flushes, like the
tabwriter fork kubectl uses for ``get`` (so rows printed later by ``get -w`` stay aligned).
"""

from __future__ import annotations

Line = list[str]


class TabWriter:
    def __init__(self, minwidth: int = 0, padding: int = 2, *, remember_widths: bool = False):
        self.minwidth = minwidth
        self.padding = padding
        self.remember_widths = remember_widths
        self._text: list[str] = []
        self._max_widths: list[int] = []

    def write(self, text: str) -> None:
        self._text.append(text)

    def reset_widths(self) -> None:
        self._max_widths = []

    def flush(self) -> str:
        """Format everything written so far and return it."""
        text = "".join(self._text)
        self._text = []
        if not text:
            return ""
        raw_lines = text.split("\n")
        trailing_newline = raw_lines[-1] == ""
        if trailing_newline:
            raw_lines.pop()
        lines = [raw.split("\t") for raw in raw_lines]
        out: list[str] = []
        self._format(lines, [], 0, len(lines), out)
        result = "\n".join(out)
        return result + "\n" if trailing_newline else result

    def _format(self, lines: list[Line], widths: list[int], line0: int, line1: int,
                out: list[str]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            self._write_lines(lines, widths, line0, this, out)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + self.padding)
                this += 1
            width = self._remembered(column, width)
            self._format(lines, [*widths, width], line0, this, out)
            line0 = this
        self._write_lines(lines, widths, line0, line1, out)

    def _remembered(self, column: int, width: int) -> int:
        if not self.remember_widths:
            return width
        if column < len(self._max_widths):
            width = max(width, self._max_widths[column])
            self._max_widths[column] = width
        else:
            self._max_widths.extend([0] * (column - len(self._max_widths)))
            self._max_widths.append(width)
        return width

    @staticmethod
    def _write_lines(lines: list[Line], widths: list[int], line0: int, line1: int,
                     out: list[str]) -> None:
        for index in range(line0, line1):
            cells = lines[index]
            parts: list[str] = []
            last = len(cells) - 1
            for j, cell in enumerate(cells):
                if j < last and j < len(widths):
                    parts.append(cell + " " * (widths[j] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))


def tabbed(text: str, minwidth: int = 0, padding: int = 2) -> str:
    """``text`` aligned the way kubectl's describe output is (minwidth 0, padding 2)."""
    writer = TabWriter(minwidth, padding)
    writer.write(text)
    return writer.flush()


def table_writer() -> TabWriter:
    """The writer kubectl's ``get`` uses: minwidth 6, padding 3, widths remembered."""
    return TabWriter(6, 3, remember_widths=True)
