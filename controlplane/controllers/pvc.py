"""A PersistentVolumeClaim binder for a cluster without storage.

kemu has no PersistentVolumes, provisioners or disks: nothing is ever mounted, because no
container really runs. So that claims behave as on a cluster with a default StorageClass and
dynamic provisioning, every claim is bound as soon as it exists:

- ``spec.volumeName`` becomes ``pvc-<claim uid>`` (the name dynamic provisioners give the
  volume), unless the claim already names a volume, and the claim gets the annotations
  ``pv.kubernetes.io/bind-completed: "yes"`` and ``pv.kubernetes.io/bound-by-controller: "yes"``;
- ``status.phase`` becomes ``Bound``, ``status.accessModes`` the requested ones and
  ``status.capacity.storage`` the requested storage.

Claims are never released, resized or lost, and no volume outlives its claim; storage classes,
selectors and volume modes are not looked at. A claim being deleted is left alone.
"""

from __future__ import annotations

import logging

from controlplane.controllers.base import Controller
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of
from kemu.client.interface import clone
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

BOUND = "Bound"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def volume_name(claim: core_pb2.PersistentVolumeClaim) -> str:
    return claim.spec.volume_name or f"pvc-{claim.metadata.uid}"


def is_bound(claim: core_pb2.PersistentVolumeClaim) -> bool:
    """Bound to its volume, with the status a binder writes."""
    storage = claim.spec.resources.requests.get("storage")
    capacity = claim.status.capacity.get("storage")
    return (claim.status.phase == BOUND and bool(claim.spec.volume_name)
            and claim.metadata.annotations.get(BIND_COMPLETED) == "yes"
            and list(claim.status.access_modes) == list(claim.spec.access_modes)
            and (storage is None or (capacity is not None and capacity.value == storage.value)))


def bound_spec(claim: core_pb2.PersistentVolumeClaim) -> core_pb2.PersistentVolumeClaim:
    """The claim with its volume named and the binding annotations set."""
    bound = clone(claim)
    if not bound.spec.volume_name:
        bound.spec.volume_name = volume_name(claim)
        bound.metadata.annotations[BOUND_BY_CONTROLLER] = "yes"
    bound.metadata.annotations[BIND_COMPLETED] = "yes"
    return bound


def bound_status(claim: core_pb2.PersistentVolumeClaim) -> core_pb2.PersistentVolumeClaim:
    """The claim with the status of a claim bound to a volume of exactly the requested size."""
    bound = clone(claim)
    bound.status.phase = BOUND
    del bound.status.access_modes[:]
    bound.status.access_modes.extend(claim.spec.access_modes)
    bound.status.capacity.clear()
    storage = claim.spec.resources.requests.get("storage")
    if storage is not None:
        bound.status.capacity["storage"].CopyFrom(storage)
    return bound


class ClaimBinder(Controller):
    name = "persistentvolume-binder"
    workers = 2

    def __init__(self, context: ControllerContext):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.claims = context.informers.informer(core_pb2.PersistentVolumeClaim)
        self.claims.add_handler(self._observe, lambda _old, new: self._observe(new))

    def _observe(self, claim: core_pb2.PersistentVolumeClaim) -> None:
        if not claim.metadata.deletion_timestamp and not is_bound(claim):
            self.enqueue(key_of(claim))

    async def sync(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None or claim.metadata.deletion_timestamp or is_bound(claim):
            return
        try:
            if not claim.spec.volume_name or \
                    claim.metadata.annotations.get(BIND_COMPLETED) != "yes":
                claim = await self.client.update(bound_spec(claim))
            await self.client.update_status(bound_status(claim))
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return
            raise
        log.info("claim %s bound to volume %s", key, claim.spec.volume_name)


@register("persistentvolume-binder")
def _claim_binder(context: ControllerContext) -> Controller:
    return ClaimBinder(context)
