"""Imports every controller module so each registers itself; the manager imports this."""

from controlplane.controllers import nodelifecycle, podgc, taint_eviction  # noqa: F401
from controlplane.scheduler import controller as scheduler  # noqa: F401
