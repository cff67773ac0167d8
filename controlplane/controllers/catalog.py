"""Imports every controller module so each registers itself; the manager imports this."""
from controlplane.controllers import namespace  # noqa: F401
from controlplane.controllers.daemonset import controller as daemonset  # noqa: F401
from controlplane.controllers.garbagecollector import collector as garbagecollector  # noqa: F401
