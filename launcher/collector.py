"""How often Python's cyclic garbage collector runs in the control plane.

The control plane keeps every object of the cluster in its watch cache and informers, and a
collection of the oldest generation walks all of them: about 80 ms at 5000 pods, every few
seconds during a burst, with the loop stopped meanwhile. Reference counting frees almost all
of the control plane's garbage at once; the collector only finds cycles. So the youngest
generation is collected after ``CONTROLPLANE_THRESHOLD`` allocations (net of deallocations)
instead of Python's 700, and the older generations, whose collections are counted in
collections of the younger, come round that much less often (docs/benchmarks.md, sixth round).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("kemu.collector")

PYTHON_THRESHOLD = 700
CONTROLPLANE_THRESHOLD = 50_000


def set_young_threshold(allocations: int) -> None:
    """Collect the youngest generation after ``allocations``; the other thresholds stay."""
    if allocations < 1:
        raise ValueError(f"gc threshold: Invalid value: {allocations}: must be at least 1")
    _, middle, old = gc.get_threshold()
    gc.set_threshold(allocations, middle, old)
    log.info("garbage collector: youngest generation collected after %d allocations",
             allocations)
