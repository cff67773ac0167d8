"""Imports every controller module so each registers itself; the manager imports this."""

import controlplane.controllers.cronjob
import controlplane.controllers.daemonset.controller
import controlplane.controllers.deployment
import controlplane.controllers.garbagecollector.collector
import controlplane.controllers.job
import controlplane.controllers.namespace
import controlplane.controllers.nodelifecycle
import controlplane.controllers.podgc
import controlplane.controllers.pvc
import controlplane.controllers.replicaset
import controlplane.controllers.replicationcontroller
import controlplane.controllers.statefulset.controller
import controlplane.controllers.taint_eviction
import controlplane.scheduler.controller  # noqa: F401
