"""The ReplicaSet controller: keep ``spec.replicas`` active pods that match the selector.

One implementation serves ReplicaSets and ReplicationControllers (``replicationcontroller.py``
supplies the adapter), as in Kubernetes. Each sync:

1. claims pods (``refmanager``): keeps its own, adopts matching orphans, releases pods whose
   labels stopped matching;
2. when the informer has caught up with its own creates and deletes (expectations), creates
   the missing pods in slow-start batches (1, 2, 4, ...) or deletes the surplus in Kubernetes'
   ranking (``activepods``), at most ``BURST_REPLICAS`` per sync;
3. writes the status: replicas (active pods; terminating ones do not count),
   fullyLabeledReplicas, readyReplicas, availableReplicas (ready for minReadySeconds x
   timing.scale, re-checked exactly when the next pod becomes available), observedGeneration,
   and the ReplicaFailure condition while creates or deletes fail.

An owner being deleted creates and deletes nothing: its pods are the garbage collector's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from controlplane.controllers.activepods import pods_to_delete
from controlplane.controllers.base import Controller
from controlplane.controllers.expectations import EXPECTATIONS_TTL, Expectations
from controlplane.controllers.informer import (
    CONTROLLER_UID_INDEX,
    ORPHANS_INDEX,
    Informer,
    by_controller_uid,
    orphans_by_namespace,
)
from controlplane.controllers.podcontrol import PodControl, pod_from_template
from controlplane.controllers.podfacts import PodFacts, PodFactsCache, facts_of
from controlplane.controllers.readiness import ReadyTimes
from controlplane.controllers.refmanager import (
    AdoptionRefusedError,
    RefManager,
    recheck_deletion_timestamp,
)
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import kinds, labels
from kemu.api.errors import ApiError, Code
from kemu.api.meta import controller_of, key_of, now_rfc3339
from kemu.api.pods import FAILED, SUCCEEDED, ReadySince, stamped_ready_since
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1
# A status-only sync reads every pod of the set. A set of more than this many replicas waits
# one batch period per this many (at most MAX_BATCH_PERIODS), so those syncs cost each pod the
# same whatever the set's size, instead of growing with it: 5000 replicas, 0.5 s.
REPLICAS_PER_BATCH_PERIOD = 1000
MAX_BATCH_PERIODS = 10
REPLICA_FAILURE = "ReplicaFailure"


@dataclass(frozen=True)
class ReplicaKind:
    """What differs between ReplicaSets and ReplicationControllers."""

    controller_name: str
    component: str
    message: type[Message]
    selector_of: Callable[[Any], labels.Selector | None]


def replica_set_selector(rs: apps_pb2.ReplicaSet) -> labels.Selector | None:
    """The selector; None when absent or empty (validation requires one): such an owner is
    left alone rather than made to claim every pod or release its own."""
    if not rs.spec.HasField("selector"):
        return None
    selector = labels.from_label_selector(rs.spec.selector)
    return None if selector.empty() else selector


REPLICA_SET = ReplicaKind("replicaset", "replicaset-controller", apps_pb2.ReplicaSet,
                          replica_set_selector)


def desired_replicas(owner: Any) -> int:
    return int(owner.spec.replicas) if owner.spec.HasField("replicas") else 1


async def slow_start_batch(count: int, initial: int,
                           attempt: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Run ``attempt`` ``count`` times in batches of 1, 2, 4, ... (each batch concurrently),
    stopping after the first batch with a failure. Returns the successes and that failure."""
    successes = 0
    remaining = count
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(attempt() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure
        successes += batch - len(failures)
        if failures:
            first = failures[0]
            assert isinstance(first, Exception)
            return successes, first
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def _status_only(old: Any, new: Any) -> bool:
    """Whether an owner's update changed nothing but its status (and resourceVersion)."""
    was, now = old.metadata, new.metadata
    return (was.generation == now.generation and old.spec == new.spec
            and was.labels == now.labels and was.annotations == now.annotations
            and list(was.owner_references) == list(now.owner_references)
            and was.deletion_timestamp == now.deletion_timestamp
            and list(was.finalizers) == list(now.finalizers))


def kept_and_undecided(candidates: list[tuple[core_pb2.Pod, PodFacts]], owner_uid: str,
                       selector: labels.Selector) -> tuple[list[core_pb2.Pod], list[core_pb2.Pod]]:
    """The pods a sync keeps without the ref manager — ours and still selected, nearly every
    pod on every sync — and the others, for the ref manager to adopt or release."""
    kept: list[core_pb2.Pod] = []
    undecided: list[core_pb2.Pod] = []
    for pod, known in candidates:
        if known.controller_uid == owner_uid and known.matches(selector):
            kept.append(pod)
        else:
            undecided.append(pod)
    return kept, undecided


def calculate_status(owner: Any, pods: list[core_pb2.Pod], manage_error: Exception | None,
                     min_ready: float, now: float,
                     facts: Callable[[core_pb2.Pod], PodFacts] = facts_of,
                     ready_since: ReadySince = stamped_ready_since,
                     template: labels.Selector | None = None) -> Any:
    """The owner's new status from its active pods (``min_ready`` already scaled);
    ``template``: the selector of the pod template's labels, if the caller keeps one."""
    status = clone(owner.status)
    template = template or labels.from_labels(owner.spec.template.metadata.labels)
    fully_labeled = ready = available = 0
    for pod in pods:
        known = facts(pod)
        if known.matches(template):
            fully_labeled += 1
        if known.ready:
            ready += 1
            if _available(pod, known, min_ready, now, ready_since):
                available += 1
    failure = next((c for c in status.conditions if c.type == REPLICA_FAILURE), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - desired_replicas(owner)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        status.conditions.add(type=REPLICA_FAILURE, status="True", reason=reason,
                              message=str(manage_error), last_transition_time=now_rfc3339(now))
    elif manage_error is None and failure is not None:
        kept = [c for c in status.conditions if c.type != REPLICA_FAILURE]
        del status.conditions[:]
        status.conditions.extend(kept)
    status.replicas = len(pods)
    status.fully_labeled_replicas = fully_labeled
    status.ready_replicas = ready
    status.available_replicas = available
    return status


def _available(pod: core_pb2.Pod, known: PodFacts, min_ready: float, now: float,
               ready_since: ReadySince) -> bool:
    """Ready for ``min_ready`` seconds (kemu.api.pods.is_available, readiness from the facts)."""
    if not known.ready:
        return False
    if min_ready <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready <= now


def next_availability(pods: list[core_pb2.Pod], min_ready: float, now: float,
                      facts: Callable[[core_pb2.Pod], PodFacts] = facts_of,
                      ready_since: ReadySince = stamped_ready_since) -> float | None:
    """Seconds until the next ready pod becomes available, or None if none is waiting."""
    if min_ready <= 0:
        return None
    soonest: float | None = None
    for pod in pods:
        if not facts(pod).ready:
            continue
        since = ready_since(pod)
        if since is None or since + min_ready <= now:
            continue
        remaining = since + min_ready - now
        soonest = remaining if soonest is None else min(soonest, remaining)
    return soonest


class DeletionExpectations:
    """Expectations whose deletions are tracked per pod (Kubernetes' UID-tracking kind), so a
    pod seen first terminating and then gone counts once."""

    def __init__(self, ttl: float = EXPECTATIONS_TTL):
        self.counts = Expectations(ttl)
        self._pending: dict[str, set[str]] = {}

    def satisfied(self, key: str) -> bool:
        return self.counts.satisfied(key)

    def expect_creations(self, key: str, count: int) -> None:
        self.counts.expect(key, adds=count)
        self._pending.pop(key, None)

    def creation_observed(self, key: str) -> None:
        self.counts.creation_observed(key)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self.counts.expect(key, deletes=len(pod_keys))
        self._pending[key] = set(pod_keys)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        pending = self._pending.get(key)
        if pending is not None and pod_key in pending:
            pending.discard(pod_key)
            self.counts.deletion_observed(key)

    def forget(self, key: str) -> None:
        self.counts.forget(key)
        self._pending.pop(key, None)


class ReplicaSetController(Controller):
    workers = 5

    def __init__(self, context: ControllerContext, kind: ReplicaKind = REPLICA_SET):
        self.name = kind.controller_name
        super().__init__(context.timing.queue_retry_base, context.timing.queue_retry_max,
                         context.is_leader)
        self.kind = kind
        self.kind_name = kinds.of_class(kind.message).name
        self.client = context.client
        self.timing = context.timing
        self.recorder = context.recorder(kind.component)
        self.pod_control = PodControl(context.client, self.recorder)
        # Not scaled by the timing profile (as the DaemonSet controller's): a safety net for lost
        # events, and 300 x 0.05 = 15 s ran out under load while a large batch of creations was
        # still arriving: a 5000-pod burst created 500 pods too many.
        self.expectations = DeletionExpectations()
        self.owners: Informer[Any] = context.informers.informer(kind.message)
        self.owners.add_indexer(CONTROLLER_UID_INDEX, by_controller_uid)
        self.pods = context.informers.informer(core_pb2.Pod)
        self.pods.add_indexer(CONTROLLER_UID_INDEX, by_controller_uid)
        self.pods.add_indexer(ORPHANS_INDEX, orphans_by_namespace)
        self._selectors: dict[tuple[str, int], labels.Selector | None] = {}
        self._templates: dict[tuple[str, int], labels.Selector] = {}
        self.facts = PodFactsCache()
        self.owners.add_handler(self._owner_added, self._owner_updated, self._owner_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.ready_times = ReadyTimes()
        self.ready_times.attach(self.pods)

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    # -- selectors ------------------------------------------------------------------------
    def selector(self, owner: Any) -> labels.Selector | None:
        """The owner's selector (cached per generation); None when missing or invalid."""
        cache_key = (owner.metadata.uid, owner.metadata.generation)
        if cache_key not in self._selectors:
            found: labels.Selector | None
            try:
                found = self.kind.selector_of(owner)
            except labels.SelectorError as exc:
                log.error("%s %s: invalid selector: %s", self.kind_name, key_of(owner), exc)
                found = None
            if len(self._selectors) > 10000:
                self._selectors.clear()
            self._selectors[cache_key] = found
        return self._selectors[cache_key]

    def template_selector(self, owner: Any) -> labels.Selector:
        """The pod template's labels as a selector (fullyLabeledReplicas), cached per
        generation like the selector."""
        cache_key = (owner.metadata.uid, owner.metadata.generation)
        found = self._templates.get(cache_key)
        if found is None:
            if len(self._templates) > 10000:
                self._templates.clear()
            found = self._templates[cache_key] = labels.from_labels(
                owner.spec.template.metadata.labels)
        return found

    # -- event handlers -------------------------------------------------------------------
    def _owner_added(self, owner: Any) -> None:
        self.enqueue(key_of(owner))

    def _owner_updated(self, old: Any, new: Any) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._owner_deleted(old)
        if _status_only(old, new):
            self._enqueue_batched(key_of(new))  # mostly our own status write coming back
        else:
            self.enqueue(key_of(new))

    def _enqueue_batched(self, key: str) -> None:
        """Sync ``key`` within the status batch period rather than now: while a large
        ReplicaSet's pods start, each sync reads all of them, and one sync per period covers
        every status change that arrived in it. Creations, deletions and changes of labels,
        owners or spec still sync at once."""
        self.queue.add_after(key, self.batch_period(self.owners.get(key)))

    def batch_period(self, owner: Any | None) -> float:
        """The status batch period, longer for sets of over REPLICAS_PER_BATCH_PERIOD."""
        replicas = desired_replicas(owner) if owner is not None else 0
        periods = min(max(1.0, replicas / REPLICAS_PER_BATCH_PERIOD), MAX_BATCH_PERIODS)
        return self.timing.replicaset_status_batch_period * periods

    def _enqueue_observed(self, key: str) -> None:
        """After a pod was created or deleted: sync at once if the set expects no more of its
        own creations and deletions (the sync may decide on replicas again), else within the
        batch period. Until the last expected one is seen a sync manages nothing and only
        updates the status, so while a batch of 500 creations comes back the set does not read
        all its pods once per pod."""
        if self.expectations.satisfied(key):
            self.enqueue(key)
        else:
            self._enqueue_batched(key)

    def _owner_deleted(self, owner: Any) -> None:
        key = key_of(owner)
        self.expectations.forget(key)
        self._selectors.pop((owner.metadata.uid, owner.metadata.generation), None)
        self._templates.pop((owner.metadata.uid, owner.metadata.generation), None)
        self.enqueue(key)

    def _resolve(self, namespace: str, ref: Any) -> Any | None:
        return self.owners.resolve_ref(self.kind_name, namespace, ref)

    def _owners_selecting(self, pod: core_pb2.Pod) -> list[Any]:
        return self.owners.selecting(pod, self.selector)

    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.metadata.deletion_timestamp:
            self._pod_deleted(pod)
            return
        ref = controller_of(pod)
        if ref is not None:
            owner = self._resolve(pod.metadata.namespace, ref)
            if owner is not None:
                key = key_of(owner)
                self.expectations.creation_observed(key)
                self._enqueue_observed(key)
            return
        for owner in self._owners_selecting(pod):
            self.enqueue(key_of(owner))

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        self.facts.forget(old)
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        labels_changed = old.metadata.labels != new.metadata.labels
        if new.metadata.deletion_timestamp:
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        new_ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                self.enqueue(key_of(previous))
        if new_ref is not None:
            owner = self._resolve(new.metadata.namespace, new_ref)
            if owner is not None:
                finished = new.status.phase != old.status.phase and \
                    new.status.phase in (SUCCEEDED, FAILED)
                if ref_changed or labels_changed or finished:
                    self.enqueue(key_of(owner))  # it may need a new pod, or let one go
                else:
                    self._enqueue_batched(key_of(owner))  # bound, running, ready ...
            return
        if labels_changed or ref_changed:
            for owner in self._owners_selecting(new):
                self.enqueue(key_of(owner))

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        if not pod.metadata.deletion_timestamp:
            self.facts.forget(pod)  # gone (a terminating pod is still in the informer)
        ref = controller_of(pod)
        if ref is None:
            return
        owner = self._resolve(pod.metadata.namespace, ref)
        if owner is None:
            return
        key = key_of(owner)
        self.expectations.deletion_observed(key, key_of(pod))
        self._enqueue_observed(key)

    # -- sync -----------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.forget(key)
            return
        needs_sync = self.expectations.satisfied(key)
        selector = self.selector(owner)
        if selector is None:
            return
        facts = self.facts
        pods, undecided = kept_and_undecided(self._candidates(owner), owner.metadata.uid,
                                             selector)
        if undecided:
            manager = RefManager(self.client, owner,
                                 lambda pod: facts(pod).matches(selector),
                                 recheck_deletion_timestamp(self.client, owner),
                                 lambda pod: facts(pod).controller_uid)
            try:
                pods.extend(await manager.claim(undecided))
            except AdoptionRefusedError as exc:
                log.info("%s %s: %s", self.kind_name, key, exc)
                return
        manage_error: Exception | None = None
        if needs_sync and not owner.metadata.deletion_timestamp:
            try:
                await self._manage_replicas(key, owner, pods)
            except ApiError as exc:
                manage_error = exc
        min_ready = owner.spec.min_ready_seconds * self.timing.scale
        now = time.time()
        status = calculate_status(owner, pods, manage_error, min_ready, now, facts,
                                  self.ready_times.since, self.template_selector(owner))
        await self._write_status(owner, status)
        wait = next_availability(pods, min_ready, now, facts, self.ready_times.since)
        if manage_error is None and wait is not None:
            self.queue.add_after(key, max(wait, 0.0) + 0.01)
        if manage_error is not None:
            raise manage_error

    def _candidates(self, owner: Any) -> list[tuple[core_pb2.Pod, PodFacts]]:
        """Active pods we control plus active orphans in our namespace, with their facts."""
        owned = self.pods.by_index(CONTROLLER_UID_INDEX, owner.metadata.uid)
        orphans = self.pods.by_index(ORPHANS_INDEX, owner.metadata.namespace)
        facts = self.facts
        return [(p, known) for p in owned + orphans if (known := facts(p)).active]

    async def _manage_replicas(self, key: str, owner: Any, pods: list[core_pb2.Pod]) -> None:
        desired = desired_replicas(owner)
        diff = len(pods) - desired
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            log.debug("%s %s: too few replicas (need %d), creating %d", self.kind_name, key,
                      desired, count)
            created, failure = await slow_start_batch(
                count, SLOW_START_INITIAL_BATCH, lambda: self._create_pod(key, owner))
            for _ in range(count - created):
                self.expectations.creation_observed(key)
            if failure is not None:
                raise failure
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            log.debug("%s %s: too many replicas (need %d), deleting %d", self.kind_name, key,
                      desired, count)
            victims = pods_to_delete(pods, self._related_pods(owner), count, time.time())
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(key, owner, p) for p in victims),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def _create_pod(self, key: str, owner: Any) -> None:
        pod = pod_from_template(owner.spec.template, owner)
        try:
            await self.pod_control.create(pod, owner)
        except ApiError as exc:
            if exc.code == Code.PERMISSION_DENIED and "being terminated" in exc.message:
                # The namespace is going away and every create fails: not a failure to report.
                self.expectations.creation_observed(key)
                return
            raise

    async def _delete_pod(self, key: str, owner: Any, pod: core_pb2.Pod) -> None:
        try:
            await self.pod_control.delete(pod, owner)
        except ApiError:
            self.expectations.deletion_observed(key, key_of(pod))
            raise

    def _related_pods(self, owner: Any) -> list[core_pb2.Pod]:
        """Pods of every owner that shares our controller (a Deployment's ReplicaSets)."""
        ref = controller_of(owner)
        if ref is None:
            return []
        related: dict[str, core_pb2.Pod] = {}
        for sibling in self.owners.by_index(CONTROLLER_UID_INDEX, ref.uid):
            for pod in self.pods.by_index(CONTROLLER_UID_INDEX, sibling.metadata.uid):
                related.setdefault(pod.metadata.uid, pod)
        return list(related.values())

    async def _write_status(self, owner: Any, status: Any) -> None:
        current = owner.status
        if (current.replicas == status.replicas
                and current.fully_labeled_replicas == status.fully_labeled_replicas
                and current.ready_replicas == status.ready_replicas
                and current.available_replicas == status.available_replicas
                and owner.metadata.generation == current.observed_generation
                and list(current.conditions) == list(status.conditions)):
            return
        status.observed_generation = owner.metadata.generation
        target = owner
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            update = clone(target)
            update.status.CopyFrom(status)
            try:
                await self.client.update_status(update)
                return
            except ApiError as exc:
                if exc.code != Code.ABORTED or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            target = await self.client.get(type(owner), owner.metadata.name,
                                           owner.metadata.namespace)


@register("replicaset")
def make_replicaset_controller(context: ControllerContext) -> Controller:
    return ReplicaSetController(context, REPLICA_SET)

