"""Node health with real kubelet processes (fast timing profile): a kubelet killed with SIGKILL or
frozen with SIGSTOP, brought back with a restart or SIGCONT; the conditions, taints and pod
evictions the node lifecycle and taint-eviction controllers produce, timed against Kubernetes'
own bounds; pods of a dead node staying Terminating until it returns or is deleted.

Bounds, counted from the signal (the kubelet's last renewal was at most one renew interval
before it, and the controller notices a renewal at its next monitor pass):

- Ready=Unknown and ``unreachable:NoSchedule`` after grace - renew interval at the earliest and
  grace + 2 monitor periods at the latest;
- ``unreachable:NoExecute`` one monitor pass later, plus at most one eviction interval of rate
  limiting (one node per zone per ``node_eviction_interval``);
- a pod is deleted ``tolerationSeconds`` x scale after the NoExecute taint.

MARGIN is what a busy two-core machine may add to each bound.
"""

from __future__ import annotations

import signal
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from tests.e2e.kit import (
    TIMING,
    WAIT,
    Cluster,
    Stopwatch,
    condition,
    events,
    eventually,
    eventually_ready,
    gone,
    is_ready_pod,
    new_namespace,
    pods,
    running_cluster,
    running_pods,
    taints,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NODES = ["node-1", "node-2", "node-3"]
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
GRACE = TIMING.node_monitor_grace_period
PERIOD = TIMING.node_monitor_period
RENEW = TIMING.node_lease_renew_interval
EVICTION = TIMING.node_eviction_interval
SCALE = TIMING.scale
MARGIN = 3.0
EARLIEST_UNKNOWN = GRACE - RENEW
LATEST_UNKNOWN = GRACE + 2 * PERIOD + MARGIN
LATEST_NO_EXECUTE = GRACE + 3 * PERIOD + EVICTION + MARGIN
# The eviction happens tolerationSeconds x scale after the NoExecute taint; the taint is seen
# here a poll later than the controller saw it.
POLL = 0.05


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("node-health"), NODES) as running:
        yield running


@pytest.fixture(autouse=True)
async def every_node_back(cluster: Cluster, api: GrpcClient) -> AsyncIterator[None]:
    """Each test starts with three Ready nodes and leaves them so (even when it failed)."""
    await eventually_ready(api, NODES)
    yield
    for name, process in list(cluster.local.nodes.items()):
        process.signal(signal.SIGCONT)
        if not process.alive():
            cluster.local.restart_node(name)
    await eventually_ready(api, NODES)


