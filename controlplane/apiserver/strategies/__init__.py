"""The Strategy of every kind."""

from __future__ import annotations

from controlplane.apiserver.strategies.batch import CronJobStrategy, JobStrategy
from controlplane.apiserver.strategies.core import (
    ConfigMapStrategy,
    EndpointsStrategy,
    EventStrategy,
    LeaseStrategy,
    NamespaceStrategy,
    NodeStrategy,
    PersistentVolumeClaimStrategy,
    ServiceStrategy,
)
from controlplane.apiserver.strategies.pods import PodStrategy
from controlplane.apiserver.strategies.workloads import (
    ControllerRevisionStrategy,
    DaemonSetStrategy,
    DeploymentStrategy,
    ReplicaSetStrategy,
    ReplicationControllerStrategy,
    StatefulSetStrategy,
)
from controlplane.apiserver.strategy import Strategy
from kemu.api.kinds import Kind
from kemu.timing import Timing

_SPECIAL: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "ReplicaSet": ReplicaSetStrategy,
    "ReplicationController": ReplicationControllerStrategy,
    "Deployment": DeploymentStrategy,
    "DaemonSet": DaemonSetStrategy,
    "StatefulSet": StatefulSetStrategy,
    "ControllerRevision": ControllerRevisionStrategy,
    "Job": JobStrategy,
    "CronJob": CronJobStrategy,
    "Namespace": NamespaceStrategy,
    "Node": NodeStrategy,
    "Service": ServiceStrategy,
    "Endpoints": EndpointsStrategy,
    "ConfigMap": ConfigMapStrategy,
    "PersistentVolumeClaim": PersistentVolumeClaimStrategy,
    "Lease": LeaseStrategy,
    "Event": EventStrategy,
}


def strategy_for(kind: Kind, timing: Timing) -> Strategy:
    return _SPECIAL.get(kind.name, Strategy)(kind, timing)
