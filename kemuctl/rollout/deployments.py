"""The ReplicaSets a Deployment owns, their revisions and templates."""

from __future__ import annotations

from typing import Any

from kemu.api import labels
from kemu.client.grpc_client import GrpcClient
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"


def revision_of(obj: Any) -> int:
    """The revision annotation as a number (0 when absent or not a number)."""
    try:
        return int(obj.metadata.annotations.get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def has_revision(obj: Any) -> bool:
    try:
        int(obj.metadata.annotations[REVISION_ANNOTATION])
    except (KeyError, ValueError):
        return False
    return True


def owned_by(obj: Any, owner: Any) -> bool:
    return any(r.uid == owner.metadata.uid and r.HasField("controller") and r.controller
               for r in obj.metadata.owner_references)


async def replica_sets_of(client: GrpcClient, deploy: apps_pb2.Deployment
                          ) -> list[apps_pb2.ReplicaSet]:
    """The ReplicaSets whose controller is ``deploy``."""
    selector = str(labels.from_label_selector(deploy.spec.selector))
    result = await client.list(apps_pb2.ReplicaSet, deploy.metadata.namespace,
                               label_selector=selector)
    return [rs for rs in result.items if owned_by(rs, deploy)]


def without_hash(template: core_pb2.PodTemplateSpec) -> core_pb2.PodTemplateSpec:
    copy = clone(template)
    if HASH_LABEL in copy.metadata.labels:
        del copy.metadata.labels[HASH_LABEL]
    return copy


def equal_ignore_hash(a: core_pb2.PodTemplateSpec, b: core_pb2.PodTemplateSpec) -> bool:
    return bool(without_hash(a) == without_hash(b))
