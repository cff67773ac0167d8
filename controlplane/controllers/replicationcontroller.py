"""The ReplicationController controller: the ReplicaSet controller with a map selector.

ReplicationControllers predate ReplicaSets; Kubernetes runs them through the ReplicaSet
controller's code, and so does kemu. Only the selector differs: a plain label map, which the
API defaults to the template's labels when it is left empty.
"""

from __future__ import annotations

from controlplane.controllers.base import Controller
from controlplane.controllers.registry import ControllerContext, register
from controlplane.controllers.replicaset import ReplicaKind, ReplicaSetController
from kemu.api import labels
from kemu.v1 import core_pb2


def replication_controller_selector(rc: core_pb2.ReplicationController) -> labels.Selector | None:
    """``spec.selector``, or the template's labels when it is empty; None when both are."""
    chosen = rc.spec.selector or rc.spec.template.metadata.labels
    return labels.from_labels(chosen) if chosen else None


REPLICATION_CONTROLLER = ReplicaKind("replicationcontroller", "replication-controller",
                                     core_pb2.ReplicationController,
                                     replication_controller_selector)


@register("replicationcontroller")
def make_replication_controller(context: ControllerContext) -> Controller:
    return ReplicaSetController(context, REPLICATION_CONTROLLER)
