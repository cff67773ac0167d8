"""Imports every controller module so each registers itself; the manager imports this."""

from controlplane.scheduler import controller as scheduler  # noqa: F401
