"""Alignment as Go's text/tabwriter does it: column blocks, unpadded last cells, minwidth."""

from __future__ import annotations

import pytest

from kemuctl.tabwriter import TabWriter, tabbed, table_writer

pytestmark = pytest.mark.unit


def test_get_tables_pad_three_with_minimum_six() -> None:
    writer = table_writer()
    writer.write("NAME\tREADY\tAGE\nx\t1/1\t5s\n")
    assert writer.flush() == "NAME   READY   AGE\nx      1/1     5s\n"


def test_last_cell_is_not_padded_and_short_columns_keep_minimum_width() -> None:
    writer = TabWriter(6, 3)
    writer.write("A\tB\nlonger-name\tC\n")
    assert writer.flush() == "A" + " " * 13 + "B\nlonger-name   C\n"


def test_a_line_without_tabs_ends_the_column_block() -> None:
    text = "Name:\tx\nLongerKey:\ty\nSection:\n  a:\tb\n"
    assert tabbed(text) == "Name:       x\nLongerKey:  y\nSection:\n  a:  b\n"


def test_continuation_lines_with_an_empty_first_cell_stay_in_the_block() -> None:
    text = "Labels:\ta=b\n\tc=d\nCreationTimestamp:\tnow\n"
    assert tabbed(text) == ("Labels:             a=b\n                    c=d\n"
                            "CreationTimestamp:  now\n")


def test_nested_columns_align_only_within_their_block() -> None:
    text = "a\tb\tc\nlong\tb\n"
    assert tabbed(text) == "a     b  c\nlong  b\n"


def test_empty_cells_take_the_padding_width() -> None:
    assert tabbed("Namespace\tName\t\tCPU\nns\tpod\t\t1\n") == \
        "Namespace  Name    CPU\nns         pod     1\n"


def test_remembered_widths_keep_later_rows_aligned() -> None:
    writer = table_writer()
    writer.write("NAME\tSTATUS\tAGE\nweb\tRunning\t1s\n")
    first = writer.flush()
    writer.write("web\tOK\t2s\n")
    assert first.splitlines()[1] == "web    Running   1s"
    assert writer.flush() == "web    OK        2s\n"
    writer.reset_widths()
    writer.write("web\tOK\t2s\n")
    assert writer.flush() == "web   OK    2s\n"
