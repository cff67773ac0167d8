"""The node lifecycle controller (kube-controller-manager's ``nodelifecycle``): notices nodes that
stop heartbeating and taints them, so the scheduler avoids them and the taint-eviction controller
moves their pods away.

Every ``node_monitor_period`` it looks at each node's Lease in ``kube-node-lease`` and at its
Ready condition's heartbeat. A renewal counts when the controller *sees* ``renewTime`` advance,
timed by the controller's own clock (as Kubernetes does), so clock skew between machines does
not matter. A node not heard from for ``node_monitor_grace_period`` (``node_startup_grace_period``
for a node that never posted status) gets Ready, MemoryPressure, DiskPressure and PIDPressure set
to Unknown ("Kubelet stopped posting node status."), its pods marked not Ready, and an event
``NodeNotReady``.

Taints follow the conditions:
- NoSchedule, at once, from the conditions and ``spec.unschedulable`` (taint-nodes-by-condition):
  ``node.kubernetes.io/unreachable`` for Ready=Unknown, ``not-ready`` for Ready=False,
  ``memory-pressure`` and friends, ``unschedulable`` for a cordoned node;
- NoExecute ``unreachable``/``not-ready``, from the next monitor pass on, at most one node per
  zone per ``node_eviction_interval`` (``--node-eviction-rate``). When a whole zone is down the
  rate drops (to zero in a small cluster); when *every* node is down the controller assumes the
  fault is its own connectivity, removes the NoExecute taints and evicts nothing, exactly like
  Kubernetes. Taints go once the node is Ready again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from controlplane.controllers.base import Controller
from controlplane.controllers.events import NORMAL, WARNING, EventRecorder
from controlplane.controllers.informer import Informer, by_node_name
from controlplane.controllers.registry import ControllerContext, register
from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339, parse_time
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import coordination_pb2, core_pb2

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
CONDITION_TAINT_KEYS = frozenset(CONDITION_TAINTS.values())
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
UNHEALTHY_ZONE_THRESHOLD = 0.55
LARGE_CLUSTER_THRESHOLD = 50
# --secondary-node-eviction-rate is a tenth of --node-eviction-rate.
SECONDARY_RATE_FACTOR = 0.1
_TAINT_RETRIES = 5
_MAX_CONCURRENT_NODES = 8

STATE_INITIAL = "Initial"
STATE_NORMAL = "Normal"
STATE_FULL_DISRUPTION = "FullDisruption"
STATE_PARTIAL_DISRUPTION = "PartialDisruption"

Clock = Callable[[], float]


def ready_condition(node: core_pb2.Node) -> core_pb2.NodeCondition | None:
    for condition in node.status.conditions:
        if condition.type == "Ready":
            return condition
    return None


def zone_key(node: core_pb2.Node) -> str:
    labels = node.metadata.labels
    zone = labels.get("topology.kubernetes.io/zone",
                      labels.get("failure-domain.beta.kubernetes.io/zone", ""))
    region = labels.get("topology.kubernetes.io/region",
                        labels.get("failure-domain.beta.kubernetes.io/region", ""))
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def has_taint(node: core_pb2.Node, key: str, effect: str) -> bool:
    return any(t.key == key and t.effect == effect for t in node.spec.taints)


# -- taint writes -------------------------------------------------------------------------
async def swap_taints(client: ApiClient, name: str, add: Iterable[tuple[str, str]],
                      remove: Iterable[tuple[str, str]],
                      cached: core_pb2.Node | None = None) -> bool:
    """Add (key, effect) taints stamped with timeAdded and remove others, in one write.

    Returns False when the node is gone or the write keeps conflicting.
    """
    adding, removing = list(add), list(remove)
    node = cached
    for _ in range(_TAINT_RETRIES):
        try:
            if node is None:
                node = await client.get(core_pb2.Node, name)
            changed = clone(node)
            kept = [t for t in changed.spec.taints if (t.key, t.effect) not in removing]
            now = now_rfc3339()
            for key, effect in adding:
                if not any(t.key == key and t.effect == effect for t in kept):
                    kept.append(core_pb2.Taint(key=key, effect=effect, time_added=now))
            if [(t.key, t.value, t.effect) for t in kept] == \
                    [(t.key, t.value, t.effect) for t in node.spec.taints]:
                return True
            del changed.spec.taints[:]
            changed.spec.taints.extend(kept)
            await client.update(changed)
            return True
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return False
            if exc.code != Code.ABORTED:
                log.warning("node=%s: cannot update taints: %s", name, exc)
                return False
            node = None
    return False


# -- rate-limited NoExecute tainting ------------------------------------------------------
class TokenBucket:
    """One token per ``1 / qps`` seconds, holding at most one (client-go's, burst 1)."""

    def __init__(self, qps: float, clock: Clock):
        self.qps = qps
        self.clock = clock
        self.tokens = 1.0
        self.stamp = clock()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = self.clock()
        self.tokens = min(1.0, self.tokens + (now - self.stamp) * self.qps)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Timed:
    name: str
    uid: str
    process_at: float


class TaintQueue:
    """Nodes waiting for a NoExecute taint in one zone (RateLimitedTimedQueue).

    A node added once is not added again until ``remove`` (it was healthy again, or its taint
    disappeared), even after it has been processed.
    """

    def __init__(self, qps: float, clock: Clock):
        self.clock = clock
        self.limiter = TokenBucket(qps, clock)
        self._queue: dict[str, _Timed] = {}
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, name: str, uid: str) -> bool:
        if name in self._known:
            return False
        self._known.add(name)
        self._queue[name] = _Timed(name, uid, self.clock())
        return True

    def remove(self, name: str) -> bool:
        if name not in self._known:
            return False
        self._known.discard(name)
        self._queue.pop(name, None)
        return True

    def swap_limiter(self, qps: float) -> None:
        if qps == self.limiter.qps:
            return
        drained = not self.limiter.try_accept()
        self.limiter = TokenBucket(qps, self.clock)
        if drained:
            self.limiter.try_accept()

    async def process(self, action: Callable[[_Timed], Awaitable[tuple[bool, float]]]) -> None:
        while self._queue:
            head = min(self._queue.values(), key=lambda v: v.process_at)
            if not self.limiter.try_accept():
                return
            now = self.clock()
            if now < head.process_at:
                return
            done, wait = await action(head)
            if head.name not in self._queue:
                continue
            if done:
                del self._queue[head.name]
            else:
                head.process_at = now + wait


