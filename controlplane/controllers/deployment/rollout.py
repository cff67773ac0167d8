"""One sync of one Deployment: its working copy and every write the sync makes.

The working copy (a clone of the cached Deployment) collects the status and the revision
annotation as the sync goes; ``save_status`` writes them. Kubernetes writes both through the
status subresource; here the status subresource changes status only, so a changed annotation
is written first with a plain update (the spec is unchanged, so the generation is too).
Scaling a ReplicaSet writes it and records the ScalingReplicaSet event on the Deployment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.controllers.deployment import strategy
from controlplane.controllers.deployment.replicasets import (
    replicas_annotations_need_update,
    set_replicas_annotations,
    spec_replicas,
)
from controlplane.controllers.events import NORMAL, EventRecorder
from controlplane.controllers.informer import Informer
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import apps_pb2


@dataclass
class Rollout:
    deployment: apps_pb2.Deployment
    client: ApiClient
    recorder: EventRecorder
    timing: Timing
    replica_sets: Informer[apps_pb2.ReplicaSet]
    requeue_after: Callable[[float], None]
    clock: Callable[[], float] = time.time
    _saved_annotations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._saved_annotations = dict(self.deployment.metadata.annotations)

    @property
    def d(self) -> apps_pb2.Deployment:
        return self.deployment

    def now(self) -> float:
        return self.clock()

    def event(self, event_type: str, reason: str, message: str) -> None:
        self.recorder.event(self.deployment, event_type, reason, message)

    async def save_status(self) -> None:
        """Write the working copy's annotations (if changed) and its status."""
        d = self.deployment
        if dict(d.metadata.annotations) != self._saved_annotations:
            updated = await self.client.update(d)
            d.metadata.resource_version = updated.metadata.resource_version
            self._saved_annotations = dict(d.metadata.annotations)
        written = await self.client.update_status(d)
        d.metadata.resource_version = written.metadata.resource_version

    async def scale_replica_set(self, rs: apps_pb2.ReplicaSet,
                                new_scale: int) -> tuple[bool, apps_pb2.ReplicaSet]:
        """Set the ReplicaSet's size (and its desired/max replica annotations); True when the
        size changed."""
        d = self.deployment
        old_scale = spec_replicas(rs)
        size_changes = old_scale != new_scale
        desired = strategy.replicas(d)
        maximum = desired + strategy.max_surge(d)
        if not size_changes and not replicas_annotations_need_update(rs, desired, maximum):
            return False, rs
        update = clone(rs)
        update.spec.replicas = new_scale
        set_replicas_annotations(update, desired, maximum)
        written = await self.client.update(update)
        if size_changes:
            direction = "up" if old_scale < new_scale else "down"
            self.event(NORMAL, "ScalingReplicaSet",
                       f"Scaled {direction} replica set {written.metadata.name} from "
                       f"{old_scale} to {new_scale}")
        return size_changes, written
