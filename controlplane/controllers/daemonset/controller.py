"""The DaemonSet controller: informers and handlers, and ``sync`` tying the pieces together.

A sync reads the DaemonSet, the nodes and its pods from the informers, records the current
template as a ControllerRevision, creates and deletes pods so every eligible node has exactly
one (``manage``), advances a rolling update, trims the history and writes the status.
Expectations stop it from acting twice on a cache that has not yet seen its own writes.

Node events cost O(DaemonSets): a node that joins, or whose labels or taints change, enqueues
only the DaemonSets whose eligibility for that node changed; a node that leaves enqueues those
that could have had a pod there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from controlplane.controllers import informer as informers
from controlplane.controllers.base import Controller
from controlplane.controllers.daemonset import updatestrategy
from controlplane.controllers.daemonset.backoff import Backoff
from controlplane.controllers.daemonset.claims import ControllerRefManager
from controlplane.controllers.daemonset.eligibility import (
    Eligibility,
    node_should_run,
    simulated_pod_spec,
)
from controlplane.controllers.daemonset.placement import pods_should_be_on_node
from controlplane.controllers.daemonset.revisions import matches, new_revision
from controlplane.controllers.daemonset.rolling import plan_rolling_update
from controlplane.controllers.daemonset.status import DaemonSetCounts, count_status
from controlplane.controllers.daemonset.template import (
    CONTROLLER_REVISION_HASH,
    create_pod_template,
    replace_node_name_affinity,
    target_node_name,
    template_generation,
)
from controlplane.controllers.events import WARNING
from controlplane.controllers.expectations import Expectations
from controlplane.controllers.history import History, max_revision, sort_revisions
from controlplane.controllers.podcontrol import PodControl, pod_from_template
from controlplane.controllers.readiness import ReadyTimes
from controlplane.controllers.registry import ControllerContext, register
from kemu.api import labels as labelsel
from kemu.api.errors import ApiError, Code, Reason
from kemu.api.meta import controller_of, key_of
from kemu.api.pods import is_ready, is_terminal
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

# Pods created or deleted per DaemonSet in one sync, at most (Kubernetes' BurstReplicas).
BURST_REPLICAS = 250
SLOW_START_INITIAL_BATCH = 1
KIND = "DaemonSet"


def _selector(ds: apps_pb2.DaemonSet) -> labelsel.Selector:
    if not ds.spec.HasField("selector"):
        return labelsel.Selector.nothing()
    return labelsel.from_label_selector(ds.spec.selector)


def _valid_selector(ds: apps_pb2.DaemonSet) -> labelsel.Selector | None:
    """The selector, or None when it does not parse (such a DaemonSet adopts nothing)."""
    try:
        return _selector(ds)
    except labelsel.SelectorError:
        return None


def _selects_everything(ds: apps_pb2.DaemonSet) -> bool:
    selector = ds.spec.selector
    return ds.spec.HasField("selector") and not selector.match_labels and \
        not selector.match_expressions


class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2

    def __init__(self, context: ControllerContext):
        timing = context.timing
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, context.is_leader)
        self.client = context.client
        self.timing = timing
        self.recorder = context.recorder("daemonset-controller")
        self.pod_control = PodControl(self.client, self.recorder)
        self.expectations = Expectations()
        self.failed_pods_backoff = Backoff(timing.daemonset_failed_backoff_base,
                                           timing.daemonset_failed_backoff_max)
        factory = context.informers
        self.daemonsets = factory.informer(apps_pb2.DaemonSet)
        self.pods = factory.informer(core_pb2.Pod)
        self.nodes = factory.informer(core_pb2.Node)
        self.revisions = factory.informer(apps_pb2.ControllerRevision)
        for inf in (self.pods, self.revisions):
            inf.add_indexer(informers.CONTROLLER_UID_INDEX, informers.by_controller_uid)
            inf.add_indexer(informers.ORPHANS_INDEX, informers.orphans_by_namespace)
        self.history = History(self.client, self.revisions)
        # DaemonSet uid -> (generation, the spec of the pod it would create).
        self._specs: dict[str, tuple[int, core_pb2.PodSpec]] = {}
        self.daemonsets.add_handler(self._add_daemonset, self._update_daemonset,
                                    self._delete_daemonset)
        self.pods.add_handler(self._add_pod, self._update_pod, self._delete_pod)
        self.ready_times = ReadyTimes()
        self.ready_times.attach(self.pods)
        self.nodes.add_handler(self._add_node, self._update_node, self._delete_node)
        self.revisions.add_handler(self._add_revision, self._update_revision,
                                   self._delete_revision)

    async def start(self) -> None:
        self.recorder.start()
        await super().start()
        self.spawn(self._collect_backoff(), "backoff-gc")

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    async def _collect_backoff(self) -> None:
        while True:
            # Entries untouched for twice the maximum delay are expired.
            await asyncio.sleep(2 * max(self.timing.daemonset_failed_backoff_max,
                                        self.timing.queue_retry_base))
            self.failed_pods_backoff.gc(time.monotonic())

    # -- eligibility ------------------------------------------------------------------------
    def _pod_spec(self, ds: apps_pb2.DaemonSet) -> core_pb2.PodSpec:
        cached = self._specs.get(ds.metadata.uid)
        if cached is not None and cached[0] == ds.metadata.generation:
            return cached[1]
        spec = simulated_pod_spec(ds)
        self._specs[ds.metadata.uid] = (ds.metadata.generation, spec)
        return spec

    def eligibility(self, node: core_pb2.Node, ds: apps_pb2.DaemonSet) -> Eligibility:
        return node_should_run(node, ds, self._pod_spec(ds))

    # -- lookups ------------------------------------------------------------------------------
    def _resolve(self, namespace: str, ref: Any) -> apps_pb2.DaemonSet | None:
        return self.daemonsets.resolve_ref(KIND, namespace, ref)

    def _daemonsets_selecting(self, obj: Any) -> list[apps_pb2.DaemonSet]:
        found = self.daemonsets.selecting(obj, _valid_selector)
        if len(found) > 1:
            log.warning("user error: more than one DaemonSet selects %s with labels %s",
                        obj.metadata.name, dict(obj.metadata.labels))
        return found

    def _enqueue(self, ds: apps_pb2.DaemonSet) -> None:
        self.enqueue(key_of(ds))

    def _enqueue_after(self, ds: apps_pb2.DaemonSet, delay: float) -> None:
        self.queue.add_after(key_of(ds), delay)

    # -- DaemonSet handlers -------------------------------------------------------------------
    def _add_daemonset(self, ds: apps_pb2.DaemonSet) -> None:
        self._enqueue(ds)

    def _update_daemonset(self, old: apps_pb2.DaemonSet, new: apps_pb2.DaemonSet) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._delete_daemonset(old)
        self._enqueue(new)

    def _delete_daemonset(self, ds: apps_pb2.DaemonSet) -> None:
        key = key_of(ds)
        self.expectations.forget(key)
        self._specs.pop(ds.metadata.uid, None)
        self.failed_pods_backoff.forget_prefix(ds.metadata.uid + "/")
        self.enqueue(key)

    # -- pod handlers -------------------------------------------------------------------------
    def _add_pod(self, pod: core_pb2.Pod) -> None:
        if pod.metadata.deletion_timestamp:
            # Seen for the first time already being deleted: not a creation we wait for.
            self._delete_pod(pod)
            return
        ref = controller_of(pod)
        if ref is not None:
            ds = self._resolve(pod.metadata.namespace, ref)
            if ds is not None:
                self.expectations.creation_observed(key_of(ds))
                self._enqueue(ds)
            return
        for ds in self._daemonsets_selecting(pod):
            self._enqueue(ds)

    def _update_pod(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        if new.metadata.deletion_timestamp:
            # A graceful deletion began: act on it now, not when the kubelet finishes.
            self._delete_pod(new)
            return
        new_ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            ds = self._resolve(new.metadata.namespace, new_ref)
            if ds is None:
                return
            self._enqueue(ds)
            if not is_ready(old) and is_ready(new) and ds.spec.min_ready_seconds > 0:
                # Look again when the pod turns available (plus a second of clock skew).
                self._enqueue_after(ds, (ds.spec.min_ready_seconds + 1) * self.timing.scale)
            return
        if ref_changed or old.metadata.labels != new.metadata.labels:
            for ds in self._daemonsets_selecting(new):
                self._enqueue(ds)

    def _delete_pod(self, pod: core_pb2.Pod) -> None:
        ref = controller_of(pod)
        if ref is None:
            return
        ds = self._resolve(pod.metadata.namespace, ref)
        if ds is None:
            return
        self.expectations.deletion_observed(key_of(ds))
        self._enqueue(ds)

    # -- node handlers ------------------------------------------------------------------------
    def _add_node(self, node: core_pb2.Node) -> None:
        for ds in self.daemonsets.list():
            if self.eligibility(node, ds).should_run:
                self._enqueue(ds)

    def _update_node(self, old: core_pb2.Node, new: core_pb2.Node) -> None:
        # Only labels and taints (and the name) decide eligibility.
        if old.metadata.labels == new.metadata.labels and old.spec.taints == new.spec.taints:
            return
        for ds in self.daemonsets.list():
            if self.eligibility(old, ds) != self.eligibility(new, ds):
                self._enqueue(ds)

    def _delete_node(self, node: core_pb2.Node) -> None:
        for ds in self.daemonsets.list():
            if self.eligibility(node, ds).should_continue:
                self._enqueue(ds)

    # -- ControllerRevision handlers ----------------------------------------------------------
    def _add_revision(self, revision: apps_pb2.ControllerRevision) -> None:
        if revision.metadata.deletion_timestamp:
            self._delete_revision(revision)
            return
        ref = controller_of(revision)
        if ref is not None:
            ds = self._resolve(revision.metadata.namespace, ref)
            if ds is not None:
                self._enqueue(ds)
            return
        for ds in self._daemonsets_selecting(revision):
            self._enqueue(ds)

    def _update_revision(self, old: apps_pb2.ControllerRevision,
                         new: apps_pb2.ControllerRevision) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        new_ref, old_ref = controller_of(new), controller_of(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            previous = self._resolve(old.metadata.namespace, old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            ds = self._resolve(new.metadata.namespace, new_ref)
            if ds is not None:
                self._enqueue(ds)
            return
        if ref_changed or old.metadata.labels != new.metadata.labels:
            for ds in self._daemonsets_selecting(new):
                self._enqueue(ds)

    def _delete_revision(self, revision: apps_pb2.ControllerRevision) -> None:
        ref = controller_of(revision)
        if ref is None:
            return
        ds = self._resolve(revision.metadata.namespace, ref)
        if ds is not None:
            self._enqueue(ds)

    # -- claiming -----------------------------------------------------------------------------
    def _ref_manager(self, ds: apps_pb2.DaemonSet) -> ControllerRefManager:
        async def recheck() -> apps_pb2.DaemonSet:
            return await self.client.get(apps_pb2.DaemonSet, ds.metadata.name,
                                         ds.metadata.namespace)
        return ControllerRefManager(self.client, ds, _selector(ds), recheck)

    @staticmethod
    def _candidates(inf: informers.Informer[Any], ds: apps_pb2.DaemonSet) -> list[Any]:
        """Objects ``ds`` controls, and the orphans of its namespace."""
        return [*inf.by_index(informers.CONTROLLER_UID_INDEX, ds.metadata.uid),
                *inf.by_index(informers.ORPHANS_INDEX, ds.metadata.namespace)]

    async def daemon_pods(self, ds: apps_pb2.DaemonSet) -> list[core_pb2.Pod]:
        return await self._ref_manager(ds).claim(self._candidates(self.pods, ds))

    async def node_to_daemon_pods(self, ds: apps_pb2.DaemonSet,
                                  include_deleted_terminal: bool = False
                                  ) -> dict[str, list[core_pb2.Pod]]:
        grouped: dict[str, list[core_pb2.Pod]] = {}
        for pod in await self.daemon_pods(ds):
            if not include_deleted_terminal and is_terminal(pod) and \
                    pod.metadata.deletion_timestamp:
                continue  # the kubelet or pod GC finishes it; nothing left to do here
            node_name = target_node_name(pod)
            if node_name is None:
                log.debug("pod %s of DaemonSet %s names no node", pod.metadata.name,
                          ds.metadata.name)
                continue
            grouped.setdefault(node_name, []).append(pod)
        return grouped

    # -- sync ---------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.forget(key)
            return
        if _selects_everything(ds):
            self.recorder.event(ds, WARNING, "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector "
                                "is required.")
            return
        try:
            selector = _selector(ds)
        except labelsel.SelectorError as exc:
            log.warning("DaemonSet %s has an invalid selector: %s", key, exc)
            return
        if not selector.matches(ds.spec.template.metadata.labels):
            # The API server should have refused it; acting would create pods without end.
            log.warning("DaemonSet %s: selector does not match template labels", key)
            return
        if ds.metadata.deletion_timestamp:
            # Its history may already be gone or orphaned; the status cannot be trusted.
            return
        nodes = self.nodes.list()
        current, old = await self.construct_history(ds)
        revision_hash = current.metadata.labels[CONTROLLER_REVISION_HASH]
        if not self.expectations.satisfied(key):
            await self.update_status(ds, nodes, revision_hash, observed_generation=False)
            return
        failure: Exception | None = None
        try:
            await self.update_daemonset(ds, nodes, revision_hash, key, old)
        except Exception as exc:
            failure = exc
        try:
            await self.update_status(ds, nodes, revision_hash, observed_generation=True)
        except Exception:
            if failure is None:
                raise
            log.warning("DaemonSet %s: status not written", key, exc_info=True)
        if failure is not None:
            raise failure

    async def update_daemonset(self, ds: apps_pb2.DaemonSet, nodes: Sequence[core_pb2.Node],
                               revision_hash: str, key: str,
                               old: list[apps_pb2.ControllerRevision]) -> None:
        await self.manage(ds, nodes, revision_hash)
        if self.expectations.satisfied(key) and \
                updatestrategy.strategy_type(ds) == updatestrategy.ROLLING_UPDATE:
            await self.rolling_update(ds, nodes, revision_hash)
        await self.cleanup_history(ds, old)

    def _min_ready(self, ds: apps_pb2.DaemonSet) -> float:
        return ds.spec.min_ready_seconds * self.timing.scale

    async def manage(self, ds: apps_pb2.DaemonSet, nodes: Sequence[core_pb2.Node],
                     revision_hash: str) -> None:
        node_to_pods = await self.node_to_daemon_pods(ds)
        surge = updatestrategy.allows_surge(ds)
        now, monotonic_now = time.time(), time.monotonic()
        to_create: list[str] = []
        to_delete: list[core_pb2.Pod] = []
        for node in nodes:
            name = node.metadata.name
            backoff_key = f"{ds.metadata.uid}/{ds.status.observed_generation}/{name}"
            decision = pods_should_be_on_node(
                name, self.eligibility(node, ds), node_to_pods.get(name, ()), revision_hash,
                surge, self._min_ready(ds), self.failed_pods_backoff, backoff_key, now,
                monotonic_now, self.ready_times.since)
            if decision.create:
                to_create.append(name)
            to_delete.extend(decision.delete)
            for event_type, reason, message in decision.events:
                self.recorder.event(ds, event_type, reason, message)
            if decision.retry_after is not None:
                self._enqueue_after(ds, decision.retry_after)
        # Pods for nodes that are gone: nothing will ever run them.
        existing = {n.metadata.name for n in nodes}
        for name, pods in node_to_pods.items():
            if name not in existing:
                to_delete.extend(p for p in pods if not p.metadata.deletion_timestamp)
        await self.sync_nodes(ds, to_delete, to_create, revision_hash)

    async def sync_nodes(self, ds: apps_pb2.DaemonSet, to_delete: Sequence[core_pb2.Pod],
                         to_create: Sequence[str], revision_hash: str) -> None:
        """Create pods on ``to_create`` and delete ``to_delete``, with expectations set first
        and creations in slow-start batches (1, 2, 4 ...) that stop at the first failure."""
        key = key_of(ds)
        creates = min(len(to_create), BURST_REPLICAS)
        deletes = min(len(to_delete), BURST_REPLICAS)
        self.expectations.expect(key, creates, deletes)
        errors: list[BaseException] = []
        template = create_pod_template(ds.spec.template, template_generation(ds), revision_hash)
        position, batch = 0, min(creates, SLOW_START_INITIAL_BATCH)
        while position < creates:
            results = await asyncio.gather(
                *(self._create_on(ds, template, to_create[i])
                  for i in range(position, position + batch)), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            position += batch
            if failed:
                errors.extend(failed)
                skipped = creates - position
                if skipped > 0:
                    self.expectations.lower(key, adds=skipped)
                break
            batch = min(2 * batch, creates - position)
        results = await asyncio.gather(*(self._delete(ds, pod) for pod in to_delete[:deletes]),
                                       return_exceptions=True)
        errors.extend(r for r in results if isinstance(r, BaseException))
        if errors:
            raise errors[0]

    async def _create_on(self, ds: apps_pb2.DaemonSet, template: core_pb2.PodTemplateSpec,
                         node_name: str) -> None:
        pod = pod_from_template(template, ds)
        replace_node_name_affinity(pod.spec, node_name)
        try:
            await self.pod_control.create(pod, ds)
        except ApiError as exc:
            self.expectations.creation_observed(key_of(ds))
            if exc.reason == Reason.FORBIDDEN.value and "being terminated" in str(exc):
                return  # the namespace is going away; every later create fails the same way
            raise

    async def _delete(self, ds: apps_pb2.DaemonSet, pod: core_pb2.Pod) -> None:
        try:
            deleted = await self.pod_control.delete(pod, ds)
        except ApiError:
            self.expectations.deletion_observed(key_of(ds))
            raise
        if not deleted:
            self.expectations.deletion_observed(key_of(ds))

    async def rolling_update(self, ds: apps_pb2.DaemonSet, nodes: Sequence[core_pb2.Node],
                             revision_hash: str) -> None:
        node_to_pods = await self.node_to_daemon_pods(ds)
        by_name = {n.metadata.name: n for n in nodes}
        desired = 0
        for node in nodes:
            if self.eligibility(node, ds).should_run:
                desired += 1
                node_to_pods.setdefault(node.metadata.name, [])

        def should_run(node_name: str) -> bool:
            node = by_name.get(node_name)
            return node is not None and self.eligibility(node, ds).should_run

        try:
            max_surge = updatestrategy.surge_count(ds, desired)
            max_unavailable = updatestrategy.unavailable_count(ds, desired)
        except updatestrategy.InvalidIntOrPercentError as exc:
            log.warning("DaemonSet %s: %s", key_of(ds), exc)
            return
        plan = plan_rolling_update(node_to_pods, should_run, desired, max_surge, max_unavailable,
                                   revision_hash, template_generation(ds), self._min_ready(ds),
                                   time.time(), self.ready_times.since)
        if plan.delete or plan.create_on:
            await self.sync_nodes(ds, plan.delete, plan.create_on, revision_hash)

    # -- history ------------------------------------------------------------------------------
    async def controlled_revisions(self, ds: apps_pb2.DaemonSet
                                   ) -> list[apps_pb2.ControllerRevision]:
        return await self._ref_manager(ds).claim(self._candidates(self.revisions, ds))

    async def construct_history(self, ds: apps_pb2.DaemonSet
                                ) -> tuple[apps_pb2.ControllerRevision,
                                           list[apps_pb2.ControllerRevision]]:
        """The current revision (created if missing, renumbered if older than another) and
        the old ones."""
        current: list[apps_pb2.ControllerRevision] = []
        old: list[apps_pb2.ControllerRevision] = []
        for revision in await self.controlled_revisions(ds):
            if CONTROLLER_REVISION_HASH not in revision.metadata.labels:
                labelled = clone(revision)
                labelled.metadata.labels[CONTROLLER_REVISION_HASH] = revision.metadata.name
                revision = await self.client.update(labelled)
            (current if matches(ds, revision) else old).append(revision)
        number = max_revision(old) + 1
        if not current:
            return await self.snapshot(ds, number), old
        keep = await self.dedup_current(ds, current)
        if keep.revision < number:
            keep = await self.history.update_revision_number(keep, number)
        return keep, old

    async def snapshot(self, ds: apps_pb2.DaemonSet,
                       number: int) -> apps_pb2.ControllerRevision:
        revision = new_revision(ds, number)
        try:
            return await self.client.create(revision)
        except ApiError as exc:
            if exc.code != Code.ALREADY_EXISTS:
                raise
            existing = await self.client.get(apps_pb2.ControllerRevision,
                                             revision.metadata.name, ds.metadata.namespace)
            if matches(ds, existing):
                return existing
            # Another template has this name: count a collision so the next hash differs.
            fresh = await self.client.get(apps_pb2.DaemonSet, ds.metadata.name,
                                          ds.metadata.namespace)
            if fresh.status.collision_count != ds.status.collision_count:
                raise RuntimeError(
                    f"found a stale collision count ({ds.status.collision_count}, expected "
                    f"{fresh.status.collision_count}) of DaemonSet {ds.metadata.name!r} while "
                    f"processing; will retry until it is updated") from None
            fresh.status.collision_count = fresh.status.collision_count + 1
            await self.client.update_status(fresh)
            log.info("found a hash collision for DaemonSet %s - bumping collisionCount to %d",
                     ds.metadata.name, fresh.status.collision_count)
            raise

    async def dedup_current(self, ds: apps_pb2.DaemonSet,
                            current: list[apps_pb2.ControllerRevision]
                            ) -> apps_pb2.ControllerRevision:
        """Several revisions hold the current template: keep the newest, relabel the pods of
        the others to it, and delete the others."""
        if len(current) == 1:
            return current[0]
        keep = max(current, key=lambda r: r.revision)
        keep_hash = keep.metadata.labels[CONTROLLER_REVISION_HASH]
        for pod in await self.daemon_pods(ds):
            if pod.metadata.labels.get(CONTROLLER_REVISION_HASH) != keep_hash:
                await self.client.patch(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                        {"metadata": {"labels": {
                                            CONTROLLER_REVISION_HASH: keep_hash}}})
        for revision in current:
            if revision.metadata.name != keep.metadata.name:
                await self.history.delete_controller_revision(revision)
        return keep

    async def cleanup_history(self, ds: apps_pb2.DaemonSet,
                              old: list[apps_pb2.ControllerRevision]) -> None:
        """Delete the oldest old revisions beyond revisionHistoryLimit, sparing any a pod
        still runs."""
        excess = len(old) - updatestrategy.revision_history_limit(ds)
        if excess <= 0:
            return
        node_to_pods = await self.node_to_daemon_pods(ds, include_deleted_terminal=True)
        live = {p.metadata.labels.get(CONTROLLER_REVISION_HASH)
                for pods in node_to_pods.values() for p in pods}
        for revision in sort_revisions(old):
            if excess <= 0:
                break
            if revision.metadata.labels.get(CONTROLLER_REVISION_HASH) in live:
                continue
            await self.history.delete_controller_revision(revision)
            excess -= 1

    # -- status -------------------------------------------------------------------------------
    async def update_status(self, ds: apps_pb2.DaemonSet, nodes: Sequence[core_pb2.Node],
                            revision_hash: str, observed_generation: bool) -> None:
        node_to_pods = await self.node_to_daemon_pods(ds)
        counts = count_status(nodes, lambda n: self.eligibility(n, ds).should_run, node_to_pods,
                              revision_hash, template_generation(ds), self._min_ready(ds),
                              time.time(), self.ready_times.since)
        if counts.differs_from(ds.status) or \
                ds.status.observed_generation < ds.metadata.generation:
            await self._store_status(ds, counts, observed_generation)
        if ds.spec.min_ready_seconds > 0 and counts.number_ready != counts.number_available:
            # The last line of defence: look again when the ready pods should be available.
            self._enqueue_after(ds, self._min_ready(ds))

    async def _store_status(self, ds: apps_pb2.DaemonSet, counts: DaemonSetCounts,
                            observed_generation: bool) -> None:
        target = clone(ds)
        for attempt in range(2):
            if observed_generation:
                target.status.observed_generation = ds.metadata.generation
            counts.write_to(target.status)
            try:
                await self.client.update_status(target)
                return
            except ApiError as exc:
                if exc.reason != Reason.CONFLICT.value or attempt == 1:
                    raise
            target = await self.client.get(apps_pb2.DaemonSet, ds.metadata.name,
                                           ds.metadata.namespace)


@register("daemonset")
def _daemonset_controller(context: ControllerContext) -> Controller:
    return DaemonSetController(context)
