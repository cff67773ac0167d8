"""Which table each kind prints with."""

from __future__ import annotations

from kemu.api.kinds import Kind
from kemuctl.printers import misc, network, pods, workloads
from kemuctl.printers.table import GENERIC, KindTable

_TABLES: dict[str, KindTable] = {
    "Pod": pods.PODS,
    "Node": pods.NODES,
    "ReplicaSet": workloads.REPLICA_SETS,
    "ReplicationController": workloads.REPLICATION_CONTROLLERS,
    "Deployment": workloads.DEPLOYMENTS,
    "DaemonSet": workloads.DAEMON_SETS,
    "StatefulSet": workloads.STATEFUL_SETS,
    "Job": workloads.JOBS,
    "CronJob": workloads.CRON_JOBS,
    "ControllerRevision": workloads.CONTROLLER_REVISIONS,
    "Service": network.SERVICES,
    "Endpoints": network.ENDPOINTS,
    "Namespace": misc.NAMESPACES,
    "Event": misc.EVENTS,
    "PersistentVolumeClaim": misc.PERSISTENT_VOLUME_CLAIMS,
    "ConfigMap": misc.CONFIG_MAPS,
    "Lease": misc.LEASES,
}


def table_for(kind: Kind, wide: bool = False) -> KindTable:
    if kind.name == "Service" and wide:
        return network.SERVICES_WIDE
    return _TABLES.get(kind.name, GENERIC)
