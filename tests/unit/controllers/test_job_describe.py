"""``kemuctl describe job`` of an Indexed Job shows its completed indexes as kubectl does."""

from __future__ import annotations

import pytest

from kemuctl.describe.workloads import cap_indexes, describe_job
from tests.unit.controllers.batch_fakes import job

pytestmark = pytest.mark.unit


def test_completed_indexes_line() -> None:
    indexed = job("agg", {"completionMode": "Indexed", "completions": 12, "parallelism": 3})
    assert "Completed Indexes:  <none>" in describe_job(indexed, [], 0.0).splitlines()
    indexed.status.completed_indexes = "0-2,4"
    indexed.status.succeeded = 4
    lines = describe_job(indexed, [], 0.0).splitlines()
    assert "Completed Indexes:  0-2,4" in lines
    assert not any(line.startswith("Completed Indexes") for line in
                   describe_job(job("plain"), [], 0.0).splitlines())


def test_long_index_lists_are_cut_after_a_comma() -> None:
    text = ",".join(str(i) for i in range(0, 60, 2))
    assert cap_indexes(text, 50) == text[:text.find(",", 50) + 1] + "..."
    assert cap_indexes("0-99", 50) == "0-99"
