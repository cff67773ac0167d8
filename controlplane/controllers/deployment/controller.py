"""The Deployment controller: watches Deployments, their ReplicaSets and (for Recreate) their
pods, and runs one sync per changed Deployment.

A sync claims ReplicaSets by selector and controller reference (adopting matching orphans,
releasing ones that stopped matching), then, in Kubernetes' order: a Deployment being deleted
only gets its status; paused or scaled ones get ``sync`` (replica counts only); otherwise the
strategy rolls the template out. Every Deployment is also looked at every
``timing.deployment_resync`` seconds, as a safety net.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.deployment import sync as deployment_sync
from controlplane.controllers.deployment.recreate import PodMap, rollout_recreate
from controlplane.controllers.deployment.rolling import rollout_rolling
from controlplane.controllers.deployment.rollout import Rollout
from controlplane.controllers.deployment.strategy import RECREATE, ROLLING_UPDATE, strategy_type
from controlplane.controllers.events import WARNING
from controlplane.controllers.informer import (
    CONTROLLER_UID_INDEX,
    ORPHANS_INDEX,
    Informer,
    by_controller_uid,
    orphans_by_namespace,
)
from controlplane.controllers.refmanager import (
    AdoptionRefusedError,
    RefManager,
    recheck_deletion_timestamp,
)
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import labels
from kemu.api.meta import controller_of, key_of
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

COMPONENT = "deployment-controller"


class DeploymentController(Controller):
    name = "deployment"
    workers = 5

    def __init__(self, context: ControllerContext):
        super().__init__(context.timing.queue_retry_base, context.timing.queue_retry_max,
                         context.is_leader)
        self.client = context.client
        self.timing = context.timing
        self.recorder = context.recorder(COMPONENT)
        self.deployments = context.informers.informer(apps_pb2.Deployment)
        self.replica_sets = context.informers.informer(apps_pb2.ReplicaSet)
        self.replica_sets.add_indexer(CONTROLLER_UID_INDEX, by_controller_uid)
        self.replica_sets.add_indexer(ORPHANS_INDEX, orphans_by_namespace)
        self.pods: Informer[core_pb2.Pod] = context.informers.informer(core_pb2.Pod)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, by_controller_uid)
        self._selectors: dict[tuple[str, int], labels.Selector | None] = {}
        self.deployments.add_handler(self._deployment_changed,
                                     lambda old, new: self._deployment_changed(new),
                                     self._deployment_changed)
        self.replica_sets.add_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pods.add_handler(on_delete=self._pod_deleted)

    async def start(self) -> None:
        await super().start()
        self.spawn(self._resync_forever(), "resync")

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.timing.deployment_resync)
            for d in self.deployments.list():
                self.enqueue(key_of(d))

    # -- selectors ------------------------------------------------------------------------
    def selector(self, d: apps_pb2.Deployment) -> labels.Selector | None:
        """The Deployment's selector; None when it is invalid."""
        cache_key = (d.metadata.uid, d.metadata.generation)
        if cache_key not in self._selectors:
            try:
                found: labels.Selector | None = labels.from_label_selector(d.spec.selector)
            except labels.SelectorError as exc:
                log.error("deployment %s has invalid label selector: %s", key_of(d), exc)
                found = None
            if len(self._selectors) > 10000:
                self._selectors.clear()
            self._selectors[cache_key] = found
        return self._selectors[cache_key]

    # -- event handlers -------------------------------------------------------------------
    def _deployment_changed(self, d: apps_pb2.Deployment) -> None:
        self.enqueue(key_of(d))

    def _resolve(self, namespace: str, ref: Any) -> apps_pb2.Deployment | None:
        return self.deployments.resolve_ref("Deployment", namespace, ref)

    def _deployments_selecting(self, rs: apps_pb2.ReplicaSet) -> list[apps_pb2.Deployment]:
        found = self.deployments.selecting(rs, self.selector)
        if len(found) > 1:
            log.info("user error: more than one deployment is selecting replica set %s",
                     key_of(rs))
        return found

    def _rs_added(self, rs: apps_pb2.ReplicaSet) -> None:
        if rs.metadata.deletion_timestamp:
            self._rs_deleted(rs)
            return
        ref = controller_of(rs)
        if ref is not None:
            d = self._resolve(rs.metadata.namespace, ref)
            if d is not None:
                self.enqueue(key_of(d))
            return
        for d in self._deployments_selecting(rs):
            self.enqueue(key_of(d))

    def _rs_updated(self, old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        new_ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                self.enqueue(key_of(previous))
        if new_ref is not None:
            d = self._resolve(new.metadata.namespace, new_ref)
            if d is not None:
                self.enqueue(key_of(d))
            return
        if ref_changed or old.metadata.labels != new.metadata.labels:
            for d in self._deployments_selecting(new):
                self.enqueue(key_of(d))

    def _rs_deleted(self, rs: apps_pb2.ReplicaSet) -> None:
        ref = controller_of(rs)
        if ref is None:
            return
        d = self._resolve(rs.metadata.namespace, ref)
        if d is not None:
            self.enqueue(key_of(d))

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        """A Recreate rollout waits for the old pods to be gone: look again when none is left."""
        rs_ref = controller_of(pod)
        if rs_ref is None or rs_ref.kind != "ReplicaSet":
            return
        rs = self.replica_sets.get_by_name(pod.metadata.namespace, rs_ref.name)
        if rs is None or rs.metadata.uid != rs_ref.uid:
            return
        d_ref = controller_of(rs)
        d = self._resolve(rs.metadata.namespace, d_ref) if d_ref is not None else None
        if d is None or strategy_type(d) != RECREATE:
            return
        owned = self.replica_sets.by_index(CONTROLLER_UID_INDEX, d.metadata.uid)
        if not any(self.pods.by_index(CONTROLLER_UID_INDEX, s.metadata.uid) for s in owned):
            self.enqueue(key_of(d))

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        cached = self.deployments.get(key)
        if cached is None:
            return
        d = clone(cached)
        rollout = Rollout(d, self.client, self.recorder, self.timing, self.replica_sets,
                          lambda after: self.queue.add_after(key, after))
        selector = self.selector(d)
        if selector is None:
            return
        if selector.empty():
            rollout.event(WARNING, "SelectingAll",
                          "This deployment is selecting all pods. A non-empty selector is "
                          "required.")
            if d.status.observed_generation < d.metadata.generation:
                d.status.observed_generation = d.metadata.generation
                await rollout.save_status()
            return
        try:
            rs_list = await self._claim_replica_sets(d, selector)
        except AdoptionRefusedError as exc:
            log.info("deployment %s: %s", key, exc)
            return
        if d.metadata.deletion_timestamp:
            await deployment_sync.sync_status_only(rollout, rs_list)
            return
        await deployment_sync.check_paused_conditions(rollout)
        if d.spec.paused:
            await deployment_sync.sync(rollout, rs_list)
            return
        if await deployment_sync.is_scaling_event(rollout, rs_list):
            await deployment_sync.sync(rollout, rs_list)
            return
        kind = strategy_type(d)
        if kind == RECREATE:
            await rollout_recreate(rollout, rs_list, self._pods_by_replica_set(rs_list))
        elif kind == ROLLING_UPDATE:
            await rollout_rolling(rollout, rs_list)
        else:
            log.error("deployment %s: unexpected deployment strategy type: %s", key, kind)

    async def _claim_replica_sets(self, d: apps_pb2.Deployment,
                                  selector: labels.Selector) -> list[apps_pb2.ReplicaSet]:
        owned = self.replica_sets.by_index(CONTROLLER_UID_INDEX, d.metadata.uid)
        orphans = self.replica_sets.by_index(ORPHANS_INDEX, d.metadata.namespace)
        manager = RefManager(self.client, d, lambda rs: selector.matches(rs.metadata.labels),
                             recheck_deletion_timestamp(self.client, d))
        return await manager.claim(owned + orphans)

    def _pods_by_replica_set(self, rs_list: list[apps_pb2.ReplicaSet]) -> PodMap:
        return {rs.metadata.uid: self.pods.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid)
                for rs in rs_list}


@register("deployment")
def make_deployment_controller(context: ControllerContext) -> Controller:
    return DeploymentController(context)