# -- per-node health ----------------------------------------------------------------------
@dataclass
class NodeHealth:
    ready: core_pb2.NodeCondition | None
    probe: float
    ready_transition: float
    lease_renew: float | None = None


def compute_zone_state(conditions: list[core_pb2.NodeCondition | None]) -> tuple[int, str]:
    ready = sum(1 for c in conditions if c is not None and c.status == "True")
    not_ready = len(conditions) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, STATE_FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return not_ready, STATE_PARTIAL_DISRUPTION
    return not_ready, STATE_NORMAL


class NodeLifecycleController(Controller):
    name = "nodelifecycle"

    def __init__(self, client: ApiClient, nodes: Informer[core_pb2.Node],
                 leases: Informer[coordination_pb2.Lease], pods: Informer[core_pb2.Pod],
                 timing: Timing, recorder: EventRecorder,
                 is_leader: Callable[[], bool] = lambda: True, clock: Clock = time.time,
                 view_lag: Callable[[], float] = lambda: 0.0):
        super().__init__(timing.queue_retry_base, timing.queue_retry_max, is_leader)
        # Seconds our informers are behind (the watch cache behind our own writes): a lease
        # renewed meanwhile is not seen yet, so that long is added to the grace periods.
        self.view_lag = view_lag
        self.client = client
        self.nodes = nodes
        self.leases = leases
        self.pods = pods
        self.timing = timing
        self.recorder = recorder
        self.clock = clock
        self.eviction_qps = 1.0 / timing.node_eviction_interval
        self.health: dict[str, NodeHealth] = {}
        self.known: dict[str, core_pb2.Node] = {}
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, TaintQueue] = {}
        self.nodes_to_retry: set[str] = set()
        self._tainting = asyncio.Event()
        pods.add_indexer("spec.nodeName", by_node_name)
        nodes.add_handler(lambda n: self.enqueue(n.metadata.name),
                          lambda _o, n: self.enqueue(n.metadata.name), None)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await super().start()
        self.spawn(self._monitor_forever(), "monitor")
        self.spawn(self._taint_forever(), "noexecute")

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    async def _monitor_forever(self) -> None:
        while True:
            if self.is_leader():
                try:
                    await self.monitor_node_health()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("monitoring node health failed")
            await asyncio.sleep(self.timing.node_monitor_period)

    async def _taint_forever(self) -> None:
        while True:
            if not any(len(q) for q in self.tainters.values()):
                self._tainting.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._tainting.wait(), self.timing.node_monitor_period)
                continue
            if self.is_leader():
                await self.do_no_execute_tainting_pass()
            await asyncio.sleep(min(0.1, self.timing.node_monitor_period))

    # -- NoSchedule taints from conditions (taint-nodes-by-condition) ---------------------
    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        wanted = {(CONDITION_TAINTS[(c.type, c.status)], NO_SCHEDULE)
                  for c in node.status.conditions if (c.type, c.status) in CONDITION_TAINTS}
        if node.spec.unschedulable:
            wanted.add((UNSCHEDULABLE, NO_SCHEDULE))
        have = {(t.key, t.effect) for t in node.spec.taints if t.effect == NO_SCHEDULE and
                (t.key == UNSCHEDULABLE or t.key in CONDITION_TAINT_KEYS)}
        add, remove = sorted(wanted - have), sorted(have - wanted)
        if not add and not remove:
            return
        if not await swap_taints(self.client, key, add, remove, node) and \
                self.nodes.get(key) is not None:
            raise ApiError(Code.ABORTED, "Conflict", f"failed to swap taints of node {key}")

    # -- health monitoring ----------------------------------------------------------------
    def _tainter(self, node: core_pb2.Node) -> TaintQueue:
        zone = zone_key(node)
        tainter = self.tainters.get(zone)
        if tainter is None:
            tainter = self.tainters[zone] = TaintQueue(self.eviction_qps, self.clock)
            self.zone_states.setdefault(zone, STATE_INITIAL)
        return tainter

    async def monitor_node_health(self) -> None:
        nodes = self.nodes.list()
        current = {n.metadata.name: n for n in nodes}
        for node in nodes:
            self._tainter(node)
            name = node.metadata.name
            if name not in self.known:
                log.info("node=%s observed", name)
                self.recorder.event(node, NORMAL, "RegisteredNode",
                                    f"Registered Node {name} in Controller")
                self.known[name] = node
                await self.mark_reachable(node)
        for name in [n for n in self.known if n not in current]:
            log.info("node=%s deleted", name)
            gone = self.known.pop(name)
            self.recorder.event(gone, NORMAL, "RemovingNode", f"Removing Node {name} from Controller")
            self.health.pop(name, None)
            self.nodes_to_retry.discard(name)
            for tainter in self.tainters.values():
                tainter.remove(name)
        zone_conditions: dict[str, list[core_pb2.NodeCondition | None]] = {}
        limit = asyncio.Semaphore(_MAX_CONCURRENT_NODES)

        async def one(node: core_pb2.Node) -> None:
            async with limit:
                await self._monitor_node(node, zone_conditions)

        await asyncio.gather(*(one(n) for n in nodes))
        await self.handle_disruption(zone_conditions, nodes)

    async def _monitor_node(self, node: core_pb2.Node,
                            zone_conditions: dict[str, list[core_pb2.NodeCondition | None]]) -> None:
        name = node.metadata.name
        observed = current = None
        working: core_pb2.Node | None = clone(node)
        for _ in range(_TAINT_RETRIES):
            assert working is not None
            try:
                observed, current = await self.try_update_node_health(working)
                break
            except ApiError:
                try:
                    working = await self.client.get(core_pb2.Node, name)
                except ApiError:
                    log.warning("node=%s: cannot re-read it to update its health", name)
                    return
        else:
            return
        assert working is not None
        if EXCLUDE_DISRUPTION_LABEL not in working.metadata.labels:
            zone_conditions.setdefault(zone_key(working), []).append(current)
        if current is None or observed is None:
            self.nodes_to_retry.discard(name)
            return
        await self.process_taint_based_eviction(working, observed)
        went_down = current.status != "True" and observed.status == "True"
        if went_down:
            log.info("node=%s status is now NodeNotReady", name)
            self.recorder.event(working, NORMAL, "NodeNotReady",
                                f"Node {name} status is now: NodeNotReady")
        retry = name in self.nodes_to_retry and observed.status != "True"
        if (went_down or retry) and not await self.mark_pods_not_ready(name):
            self.nodes_to_retry.add(name)
            return
        self.nodes_to_retry.discard(name)

    async def try_update_node_health(
            self, node: core_pb2.Node
    ) -> tuple[core_pb2.NodeCondition, core_pb2.NodeCondition | None]:
        """Kubernetes' tryUpdateNodeHealth: the Ready condition as observed, and as it is now
        (Unknown once the grace period passed without a heartbeat). ``node`` is a private copy."""
        name = node.metadata.name
        now = self.clock()
        health = self.health.get(name)
        current = ready_condition(node)
        created = parse_time(node.metadata.creation_timestamp)
        if current is None:
            observed = core_pb2.NodeCondition(
                type="Ready", status="Unknown", last_heartbeat_time=node.metadata.creation_timestamp,
                last_transition_time=node.metadata.creation_timestamp)
            grace = self.timing.node_startup_grace_period
            if health is None:
                health = NodeHealth(None, created, created)
        else:
            observed = clone(current)
            grace = self.timing.node_monitor_grace_period
        saved = health.ready if health is not None else None
        if health is None or (saved is None and current is not None) or \
                (saved is not None and current is None):
            health = NodeHealth(clone(current) if current is not None else None, now, now,
                                health.lease_renew if health is not None else None)
        elif saved is not None and current is not None and \
                saved.last_heartbeat_time != current.last_heartbeat_time:
            transition = now if saved.last_transition_time != current.last_transition_time \
                else health.ready_transition
            health = NodeHealth(clone(current), now, transition, health.lease_renew)
        lease = self.leases.get_by_name(NODE_LEASE_NAMESPACE, name)
        if lease is not None and lease.spec.renew_time:
            renewed = parse_time(lease.spec.renew_time)
            if health.lease_renew is None or health.lease_renew < renewed:
                health.lease_renew = renewed
                health.probe = now
        self.health[name] = health
        if now <= health.probe + grace + self.view_lag():
            return observed, current
        stamp = now_rfc3339(now)
        for kind in MONITORED_CONDITIONS:
            condition = next((c for c in node.status.conditions if c.type == kind), None)
            if condition is None:
                node.status.conditions.add(
                    type=kind, status="Unknown", reason="NodeStatusNeverUpdated",
                    message="Kubelet never posted node status.",
                    last_heartbeat_time=node.metadata.creation_timestamp,
                    last_transition_time=stamp)
            elif condition.status != "Unknown":
                condition.status = "Unknown"
                condition.reason = "NodeStatusUnknown"
                condition.message = "Kubelet stopped posting node status."
                condition.last_transition_time = stamp
        current = ready_condition(node)
        if current == observed:
            return observed, current
        if not self.is_leader():
            return observed, observed
        await self.client.update_status(node)
        log.info("node=%s not heard from for %.1fs: Ready=Unknown", name, now - health.probe)
        self.health[name] = NodeHealth(clone(current) if current is not None else None,
                                       health.probe, now, health.lease_renew)
        return observed, current

    async def mark_pods_not_ready(self, node_name: str) -> bool:
        """MarkPodsNotReady: each pod on the node gets Ready=False."""
        ok = True
        for pod in self.pods.by_index("spec.nodeName", node_name):
            condition = next((c for c in pod.status.conditions if c.type == "Ready"), None)
            if condition is None or condition.status == "False":
                continue
            changed = clone(pod)
            for c in changed.status.conditions:
                if c.type == "Ready":
                    c.status = "False"
                    c.last_transition_time = now_rfc3339()
            try:
                await self.client.update_status(changed)
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    continue
                log.info("pod=%s/%s: cannot mark it not ready: %s", pod.metadata.namespace,
                         pod.metadata.name, exc)
                ok = False
                continue
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
        return ok

    # -- NoExecute taints -----------------------------------------------------------------
    async def process_taint_based_eviction(self, node: core_pb2.Node,
                                           observed: core_pb2.NodeCondition) -> None:
        name = node.metadata.name
        if observed.status == "False":
            if has_taint(node, UNREACHABLE, NO_EXECUTE):
                await swap_taints(self.client, name, [(NOT_READY, NO_EXECUTE)],
                                  [(UNREACHABLE, NO_EXECUTE)])
            else:
                self.mark_for_tainting(node, "False")
        elif observed.status == "Unknown":
            if has_taint(node, NOT_READY, NO_EXECUTE):
                await swap_taints(self.client, name, [(UNREACHABLE, NO_EXECUTE)],
                                  [(NOT_READY, NO_EXECUTE)])
            else:
                self.mark_for_tainting(node, "Unknown")
        elif observed.status == "True":
            await self.mark_reachable(node)

    def mark_for_tainting(self, node: core_pb2.Node, status: str) -> bool:
        tainter = self._tainter(node)
        name = node.metadata.name
        key = NOT_READY if status == "False" else UNREACHABLE
        if not has_taint(node, key, NO_EXECUTE):
            tainter.remove(name)
        added = tainter.add(name, node.metadata.uid)
        if added:
            self._tainting.set()
        return added

    async def mark_reachable(self, node: core_pb2.Node) -> bool:
        name = node.metadata.name
        if has_taint(node, UNREACHABLE, NO_EXECUTE) or has_taint(node, NOT_READY, NO_EXECUTE):
            await swap_taints(self.client, name, [],
                              [(UNREACHABLE, NO_EXECUTE), (NOT_READY, NO_EXECUTE)])
        return self._tainter(node).remove(name)

    async def do_no_execute_tainting_pass(self) -> None:
        async def taint(entry: _Timed) -> tuple[bool, float]:
            node = self.nodes.get(entry.name)
            if node is None:
                return True, 0.0
            condition = ready_condition(node)
            if condition is None:
                return False, 0.05
            if condition.status == "False":
                add, remove = (NOT_READY, NO_EXECUTE), (UNREACHABLE, NO_EXECUTE)
            elif condition.status == "Unknown":
                add, remove = (UNREACHABLE, NO_EXECUTE), (NOT_READY, NO_EXECUTE)
            else:
                return True, 0.0
            done = await swap_taints(self.client, entry.name, [add], [remove])
            if done:
                log.info("node=%s tainted %s:NoExecute", entry.name, add[0])
            return done, 0.0

        for tainter in list(self.tainters.values()):
            await tainter.process(taint)

    # -- zones ----------------------------------------------------------------------------
    def _set_limiter(self, zone: str, size: int, state: str) -> None:
        tainter = self.tainters.get(zone)
        if tainter is None:
            return
        if state == STATE_PARTIAL_DISRUPTION:
            qps = self.eviction_qps * SECONDARY_RATE_FACTOR if size > LARGE_CLUSTER_THRESHOLD \
                else 0.0
        else:
            qps = self.eviction_qps
        tainter.swap_limiter(qps)

    async def handle_disruption(self, zone_conditions: dict[str, list[core_pb2.NodeCondition | None]],
                                nodes: list[core_pb2.Node]) -> None:
        new_states: dict[str, str] = {}
        all_are_down = True
        for zone, conditions in zone_conditions.items():
            _, state = compute_zone_state(conditions)
            if state != STATE_FULL_DISRUPTION:
                all_are_down = False
            new_states[zone] = state
            self.zone_states.setdefault(zone, STATE_INITIAL)
        all_were_down = True
        for zone in list(self.zone_states):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if self.zone_states[zone] != STATE_FULL_DISRUPTION:
                all_were_down = False
                break
        if all_are_down and all_were_down:
            # A NoExecute taint written as the last nodes went down (the tainting pass runs on
            # its own) may have landed after the pass that entered this mode looked.
            for node in nodes:
                current = self.nodes.get(node.metadata.name) or node
                if has_taint(current, UNREACHABLE, NO_EXECUTE) or \
                        has_taint(current, NOT_READY, NO_EXECUTE):
                    await self.mark_reachable(current)
            return
        if all_are_down:
            log.info("every node is not ready: entering master disruption mode "
                     "(NoExecute taints removed, nothing evicted)")
            # Stop tainting first, then remove the taints as the cache shows them now.
            for zone in self.zone_states:
                if zone in self.tainters:
                    self.tainters[zone].swap_limiter(0.0)
            for node in nodes:
                await self.mark_reachable(self.nodes.get(node.metadata.name) or node)
            for zone in self.zone_states:
                self.zone_states[zone] = STATE_FULL_DISRUPTION
            return
        if all_were_down:
            log.info("some nodes are ready again: leaving master disruption mode")
            now = self.clock()
            for node in nodes:
                health = self.health.get(node.metadata.name)
                if health is not None:
                    health.probe = health.ready_transition = now
            for zone in self.zone_states:
                state = new_states.get(zone, STATE_NORMAL)
                self._set_limiter(zone, len(zone_conditions.get(zone, [])), state)
                self.zone_states[zone] = state
            return
        for zone, state in list(self.zone_states.items()):
            new_state = new_states.get(zone)
            if new_state is None:
                del self.zone_states[zone]
                continue
            if state == new_state:
                continue
            log.info("zone %r is now in state %s", zone.replace("\x00", ""), new_state)
            self._set_limiter(zone, len(zone_conditions[zone]), new_state)
            self.zone_states[zone] = new_state


@register("nodelifecycle")
def build(context: ControllerContext) -> Controller:
    factory = context.informers
    return NodeLifecycleController(
        context.client, factory.informer(core_pb2.Node), factory.informer(coordination_pb2.Lease),
        factory.informer(core_pb2.Pod), context.timing, context.recorder("node-controller"),
        context.is_leader, view_lag=context.view_lag)
