"""Defaulting as Kubernetes' generated defaulters do it, one function per kind.

The registry runs a kind's defaulter (through its Strategy) on every create and update, before
validation, so stored objects read like ``kubectl get -o yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.apiserver.defaults.batch import default_cron_job, default_job
from controlplane.apiserver.defaults.core import (
    default_endpoints,
    default_namespace,
    default_node,
    default_service,
)
from controlplane.apiserver.defaults.pod import default_pod
from controlplane.apiserver.defaults.storage import default_claim
from controlplane.apiserver.defaults.workloads import (
    default_daemon_set,
    default_deployment,
    default_replica_set,
    default_replication_controller,
    default_stateful_set,
)

Defaulter = Callable[[Any], None]

DEFAULTERS: dict[str, Defaulter] = {
    "Pod": default_pod,
    "ReplicaSet": default_replica_set,
    "ReplicationController": default_replication_controller,
    "Deployment": default_deployment,
    "DaemonSet": default_daemon_set,
    "StatefulSet": default_stateful_set,
    "Job": default_job,
    "CronJob": default_cron_job,
    "Service": default_service,
    "Endpoints": default_endpoints,
    "Namespace": default_namespace,
    "Node": default_node,
    "PersistentVolumeClaim": default_claim,
}


def apply_defaults(kind_name: str, obj: Any) -> None:
    """Fill ``obj``'s defaults in place (kinds without defaults are left as they are)."""
    defaulter = DEFAULTERS.get(kind_name)
    if defaulter is not None:
        defaulter(obj)
