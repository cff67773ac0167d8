"""The StatefulSet controller: informers, handlers, and ``sync`` tying the pieces together.

A sync reads the set, its pods, claims and revisions from the informers; adopts orphaned
revisions and claims (adopts, releases) pods named like its members; resolves the current and
update revisions; plans (``plan``) and carries out the creates, updates and deletes; writes
the status; and trims the revision history. ``OrderedReady`` actions run one after another,
``Parallel`` ones in slow-start batches (1, 2, 4, ...).

There are no two pods with one identity: a pod is created under its fixed name, which the API
server refuses while the previous pod of that name exists — terminating, or stuck on a node
that no longer answers — so the set waits for that object to be gone.

The controller remembers the creates and deletes it made until its pod cache shows them, so a
sync triggered by its own status write never repeats them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from controlplane.controllers.base import Controller
from controlplane.controllers.expectations import EXPECTATIONS_TTL
from controlplane.controllers.history import History, sort_revisions
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
from controlplane.controllers.statefulset import revisions as revs
from controlplane.controllers.statefulset.identity import (
    is_member,
    parent_and_ordinal,
    replicas_of,
)
from controlplane.controllers.statefulset.pending import PendingWrites
from controlplane.controllers.statefulset.plan import Action, Plan, Step, Versions, plan
from controlplane.controllers.statefulset.podcontrol import StatefulPodControl
from controlplane.controllers.statefulset.status import (
    complete_rolling_update,
    next_available,
    status_changed,
)
from kemu.api import labels
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of, key_of
from kemu.api.pods import is_ready
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

KIND = "StatefulSet"
STATUS_UPDATE_RETRIES = 2


class ClaimsView(Mapping[str, core_pb2.PersistentVolumeClaim]):
    """The cached claims of one namespace, by name."""

    def __init__(self, informer: Informer[core_pb2.PersistentVolumeClaim], namespace: str):
        self.informer = informer
        self.namespace = namespace

    def __getitem__(self, name: str) -> core_pb2.PersistentVolumeClaim:
        found = self.informer.get_by_name(self.namespace, name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return (c.metadata.name for c in self.informer.list(self.namespace))

    def __len__(self) -> int:
        return len(self.informer.list(self.namespace))


class StatefulSetController(Controller):
    name = "statefulset"
    workers = 5

    def __init__(self, context: ControllerContext):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.timing = timing
        self.recorder = context.recorder("statefulset-controller")
        self.pod_control = StatefulPodControl(self.client, self.recorder)
        # Kubernetes' 5 minutes in every profile, as the ReplicaSet's and DaemonSet's
        # expectations: a TTL scaled to the fast profile (15 s) can run out while a saturated
        # control plane's cache is still behind its own writes (docs/workloads.md).
        self.pending = PendingWrites(EXPECTATIONS_TTL)
        # Pod UID -> when a pod of a set was seen turning ready (see status.ready_since).
        self.ready_seen: dict[str, float] = {}
        factory = context.informers
        self.sets = factory.informer(apps_pb2.StatefulSet)
        self.pods = factory.informer(core_pb2.Pod)
        self.claims = factory.informer(core_pb2.PersistentVolumeClaim)
        self.revisions = factory.informer(apps_pb2.ControllerRevision)
        for informer in (self.pods, self.revisions):
            informer.add_indexer(CONTROLLER_UID_INDEX, by_controller_uid)
            informer.add_indexer(ORPHANS_INDEX, orphans_by_namespace)
        self.history = History(self.client, self.revisions)
        self.sets.add_handler(self._set_added, self._set_updated, self._set_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.claims.add_handler(None, self._claim_updated, self._claim_deleted)

    async def start(self) -> None:
        self.recorder.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    # -- set handlers -------------------------------------------------------------------
    def _set_added(self, sts: apps_pb2.StatefulSet) -> None:
        self.enqueue(key_of(sts))

    def _set_updated(self, old: apps_pb2.StatefulSet, new: apps_pb2.StatefulSet) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._set_deleted(old)
        self.enqueue(key_of(new))

    def _set_deleted(self, sts: apps_pb2.StatefulSet) -> None:
        key = key_of(sts)
        self.pending.forget(key)
        self.enqueue(key)

    # -- pod handlers -------------------------------------------------------------------
    def _resolve(self, namespace: str, ref: Any) -> apps_pb2.StatefulSet | None:
        return self.sets.resolve_ref(KIND, namespace, ref)

    def _sets_selecting(self, pod: core_pb2.Pod) -> list[apps_pb2.StatefulSet]:
        return self.sets.selecting(pod, _selector)

    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.metadata.deletion_timestamp:
            self._pod_deleted(pod)
            return
        ref = controller_of(pod)
        if ref is not None:
            sts = self._resolve(pod.metadata.namespace, ref)
            if sts is not None:
                key = key_of(sts)
                self.pending.created(key, pod.metadata.name)
                self.enqueue(key)
            return
        for sts in self._sets_selecting(pod):
            self.enqueue(key_of(sts))

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        new_ref, old_ref = controller_of(new), controller_of(old)
        if old_ref is not None and new_ref != old_ref:
            previous = self._resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                self.enqueue(key_of(previous))
        if new_ref is not None:
            sts = self._resolve(new.metadata.namespace, new_ref)
            if sts is None:
                return
            key = key_of(sts)
            if new.metadata.deletion_timestamp:
                self.pending.deleted(key, new.metadata.uid)
            if is_ready(new) and not is_ready(old):
                self.ready_seen[new.metadata.uid] = time.time()
            elif not is_ready(new):
                self.ready_seen.pop(new.metadata.uid, None)
            self.enqueue(key)
            if sts.spec.min_ready_seconds > 0 and is_ready(new) and not is_ready(old):
                # Look again when the pod should have been ready long enough.
                self.queue.add_after(key, sts.spec.min_ready_seconds * self.timing.scale)
            return
        if old.metadata.labels != new.metadata.labels or new_ref != old_ref:
            for sts in self._sets_selecting(new):
                self.enqueue(key_of(sts))

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        self.ready_seen.pop(pod.metadata.uid, None)
        ref = controller_of(pod)
        if ref is None:
            return
        sts = self._resolve(pod.metadata.namespace, ref)
        if sts is None:
            return
        key = key_of(sts)
        self.pending.deleted(key, pod.metadata.uid)
        self.enqueue(key)

    # -- claim handlers -----------------------------------------------------------------
    def _claim_updated(self, old: core_pb2.PersistentVolumeClaim,
                       new: core_pb2.PersistentVolumeClaim) -> None:
        if old.metadata.deletion_timestamp != new.metadata.deletion_timestamp or \
                list(old.metadata.owner_references) != list(new.metadata.owner_references):
            self._claim_deleted(new)

    def _claim_deleted(self, claim: core_pb2.PersistentVolumeClaim) -> None:
        """A set may be waiting for this claim to go (a stale claim blocks its pod)."""
        name = claim.metadata.name
        for sts in self.sets.list(claim.metadata.namespace):
            for template in sts.spec.volume_claim_templates:
                prefix = f"{template.metadata.name}-"
                if name.startswith(prefix) and \
                        parent_and_ordinal(name[len(prefix):])[0] == sts.metadata.name:
                    self.enqueue(key_of(sts))
                    break

    # -- sync ---------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None:
            self.pending.forget(key)
            return
        if not self.pending.satisfied(key):
            # The cache has not shown our last creates and deletes yet; their events requeue.
            self.queue.add_after(key, self.pending.ttl)
            return
        selector = _selector(sts)
        if selector is None:
            log.error("StatefulSet %s: invalid or empty selector; not syncing", key)
            return
        revisions = await self._revisions(sts, selector)
        manager = RefManager(self.client, sts,
                             lambda pod: selector.matches(pod.metadata.labels) and
                             is_member(sts, pod),
                             recheck_deletion_timestamp(self.client, sts))
        try:
            pods = await manager.claim(self._candidates(sts))
        except AdoptionRefusedError as exc:
            log.info("StatefulSet %s: %s", key, exc)
            return
        resolved = await revs.resolve(self.history, sts, revisions)
        versions = Versions(resolved.current.metadata.name, revs.template_of(resolved.current),
                            resolved.update.metadata.name, revs.template_of(resolved.update))
        min_ready = sts.spec.min_ready_seconds * self.timing.scale
        now = time.time()
        claims = ClaimsView(self.claims, sts.metadata.namespace)
        decided = plan(sts, versions, pods, claims, resolved.collision_count, min_ready, now,
                       self.ready_seen)
        if decided.waiting:
            log.debug("StatefulSet %s: %s", key, decided.waiting)
        failure = await self._carry_out(key, sts, decided, claims)
        complete_rolling_update(sts, decided.status)
        if status_changed(sts, decided.status):
            await self._write_status(sts, decided.status)
        for revision in revs.history_to_delete(sts, pods, revisions,
                                               [resolved.current, resolved.update]):
            await self.history.delete_controller_revision(revision)
        if failure is not None:
            raise failure
        wait = next_available(pods, min_ready, now, self.ready_seen)
        if wait is not None and decided.status.available_replicas != replicas_of(sts):
            self.queue.add_after(key, max(wait, 0.0) + 0.01)

    def _candidates(self, sts: apps_pb2.StatefulSet) -> list[core_pb2.Pod]:
        """Pods the set controls plus orphans in its namespace (terminating ones included:
        a member is waited for until it is gone)."""
        owned = self.pods.by_index(CONTROLLER_UID_INDEX, sts.metadata.uid)
        orphans = self.pods.by_index(ORPHANS_INDEX, sts.metadata.namespace)
        return owned + orphans

    async def _revisions(self, sts: apps_pb2.StatefulSet, selector: labels.Selector
                         ) -> list[apps_pb2.ControllerRevision]:
        """The set's revisions, oldest first, orphans matching its selector adopted."""
        found = self.history.list_controller_revisions(sts, selector)
        orphans = [r for r in found if controller_of(r) is None]
        if orphans:
            try:
                await recheck_deletion_timestamp(self.client, sts)()
            except AdoptionRefusedError as exc:
                raise RuntimeError(f"can't adopt ControllerRevisions: {exc}") from None
            adopted = {r.metadata.uid: await self.history.adopt_controller_revision(sts, r)
                       for r in orphans}
            found = [adopted.get(r.metadata.uid, r) for r in found]
        return sort_revisions(found)

    async def _carry_out(self, key: str, sts: apps_pb2.StatefulSet, decided: Plan,
                         claims: ClaimsView) -> Exception | None:
        """Run the plan's phases in order; the first failure ends the sync."""
        for phase in decided.phases:
            if not phase:
                continue
            if decided.monotonic:
                for action in phase:
                    try:
                        await self._act(key, sts, action, claims)
                    except Exception as exc:
                        return exc
                continue
            failure = await _slow_start(
                [functools.partial(self._act, key, sts, action, claims) for action in phase])
            if failure is not None:
                return failure
        return None

    async def _act(self, key: str, sts: apps_pb2.StatefulSet, action: Action,
                   claims: ClaimsView) -> None:
        pod = action.pod
        if action.step is Step.CREATE:
            self.pending.expect_create(key, pod.metadata.name)
            try:
                await self.pod_control.create(sts, pod, claims)
            except BaseException:
                self.pending.created(key, pod.metadata.name)
                raise
            log.info("StatefulSet %s: created pod %s", key, pod.metadata.name)
        elif action.step is Step.DELETE:
            self.pending.expect_delete(key, pod.metadata.uid)
            try:
                await self.pod_control.delete(sts, pod)
            except BaseException:
                self.pending.deleted(key, pod.metadata.uid)
                raise
            log.info("StatefulSet %s: deleted pod %s (%s)", key, pod.metadata.name, action.why)
        elif action.step is Step.UPDATE:
            await self.pod_control.update(sts, pod, claims)
        else:
            await self.pod_control.create_missing_claims(sts, pod, claims)

    async def _write_status(self, sts: apps_pb2.StatefulSet,
                            status: apps_pb2.StatefulSetStatus) -> None:
        target = sts
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            update = clone(target)
            update.status.CopyFrom(status)
            try:
                await self.client.update_status(update)
                return
            except ApiError as exc:
                if exc.code != Code.ABORTED or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            target = await self.client.get(apps_pb2.StatefulSet, sts.metadata.name,
                                           sts.metadata.namespace)


def _selector(sts: apps_pb2.StatefulSet) -> labels.Selector | None:
    if not sts.spec.HasField("selector"):
        return None
    try:
        selector = labels.from_label_selector(sts.spec.selector)
    except labels.SelectorError:
        return None
    return None if selector.empty() else selector


async def _slow_start(attempts: list[Any]) -> Exception | None:
    """Run the attempts in batches of 1, 2, 4, ... (each batch concurrently), stopping after
    the first batch with a failure, which is returned."""
    done, batch = 0, 1
    while done < len(attempts):
        chunk = attempts[done:done + batch]
        results = await asyncio.gather(*(attempt() for attempt in chunk), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            return failures[0]
        done += len(chunk)
        batch *= 2
    return None


@register("statefulset")
def _statefulset_controller(context: ControllerContext) -> Controller:
    return StatefulSetController(context)
