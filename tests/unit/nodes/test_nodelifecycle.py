"""The node lifecycle controller's clock logic with a fake clock and an in-memory API: lease
renewals seen by the controller's own clock, the grace periods, rate-limited NoExecute tainting
and the all-nodes-down safety."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.controllers.events import EventRecorder
from controlplane.controllers.informer import Informer
from controlplane.controllers.nodelifecycle import (
    NO_EXECUTE,
    STATE_FULL_DISRUPTION,
    STATE_NORMAL,
    STATE_PARTIAL_DISRUPTION,
    UNREACHABLE,
    NodeLifecycleController,
    TaintQueue,
    TokenBucket,
    compute_zone_state,
    ready_condition,
    zone_key,
)
from kemu.api.meta import now_rfc3339, now_rfc3339_micro
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import coordination_pb2, core_pb2
from tests.unit.nodes.fakes import FakeClient, FakeClock, deliver

pytestmark = pytest.mark.unit

GRACE = FAST.node_monitor_grace_period


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.client = FakeClient()
        client: Any = self.client
        self.nodes: Informer[core_pb2.Node] = Informer(client, core_pb2.Node)
        self.leases: Informer[coordination_pb2.Lease] = Informer(client, coordination_pb2.Lease)
        self.pods: Informer[core_pb2.Pod] = Informer(client, core_pb2.Pod)
        self.recorder = EventRecorder(client, "test")
        self.controller = NodeLifecycleController(
            client, self.nodes, self.leases, self.pods, FAST, self.recorder, clock=self.clock)

    def add_node(self, name: str, ready: bool = True, zone: str = "") -> None:
        node = core_pb2.Node()
        node.metadata.name = name
        node.metadata.uid = f"uid-{name}"
        node.metadata.creation_timestamp = now_rfc3339(self.clock())
        if zone:
            node.metadata.labels["topology.kubernetes.io/zone"] = zone
        if ready:
            stamp = now_rfc3339(self.clock())
            node.status.conditions.add(type="Ready", status="True", last_heartbeat_time=stamp,
                                       last_transition_time=stamp)
        self.client.put(node)

    def renew(self, name: str) -> None:
        lease = coordination_pb2.Lease()
        lease.metadata.name = name
        lease.metadata.namespace = "kube-node-lease"
        lease.spec.renew_time = now_rfc3339_micro(self.clock())
        self.client.put(lease)

    def node(self, name: str) -> core_pb2.Node:
        found: core_pb2.Node = self.client.objects[("Node", name)]
        return found

    async def monitor(self) -> None:
        deliver(self.client, self.nodes, self.leases, self.pods)
        await self.controller.monitor_node_health()
        deliver(self.client, self.nodes, self.leases, self.pods)

    async def taint_pass(self) -> None:
        await self.controller.do_no_execute_tainting_pass()
        deliver(self.client, self.nodes, self.leases, self.pods)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.recorder.stop()


def ready_status(node: core_pb2.Node) -> str:
    condition = ready_condition(node)
    return condition.status if condition is not None else ""


def no_execute(node: core_pb2.Node) -> set[str]:
    return {t.key for t in node.spec.taints if t.effect == NO_EXECUTE}


async def test_lease_renewals_keep_a_node_healthy_and_their_absence_does_not(h: Harness) -> None:
    h.add_node("n1")
    h.add_node("n2")
    for _ in range(10):
        h.clock.advance(GRACE / 2)
        h.renew("n1")
        h.renew("n2")
        await h.monitor()
    assert ready_status(h.node("n1")) == "True"
    # n1 stops renewing now.
    h.clock.advance(GRACE * 0.9)
    h.renew("n2")
    await h.monitor()
    assert ready_status(h.node("n1")) == "True", "not yet past the grace period"
    h.clock.advance(GRACE * 0.2)
    h.renew("n2")
    await h.monitor()
    condition = ready_condition(h.node("n1"))
    assert condition is not None
    assert (condition.status, condition.reason) == ("Unknown", "NodeStatusUnknown")
    assert ready_status(h.node("n2")) == "True"


async def test_the_renew_time_itself_is_not_compared_with_the_clock(h: Harness) -> None:
    h.add_node("n1")
    h.add_node("n2")
    lease = coordination_pb2.Lease()
    lease.metadata.name = "n1"
    lease.metadata.namespace = "kube-node-lease"
    # A node whose clock runs an hour behind still counts as renewing.
    for i in range(6):
        lease.spec.renew_time = now_rfc3339_micro(h.clock() - 3600 + i)
        h.client.put(lease)
        h.renew("n2")
        await h.monitor()
        h.clock.advance(GRACE / 2)
    assert ready_status(h.node("n1")) == "True"


async def test_startup_grace_for_a_node_that_never_posted_status(h: Harness) -> None:
    h.add_node("new", ready=False)
    h.add_node("other")
    h.renew("other")
    await h.monitor()
    h.clock.advance(FAST.node_startup_grace_period - 0.5)
    h.renew("other")
    await h.monitor()
    assert ready_condition(h.node("new")) is None
    h.clock.advance(1.0)
    h.renew("other")
    await h.monitor()
    condition = ready_condition(h.node("new"))
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == \
        ("Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status.")


async def test_no_execute_taint_one_pass_later_and_rate_limited_per_zone(h: Harness) -> None:
    for name in ("a", "b", "c", "d", "e"):
        h.add_node(name)
        h.renew(name)
    await h.monitor()
    h.clock.advance(GRACE + 0.1)
    for name in ("c", "d", "e"):
        h.renew(name)
    await h.monitor()
    assert ready_status(h.node("a")) == ready_status(h.node("b")) == "Unknown"
    await h.taint_pass()
    assert not no_execute(h.node("a")) and not no_execute(h.node("b")), \
        "NoExecute waits for the next pass, which sees Unknown as observed"
    await h.monitor()
    await h.taint_pass()
    tainted = [n for n in ("a", "b") if UNREACHABLE in no_execute(h.node(n))]
    assert len(tainted) == 1, "one node per eviction interval in a zone"
    h.clock.advance(FAST.node_eviction_interval)
    await h.taint_pass()
    assert UNREACHABLE in no_execute(h.node("a")) and UNREACHABLE in no_execute(h.node("b"))
    # Back to health: the NoExecute taint goes.
    h.renew("a")
    node = h.node("a")
    node.status.conditions[0].status = "True"
    node.status.conditions[0].last_heartbeat_time = now_rfc3339(h.clock() + 1)
    h.client.put(node)
    await h.monitor()
    await h.monitor()
    assert not no_execute(h.node("a"))


async def test_all_nodes_down_removes_no_execute_taints_and_stops_tainting(h: Harness) -> None:
    h.add_node("a")
    h.add_node("b")
    h.renew("a")
    h.renew("b")
    await h.monitor()
    h.clock.advance(GRACE + 0.1)
    h.renew("b")
    await h.monitor()
    await h.monitor()
    await h.taint_pass()
    assert UNREACHABLE in no_execute(h.node("a"))
    h.clock.advance(GRACE + 0.1)
    await h.monitor()
    await h.monitor()
    h.clock.advance(FAST.node_eviction_interval)
    await h.taint_pass()
    assert ready_status(h.node("b")) == "Unknown"
    assert not no_execute(h.node("a")) and not no_execute(h.node("b"))
    assert h.controller.zone_states[""] == STATE_FULL_DISRUPTION


async def test_a_no_execute_taint_that_lands_as_the_last_node_goes_down_is_removed(
        h: Harness) -> None:
    h.add_node("a")
    h.add_node("b")
    h.renew("a")
    h.renew("b")
    await h.monitor()
    h.clock.advance(GRACE + 0.1)
    h.renew("b")
    await h.monitor()
    assert ready_status(h.node("a")) == "Unknown"
    # The tainting pass writes a's NoExecute taint while the monitor pass in which b goes down
    # (and master disruption mode begins) still works from a cache without it.
    h.clock.advance(GRACE + 0.1)
    tainted = clone(h.node("a"))
    tainted.spec.taints.add(key=UNREACHABLE, effect=NO_EXECUTE, time_added=now_rfc3339(h.clock()))
    h.client.put(tainted)
    await h.controller.monitor_node_health()
    print("AFTER STALE", no_execute(h.node("a")), [w[0]+":"+w[1].metadata.name for w in h.client.writes])
    assert h.controller.zone_states[""] == STATE_FULL_DISRUPTION
    await h.monitor()
    print("AFTER NEXT", no_execute(h.node("a")), [w[0]+":"+w[1].metadata.name for w in h.client.writes])
    assert not no_execute(h.node("a")), "the stray NoExecute taint stayed"
    assert not no_execute(h.node("b"))


def test_zone_states() -> None:
    def conditions(ready: int, not_ready: int) -> list[core_pb2.NodeCondition | None]:
        return [core_pb2.NodeCondition(type="Ready", status="True")] * ready + \
            [core_pb2.NodeCondition(type="Ready", status="Unknown")] * not_ready
    assert compute_zone_state(conditions(0, 2)) == (2, STATE_FULL_DISRUPTION)
    assert compute_zone_state(conditions(3, 2)) == (2, STATE_NORMAL)
    assert compute_zone_state(conditions(2, 3)) == (3, STATE_PARTIAL_DISRUPTION)
    assert compute_zone_state([None, *conditions(1, 0)]) == (1, STATE_NORMAL)


def test_zone_key() -> None:
    node = core_pb2.Node()
    assert zone_key(node) == ""
    node.metadata.labels["topology.kubernetes.io/zone"] = "z1"
    node.metadata.labels["topology.kubernetes.io/region"] = "r1"
    assert zone_key(node) == "r1:\x00:z1"


def test_token_bucket_and_taint_queue_semantics() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock)
    assert bucket.try_accept() and not bucket.try_accept()
    clock.advance(0.5)
    assert bucket.try_accept()
    assert not TokenBucket(0.0, clock).try_accept()
    queue = TaintQueue(1.0, clock)
    assert queue.add("n", "uid") and not queue.add("n", "uid")
    assert queue.remove("n") and queue.add("n", "uid")


async def test_a_lease_the_controller_cannot_have_seen_yet_does_not_make_a_node_unknown(
        h: Harness) -> None:
    """While the informers lag behind the control plane's own writes (a saturated control
    plane), renewals may be written and not delivered yet: the lag is added to the grace."""
    lag = [0.0]
    h.controller.view_lag = lambda: lag[0]
    h.add_node("n1")
    h.renew("n1")
    await h.monitor()
    lag[0] = GRACE * 3
    h.clock.advance(GRACE * 2)
    await h.monitor()
    assert ready_status(h.node("n1")) == "True", "judged on a view known to be behind"
    lag[0] = 0.0
    await h.monitor()
    condition = ready_condition(h.node("n1"))
    assert condition is not None and condition.status == "Unknown"
