"""The control plane's garbage collector threshold."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from launcher import collector

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def thresholds_restored() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_only_the_youngest_generation_changes(caplog: pytest.LogCaptureFixture) -> None:
    gc.set_threshold(700, 10, 10)
    with caplog.at_level("INFO", logger="kemu.collector"):
        collector.set_young_threshold(50_000)
    assert gc.get_threshold() == (50_000, 10, 10)
    assert "youngest generation collected after 50000 allocations" in caplog.text


@pytest.mark.parametrize("allocations", [0, -5])
def test_a_threshold_below_one_is_refused(allocations: int) -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(ValueError, match=f"gc threshold: Invalid value: {allocations}: "
                                         "must be at least 1"):
        collector.set_young_threshold(allocations)
    assert gc.get_threshold() == (700, 10, 10)