def replica_set(name: str, replicas: int, tolerations: str = "") -> str:
    """A ReplicaSet of ``sleep infinity`` pods; ``tolerations`` is YAML for the pod spec."""
    spec = textwrap.indent(textwrap.dedent(tolerations), " " * 6) if tolerations else ""
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: {name}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: main
                image: busybox
                command: ["sleep", "infinity"]
        """) + spec


def tolerate(seconds: int) -> str:
    return f"""\
        tolerations:
        - key: {UNREACHABLE}
          operator: Exists
          effect: NoExecute
          tolerationSeconds: {seconds}
        - key: {NOT_READY}
          operator: Exists
          effect: NoExecute
          tolerationSeconds: {seconds}
        """


async def node(api: GrpcClient, name: str) -> core_pb2.Node:
    try:
        found: core_pb2.Node = await api.get(core_pb2.Node, name)
    except ApiError as exc:
        assert exc.code != Code.NOT_FOUND, f"node {name} is not registered"
        raise
    return found


async def until_unknown(api: GrpcClient, name: str) -> core_pb2.Node:
    async def check() -> core_pb2.Node:
        current = await node(api, name)
        ready = condition(current, "Ready")
        assert ready is not None and ready.status == "Unknown", ready
        assert (UNREACHABLE, "NoSchedule") in taints(current), taints(current)
        return current
    result: core_pb2.Node = await eventually(check, timeout=WAIT, interval=POLL,
                                             what=f"{name} Ready=Unknown")
    return result


async def until_no_execute(api: GrpcClient, name: str) -> core_pb2.Node:
    async def check() -> core_pb2.Node:
        current = await node(api, name)
        assert (UNREACHABLE, "NoExecute") in taints(current), taints(current)
        return current
    result: core_pb2.Node = await eventually(check, timeout=WAIT, interval=POLL,
                                             what=f"{name} unreachable:NoExecute")
    return result


async def until_healthy(api: GrpcClient, name: str) -> None:
    async def check() -> bool:
        current = await node(api, name)
        ready = condition(current, "Ready")
        assert ready is not None and ready.status == "True", ready
        assert not {k for k, _ in taints(current)} & {UNREACHABLE, NOT_READY}, taints(current)
        return True
    await eventually(check, timeout=WAIT, interval=POLL, what=f"{name} Ready, untainted")


def process_state(cluster: Cluster, name: str) -> str:
    """The kernel's state letter of the node's process (R, S, T for stopped ...)."""
    stat = Path(f"/proc/{cluster.local.nodes[name].pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


async def pods_on(api: GrpcClient, namespace: str, node_name: str) -> list[core_pb2.Pod]:
    return [p for p in await pods(api, namespace) if p.spec.node_name == node_name]


async def test_killed_kubelet_makes_the_node_unknown_and_tainted_until_it_is_restarted(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "killed")
    await cluster.kemuctl("apply", "-n", ns, "-f", "-", input=replica_set("web", 3))
    await running_pods(api, ns, "app=web", 3)
    victim = "node-2"
    before = await pods_on(api, ns, victim)

    clock = Stopwatch()
    cluster.local.kill_node(victim)
    unknown = await until_unknown(api, victim)
    took_unknown = clock()
    ready = condition(unknown, "Ready")
    assert (ready.reason, ready.message) == ("NodeStatusUnknown",
                                             "Kubelet stopped posting node status.")
    assert {c.type: c.status for c in unknown.status.conditions if c.type != "Ready"} == \
        {"MemoryPressure": "Unknown", "DiskPressure": "Unknown", "PIDPressure": "Unknown"}
    await until_no_execute(api, victim)
    took_no_execute = clock()
    print(f"\nkill -9: Ready=Unknown after {took_unknown:.2f}s, NoExecute after "
          f"{took_no_execute:.2f}s")
    assert EARLIEST_UNKNOWN <= took_unknown <= LATEST_UNKNOWN
    assert took_no_execute <= LATEST_NO_EXECUTE

    nodes = {row["NAME"]: row for row in (await cluster.kemuctl("get", "nodes")).table()}
    assert nodes[victim]["STATUS"] == "NotReady"
    assert {nodes[n]["STATUS"] for n in NODES if n != victim} == {"Ready"}
    assert await eventually(lambda: events(api, "default", victim, "NodeNotReady"))

    # Its pods are marked not ready (they still run, as far as anyone knows).
    async def not_ready() -> bool:
        for pod in await pods_on(api, ns, victim):
            assert condition(pod, "Ready").status == "False", pod.metadata.name
        return True
    await eventually(not_ready, what="pods of the dead node not ready")
    # kubectl counts ready containers, which only the (dead) kubelet could change.
    rows = (await cluster.kemuctl("get", "pods", "-n", ns, "-o", "wide")).table()
    on_victim = [r for r in rows if r["NODE"] == victim]
    assert [(r["READY"], r["STATUS"]) for r in on_victim] == [("1/1", "Running")] * len(before)

    clock = Stopwatch()
    cluster.local.restart_node(victim)
    await until_healthy(api, victim)
    took_back = clock()

    # The same pods, taken over by the new kubelet and Ready again, not restarted.
    async def ready_again() -> bool:
        now = await pods_on(api, ns, victim)
        assert [p.metadata.uid for p in now] == [p.metadata.uid for p in before]
        for pod in now:
            assert is_ready_pod(pod), f"{pod.metadata.name} not ready"
            assert pod.status.container_statuses[0].restart_count == 0
        return True
    await eventually(ready_again, what="the pods Ready again")
    print(f"restart: Ready and untainted after {took_back:.2f}s, pods ready after {clock():.2f}s")


async def test_frozen_kubelet_makes_the_node_unknown_until_it_is_thawed(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "frozen")
    await cluster.kemuctl("apply", "-n", ns, "-f", "-", input=replica_set("web", 3))
    await running_pods(api, ns, "app=web", 3)
    victim = "node-3"
    before = await pods_on(api, ns, victim)

    clock = Stopwatch()
    cluster.local.freeze_node(victim)
    await eventually(lambda: process_state(cluster, victim) == "T", what="process stopped")
    await until_unknown(api, victim)
    took_unknown = clock()
    await until_no_execute(api, victim)
    took_no_execute = clock()
    print(f"\nSIGSTOP: Ready=Unknown after {took_unknown:.2f}s, NoExecute after "
          f"{took_no_execute:.2f}s")
    assert EARLIEST_UNKNOWN <= took_unknown <= LATEST_UNKNOWN
    assert took_no_execute <= LATEST_NO_EXECUTE
    assert cluster.local.nodes[victim].alive()

    # Thawed, the kubelet renews its lease at once and, seeing the gap, posts its status: the
    # node is Ready again within a renew interval and a monitor pass, not a status interval or
    # a grace period later.
    clock = Stopwatch()
    cluster.local.thaw_node(victim)
    await until_healthy(api, victim)
    took_back = clock()

    async def ready_again() -> bool:
        now = await pods_on(api, ns, victim)
        assert [p.metadata.uid for p in now] == [p.metadata.uid for p in before]
        for pod in now:
            assert is_ready_pod(pod), f"{pod.metadata.name} not ready"
        return True
    await eventually(ready_again, what="the pods Ready again")
    took_pods = clock()
    print(f"SIGCONT: Ready and untainted after {took_back:.2f}s, pods ready after {took_pods:.2f}s")
    assert took_back <= RENEW + 2 * PERIOD + MARGIN
    assert took_pods <= RENEW + 2 * PERIOD + TIMING.node_status_update_frequency + MARGIN


async def test_pods_of_a_dead_node_are_evicted_after_their_toleration_and_replaced(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "evict")
    # "quick" tolerates the node's loss for 20 s (1 s here), "patient" gets admission's 300 s
    # (15 s here).
    await cluster.kemuctl("apply", "-n", ns, "-f", "-",
                          input=replica_set("quick", 3, tolerate(20)) + "---\n" +
                          replica_set("patient", 3))
    await running_pods(api, ns, "app=quick", 3)
    await running_pods(api, ns, "app=patient", 3)
    patient = (await pods(api, ns, "app=patient"))[0]
    assert {(t.key, t.effect, t.toleration_seconds) for t in patient.spec.tolerations} == \
        {(UNREACHABLE, "NoExecute", 300), (NOT_READY, "NoExecute", 300)}
    placed = {p.metadata.labels["app"] + "@" + p.spec.node_name for p in await pods(api, ns)}
    both = [n for n in NODES if f"quick@{n}" in placed and f"patient@{n}" in placed]
    assert both, f"no node runs a pod of each ReplicaSet: {sorted(placed)}"
    victim = both[0]
    [quick_pod] = [p for p in await pods_on(api, ns, victim) if p.metadata.labels["app"] == "quick"]
    [patient_pod] = [p for p in await pods_on(api, ns, victim)
                     if p.metadata.labels["app"] == "patient"]

    cluster.local.kill_node(victim)
    await until_no_execute(api, victim)
    tainted = Stopwatch()

    async def deleting(pod: core_pb2.Pod) -> core_pb2.Pod:
        current: core_pb2.Pod = await api.get(core_pb2.Pod, pod.metadata.name, ns)
        assert current.metadata.deletion_timestamp, f"{pod.metadata.name} not being deleted"
        return current

    evicted = await eventually(lambda: deleting(quick_pod), interval=POLL, what="quick evicted")
    took_quick = tainted()
    print(f"\ntolerationSeconds 20: deleted {took_quick:.2f}s after the NoExecute taint")
    assert 20 * SCALE - POLL - 0.1 <= took_quick <= 20 * SCALE + MARGIN
    disruption = condition(evicted, "DisruptionTarget")
    assert (disruption.status, disruption.reason) == ("True", "DeletionByTaintManager")
    assert [e.message for e in await events(api, ns, quick_pod.metadata.name,
                                            "TaintManagerEviction")] == \
        [f"Marking for deletion Pod {ns}/{quick_pod.metadata.name}"]
    # The ReplicaSet replaces it on a live node; the evicted pod stays Terminating, since no
    # kubelet confirms its end.
    replacements = await running_pods(api, ns, "app=quick", 3)
    assert victim not in {p.spec.node_name for p in replacements}
    rows = {r["NAME"]: r for r in (await cluster.kemuctl("get", "pods", "-n", ns)).table()}
    assert rows[quick_pod.metadata.name]["STATUS"] == "Terminating"
    assert not (await api.get(core_pb2.Pod, patient_pod.metadata.name, ns)) \
        .metadata.deletion_timestamp
    rs_rows = {r["NAME"]: r for r in (await cluster.kemuctl("get", "rs", "-n", ns)).table()}
    assert (rs_rows["patient"]["DESIRED"], rs_rows["patient"]["CURRENT"],
            rs_rows["patient"]["READY"]) == ("3", "3", "2")

    await eventually(lambda: deleting(patient_pod), interval=POLL, what="patient evicted")
    took_patient = tainted()
    print(f"default 300 s toleration: deleted {took_patient:.2f}s after the NoExecute taint")
    assert 300 * SCALE - POLL - 0.1 <= took_patient <= 300 * SCALE + MARGIN
    replacements = await running_pods(api, ns, "app=patient", 3)
    assert victim not in {p.spec.node_name for p in replacements}

    # Both evicted pods stay while the node is away ...
    left = {p.metadata.name for p in await pods_on(api, ns, victim)}
    assert left == {quick_pod.metadata.name, patient_pod.metadata.name}
    # ... and go once its kubelet is back and finishes them.
    cluster.local.restart_node(victim)
    await gone(api, core_pb2.Pod, quick_pod.metadata.name, ns)
    await gone(api, core_pb2.Pod, patient_pod.metadata.name, ns)
    await until_healthy(api, victim)


async def test_pods_of_a_dead_node_go_when_the_node_is_deleted(
        cluster: Cluster, api: GrpcClient) -> None:
    ns = await new_namespace(api, "podgc")
    await cluster.kemuctl("apply", "-n", ns, "-f", "-", input=replica_set("quick", 3, tolerate(20)))
    await running_pods(api, ns, "app=quick", 3)
    victim = "node-1"
    [doomed] = await pods_on(api, ns, victim)
    cluster.local.kill_node(victim)
    await until_no_execute(api, victim)
    await running_pods(api, ns, "app=quick", 3)  # replaced elsewhere
    assert (await api.get(core_pb2.Pod, doomed.metadata.name, ns)).metadata.deletion_timestamp

    before_delete = Stopwatch()
    result = await cluster.kemuctl("delete", "node", victim)
    assert result.stdout.strip() == f'node "{victim}" deleted'
    after_delete = Stopwatch()
    await gone(api, core_pb2.Pod, doomed.metadata.name, ns)
    print(f"\nnode deleted: its pod removed by pod GC after {before_delete():.2f}s (at most)")
    # The node was deleted while kemuctl ran, between the two stopwatches.
    assert before_delete() >= TIMING.pod_gc_quarantine
    assert after_delete() <= TIMING.pod_gc_quarantine + 2 * TIMING.pod_gc_period + MARGIN

    # The kubelet, started again, registers a new Node of that name.
    cluster.local.restart_node(victim)
    await until_healthy(api, victim)


async def test_when_every_node_is_down_nothing_is_evicted(cluster: Cluster,
                                                          api: GrpcClient) -> None:
    ns = await new_namespace(api, "alldown")
    # 60 s (3 s here): longer than the moments before the last node is seen down, during which
    # the first may carry a NoExecute taint.
    await cluster.kemuctl("apply", "-n", ns, "-f", "-", input=replica_set("web", 3, tolerate(60)))
    await running_pods(api, ns, "app=web", 3)
    for name in NODES:
        cluster.local.freeze_node(name)
    for name in NODES:
        await until_unknown(api, name)
    settled = Stopwatch()

    async def calm() -> bool:
        for name in NODES:
            assert (UNREACHABLE, "NoExecute") not in taints(await node(api, name)), name
        for pod in await pods(api, ns):
            assert not pod.metadata.deletion_timestamp, f"{pod.metadata.name} evicted"
        return settled() > 4 * PERIOD + EVICTION + 60 * SCALE
    await eventually(calm, what="no eviction while every node is down")
    for name in NODES:
        cluster.local.thaw_node(name)
    for name in NODES:
        await until_healthy(api, name)
    await running_pods(api, ns, "app=web", 3)
