"""Imports every controller module so each registers itself; the manager imports this."""

import controlplane.controllers.daemonset.controller
import controlplane.controllers.deployment
import controlplane.controllers.garbagecollector.collector
import controlplane.controllers.namespace
import controlplane.controllers.replicaset
import controlplane.controllers.replicationcontroller  # noqa: F401
