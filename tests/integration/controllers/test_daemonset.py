"""The DaemonSet controller against a real control plane: nodes are Node objects made through
the API; the test plays the scheduler (binding pods to the node their affinity names) and the
kubelet (marking pods ready, finishing graceful deletions) where a test needs it.

What the books show is what is asserted: a daemon pod on every node the DaemonSet belongs on
(Kubernetes in Action 2nd ed. ch. 17, Kubernetes: Up and Running ch. 11, Learn Kubernetes in a
Month of Lunches ch. 6), pods following node labels and taints, rolling updates one node at a
time after minReadySeconds, OnDelete, and the revision labels on the pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.controllers.daemonset.revisions import current_hash
from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339, parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

MANIFESTS = Path("/work/shared/manifests")
KIA = "kia2/Chapter17"
NS = "default"


# -- helpers --------------------------------------------------------------------------------
def load(relative: str) -> Any:
    [manifest] = load_paths([str(MANIFESTS / relative)])
    return manifest.obj


@contextlib.asynccontextmanager
async def control_plane(make_cluster: Callable[..., LocalCluster], controllers: str = "daemonset",
                        **timing: str) -> AsyncIterator[GrpcClient]:
    cluster = make_cluster(controllers=controllers, timing_overrides=timing)
    cluster.start_control_plane()
    client = GrpcClient(cluster.address)
    try:
        yield client
    finally:
        await client.close()


async def add_node(client: GrpcClient, name: str, labels: dict[str, str] | None = None,
                   taints: list[tuple[str, str, str]] | None = None) -> core_pb2.Node:
    node = core_pb2.Node()
    node.metadata.name = name
    node.metadata.labels.update(labels or {})
    node.metadata.labels["kubernetes.io/hostname"] = name
    for key, value, effect in taints or []:
        node.spec.taints.add(key=key, value=value, effect=effect)
    created = await client.create(node)
    created.status.conditions.add(type="Ready", status="True", reason="KubeletReady",
                                  last_heartbeat_time=now_rfc3339(),
                                  last_transition_time=now_rfc3339())
    return await client.update_status(created)


async def change_node(client: GrpcClient, name: str, change: Callable[[core_pb2.Node], None]
                      ) -> None:
    while True:
        node = await client.get(core_pb2.Node, name)
        change(node)
        try:
            await client.update(node)
            return
        except ApiError as exc:
            if exc.code != Code.ABORTED:
                raise


async def create(client: GrpcClient, obj: Any) -> Any:
    obj.metadata.namespace = NS
    return await client.create(obj)


async def change_daemonset(client: GrpcClient, name: str,
                           change: Callable[[apps_pb2.DaemonSet], None]) -> None:
    while True:
        current = await client.get(apps_pb2.DaemonSet, name, NS)
        change(current)
        try:
            await client.update(current)
            return
        except ApiError as exc:
            if exc.code != Code.ABORTED:
                raise


async def create_dry_run(client: GrpcClient, obj: Any) -> Any:
    obj.metadata.namespace = NS
    return await client.create(obj, dry_run=True)


async def replace_spec(client: GrpcClient, name: str, new: apps_pb2.DaemonSet) -> None:
    """What ``kubectl apply`` of the new manifest does to the spec."""
    await change_daemonset(client, name, lambda ds: ds.spec.CopyFrom(new.spec))


async def pods_of(client: GrpcClient, ds_name: str, live_only: bool = False
                  ) -> list[core_pb2.Pod]:
    pods = (await client.list(core_pb2.Pod, NS)).items
    owned = [p for p in pods if any(r.kind == "DaemonSet" and r.name == ds_name
                                    for r in p.metadata.owner_references)]
    if live_only:
        owned = [p for p in owned if not p.metadata.deletion_timestamp]
    return owned


def target(pod: core_pb2.Pod) -> str:
    if pod.spec.node_name:
        return pod.spec.node_name
    terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution \
        .node_selector_terms
    return str(terms[0].match_fields[0].values[0])


def by_node(pods: list[core_pb2.Pod]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for pod in pods:
        out.setdefault(target(pod), []).append(pod.metadata.name)
    return out


async def bind(client: GrpcClient, pod: core_pb2.Pod) -> None:
    """Play the scheduler: bind a daemon pod to the node its affinity names."""
    with contextlib.suppress(ApiError):
        await client.bind(NS, pod.metadata.name, target(pod), pod.metadata.uid)


async def set_phase(client: GrpcClient, name: str, phase: str, ready: bool) -> None:
    """Play the kubelet: report the pod's phase and readiness."""
    while True:
        pod = await client.get(core_pb2.Pod, name, NS)
        pod.status.phase = phase
        for condition in pod.status.conditions:
            if condition.type == "Ready":
                break
        else:
            condition = pod.status.conditions.add(type="Ready")
        status = "True" if ready else "False"
        if condition.status != status:
            condition.status = status
            condition.last_transition_time = now_rfc3339()
        try:
            await client.update_status(pod)
            return
        except ApiError as exc:
            if exc.code != Code.ABORTED:
                raise


async def finish_deletions(client: GrpcClient) -> None:
    """Play the kubelet: a pod being deleted gracefully is gone once its containers stop."""
    for pod in (await client.list(core_pb2.Pod, NS)).items:
        if pod.metadata.deletion_timestamp:
            with contextlib.suppress(ApiError):
                await client.delete(core_pb2.Pod, pod.metadata.name, NS, grace_period_seconds=0,
                                    precondition_uid=pod.metadata.uid)


@contextlib.asynccontextmanager
async def nodes_at_work(client: GrpcClient, *, make_ready: bool = True,
                        ready_times: dict[str, float] | None = None,
                        observe: Callable[[list[core_pb2.Pod]], None] | None = None
                        ) -> AsyncIterator[None]:
    """Scheduler and kubelets in one loop: bind pending pods, make them ready, finish deletes.
    ``observe`` sees every pod list the loop acts on."""

    async def loop() -> None:
        while True:
            pods = (await client.list(core_pb2.Pod, NS)).items
            if observe is not None:
                observe(pods)
            for pod in pods:
                if pod.metadata.deletion_timestamp:
                    with contextlib.suppress(ApiError):
                        await client.delete(core_pb2.Pod, pod.metadata.name, NS,
                                            grace_period_seconds=0,
                                            precondition_uid=pod.metadata.uid)
                    continue
                if not pod.spec.node_name:
                    await bind(client, pod)
                elif make_ready and pod.status.phase != "Running":
                    if ready_times is not None:
                        ready_times[pod.metadata.name] = time.monotonic()
                    await set_phase(client, pod.metadata.name, "Running", True)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def status_of(client: GrpcClient, name: str) -> apps_pb2.DaemonSetStatus:
    return (await client.get(apps_pb2.DaemonSet, name, NS)).status


async def events_for(client: GrpcClient, name: str) -> list[tuple[str, str]]:
    return [(e.reason, e.message) for e in (await client.list(core_pb2.Event, NS)).items
            if e.involved_object.name == name]


async def wait_pods_on(client: GrpcClient, ds_name: str, nodes: set[str],
                       timeout: float = 20.0) -> list[core_pb2.Pod]:
    async def check() -> list[core_pb2.Pod]:
        pods = await pods_of(client, ds_name, live_only=True)
        placed = by_node(pods)
        assert set(placed) == nodes and all(len(v) == 1 for v in placed.values()), placed
        return pods
    result: list[core_pb2.Pod] = await eventually(check, timeout=timeout,
                                                   what=f"{ds_name} pods on {sorted(nodes)}")
    return result


CONTROL_PLANE_TAINT = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


# -- placement ------------------------------------------------------------------------------
async def test_one_pod_per_worker_pinned_by_node_affinity(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KIA ch. 17: the demo DaemonSet runs a pod on each worker, none on the tainted control
    plane; each pod names its node in a required matchFields term and tolerates node trouble."""
    async with control_plane(make_cluster) as client:
        await add_node(client, "kind-control-plane", taints=[CONTROL_PLANE_TAINT])
        await add_node(client, "kind-worker")
        await add_node(client, "kind-worker2")
        ds = await create(client, load(f"{KIA}/ds.demo.yaml"))
        pods = await wait_pods_on(client, "demo", {"kind-worker", "kind-worker2"})
        for pod in pods:
            assert pod.metadata.generate_name == "demo-"
            assert pod.metadata.name.startswith("demo-")
            assert not pod.spec.node_name, "the scheduler binds daemon pods"
            [term] = pod.spec.affinity.node_affinity \
                .required_during_scheduling_ignored_during_execution.node_selector_terms
            assert [(f.key, f.operator, list(f.values)) for f in term.match_fields] == [
                ("metadata.name", "In", [target(pod)])]
            assert not term.match_expressions
            [ref] = pod.metadata.owner_references
            assert (ref.kind, ref.name, ref.uid, ref.controller) == ("DaemonSet", "demo",
                                                                     ds.metadata.uid, True)
            tolerations = {(t.key, t.effect, t.HasField("toleration_seconds"))
                           for t in pod.spec.tolerations}
            assert ("node.kubernetes.io/not-ready", "NoExecute", False) in tolerations
            assert ("node.kubernetes.io/unreachable", "NoExecute", False) in tolerations
            assert ("node.kubernetes.io/unschedulable", "NoSchedule", False) in tolerations

        async def events_written() -> bool:
            created = [m for r, m in await events_for(client, "demo") if r == "SuccessfulCreate"]
            assert sorted(created) == sorted(f"Created pod: {p.metadata.name}" for p in pods)
            return True

        await eventually(events_written)

        # Tolerating every taint puts a pod on the control plane too.
        await create(client, _renamed(load(f"{KIA}/ds.demo.tolerateAllTaints.yaml"), "all"))
        await wait_pods_on(client, "all", {"kind-control-plane", "kind-worker", "kind-worker2"})


def _renamed(ds: apps_pb2.DaemonSet, name: str) -> apps_pb2.DaemonSet:
    ds.metadata.name = name
    ds.spec.selector.match_labels["app"] = name
    ds.spec.template.metadata.labels["app"] = name
    return ds


async def test_node_name_in_the_template_runs_on_that_node_only(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        for name in ("kind-worker", "kind-worker2", "kind-worker3"):
            await add_node(client, name)
        await create(client, load(f"{KIA}/ds.demo.nodeName.yaml"))
        [pod] = await wait_pods_on(client, "demo", {"kind-worker2"})
        assert pod.spec.node_name == "kind-worker2"


async def test_node_joins_leaves_and_is_relabelled(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KUAR ch. 11: labelling a node ssd=true brings it an nginx-fast-storage pod, removing
    the label removes the pod; a node that joins gets a pod, one that leaves loses it."""
    async with control_plane(make_cluster) as client:
        await add_node(client, "n1", {"ssd": "true"})
        await add_node(client, "n2")
        await create(client, load("kuar/11-2-nginx-fast-storage.yaml"))
        await create(client, load("kuar/11-1-fluentd.yaml"))
        await wait_pods_on(client, "nginx-fast-storage", {"n1"})
        await wait_pods_on(client, "fluentd", {"n1", "n2"})
        async with nodes_at_work(client):
            await change_node(client, "n2", lambda n: n.metadata.labels.update({"ssd": "true"}))
            await wait_pods_on(client, "nginx-fast-storage", {"n1", "n2"})
            await add_node(client, "n3", {"ssd": "true"})
            await wait_pods_on(client, "nginx-fast-storage", {"n1", "n2", "n3"})
            await wait_pods_on(client, "fluentd", {"n1", "n2", "n3"})

            [on_n1] = [p for p in await pods_of(client, "nginx-fast-storage")
                       if target(p) == "n1"]
            await change_node(client, "n1", lambda n: n.metadata.labels.pop("ssd"))
            await wait_pods_on(client, "nginx-fast-storage", {"n2", "n3"})

            async def delete_event() -> bool:
                deleted = [m for r, m in await events_for(client, "nginx-fast-storage")
                           if r == "SuccessfulDelete"]
                assert f"Deleted pod: {on_n1.metadata.name}" in deleted, deleted
                return True

            await eventually(delete_event)
            await wait_pods_on(client, "fluentd", {"n1", "n2", "n3"})

            await client.delete(core_pb2.Node, "n3")
            await wait_pods_on(client, "nginx-fast-storage", {"n2"})
            await wait_pods_on(client, "fluentd", {"n1", "n2"})
        status = await eventually(lambda: _status_when(client, "fluentd", desired=2, current=2))
        assert status.number_misscheduled == 0


async def _status_when(client: GrpcClient, name: str, **expected: int
                       ) -> apps_pb2.DaemonSetStatus | None:
    status = await status_of(client, name)
    fields = {"desired": status.desired_number_scheduled,
              "current": status.current_number_scheduled, "ready": status.number_ready,
              "available": status.number_available, "unavailable": status.number_unavailable,
              "updated": status.updated_number_scheduled,
              "misscheduled": status.number_misscheduled}
    assert {k: fields[k] for k in expected} == expected, fields
    return status


async def test_nodeselector_daemonset_waits_for_a_labelled_node(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """Kiamol ch. 6 and KIA ch. 17: a DaemonSet with a nodeSelector nobody matches runs no pod
    (desired 0) until a node gets the label."""
    async with control_plane(make_cluster) as client:
        await add_node(client, "node-a")
        await add_node(client, "node-b", {"kubernetes.io/arch": "arm64"})
        await create(client, load("kiamol/ch06/pi/proxy/daemonset/nginx-ds-nodeSelector.yaml"))
        await create(client, load(f"{KIA}/ds.demo.nodeSelector.yaml"))
        await eventually(lambda: _status_when(client, "pi-proxy", desired=0, current=0))
        await eventually(lambda: _status_when(client, "demo", desired=0, current=0))
        assert await pods_of(client, "pi-proxy") == []
        await change_node(client, "node-b", lambda n: n.metadata.labels.update({"kiamol": "ch06"}))
        await wait_pods_on(client, "pi-proxy", {"node-b"})
        await change_node(client, "node-a", lambda n: n.metadata.labels.update({"gpu": "cuda"}))
        await wait_pods_on(client, "demo", {"node-a"})
        await eventually(lambda: _status_when(client, "demo", desired=1, current=1))


async def test_taints_evict_or_keep_daemon_pods(make_cluster: Callable[..., LocalCluster]) -> None:
    """Cordoned and NotReady nodes keep their daemon pods; an untolerated NoExecute taint takes
    them away; an untolerated NoSchedule taint keeps the pod but counts it as misscheduled."""
    async with control_plane(make_cluster) as client:
        for name in ("a", "b", "c", "d"):
            await add_node(client, name)
        await create(client, load(f"{KIA}/ds.demo.yaml"))
        pods = await wait_pods_on(client, "demo", {"a", "b", "c", "d"})
        uids = {target(p): p.metadata.uid for p in pods}
        async with nodes_at_work(client):
            await eventually(lambda: _status_when(client, "demo", ready=4))

            def cordon(node: core_pb2.Node) -> None:
                node.spec.unschedulable = True
                node.spec.taints.add(key="node.kubernetes.io/unschedulable", effect="NoSchedule")

            def not_ready(node: core_pb2.Node) -> None:
                node.spec.taints.add(key="node.kubernetes.io/not-ready", effect="NoExecute")
                node.spec.taints.add(key="node.kubernetes.io/not-ready", effect="NoSchedule")

            await change_node(client, "a", cordon)
            await change_node(client, "b", not_ready)
            await change_node(client, "c", lambda n: n.spec.taints.add(
                key="dedicated", value="db", effect="NoSchedule"))
            await change_node(client, "d", lambda n: n.spec.taints.add(
                key="dedicated", value="db", effect="NoExecute"))
            await wait_pods_on(client, "demo", {"a", "b", "c"})
            status = await eventually(lambda: _status_when(
                client, "demo", desired=1, current=1, misscheduled=2))
            assert status.number_ready == 1
            live = {target(p): p.metadata.uid for p in await pods_of(client, "demo", True)}
            assert live == {n: uids[n] for n in ("a", "b", "c")}, "the same pods stayed"

            # A new node that is cordoned still gets its daemon pod.
            await add_node(client, "e", taints=[("node.kubernetes.io/unschedulable", "",
                                                 "NoSchedule")])
            await wait_pods_on(client, "demo", {"a", "b", "c", "e"})
            # Removing the NoExecute taint brings d back.
            await change_node(client, "d", lambda n: n.spec.ClearField("taints"))
            await wait_pods_on(client, "demo", {"a", "b", "c", "d", "e"})


async def test_extra_pods_on_a_node_are_removed_oldest_kept(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        await add_node(client, "n1")
        ds = await create(client, load(f"{KIA}/ds.demo.yaml"))
        [first] = await wait_pods_on(client, "demo", {"n1"})
        await bind(client, first)
        # A stray pod matching the selector is adopted, then removed as the younger extra.
        stray = core_pb2.Pod()
        stray.metadata.name = "stray"
        stray.metadata.labels["app"] = "demo"
        stray.spec.CopyFrom(ds.spec.template.spec)
        stray.spec.node_name = "n1"
        stray = await create(client, stray)

        async def stray_gone() -> bool:
            with contextlib.suppress(ApiError):
                pod = await client.get(core_pb2.Pod, "stray", NS)
                assert pod.metadata.deletion_timestamp, "stray still running"
                assert pod.metadata.owner_references[0].uid == ds.metadata.uid
            return True

        await eventually(stray_gone)
        assert [p.metadata.uid for p in await pods_of(client, "demo", True)] == \
            [first.metadata.uid]


# -- status -----------------------------------------------------------------------------------
async def test_status_counts(make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        for name in ("n1", "n2", "n3"):
            await add_node(client, name)
        ds = load(f"{KIA}/ds.demo.yaml")
        ds.spec.min_ready_seconds = 60  # 3 s in the fast profile
        ds = await create(client, ds)
        pods = await wait_pods_on(client, "demo", {"n1", "n2", "n3"})
        status = await eventually(lambda: _status_when(
            client, "demo", desired=3, current=3, ready=0, available=0, unavailable=3,
            updated=3, misscheduled=0))
        assert status.observed_generation == ds.metadata.generation
        for pod in pods:
            await bind(client, pod)
        by_target = {target(p): p.metadata.name for p in pods}
        await set_phase(client, by_target["n1"], "Running", True)
        await set_phase(client, by_target["n2"], "Running", False)
        # Ready at once, available only once ready for minReadySeconds.
        await eventually(lambda: _status_when(client, "demo", ready=1, available=0,
                                              unavailable=3))
        await eventually(lambda: _status_when(client, "demo", ready=1, available=1,
                                              unavailable=2))
        await change_node(client, "n3", lambda n: n.spec.taints.add(
            key="dedicated", value="x", effect="NoSchedule"))
        await eventually(lambda: _status_when(client, "demo", desired=2, current=2,
                                              misscheduled=1, unavailable=1))


# -- failed pods --------------------------------------------------------------------------------
async def test_failed_pod_is_replaced_with_growing_backoff(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster, daemonset_failed_backoff_base="1",
                             daemonset_failed_backoff_max="10") as client:
        await add_node(client, "n1")
        await create(client, load(f"{KIA}/ds.demo.yaml"))
        replaced_at: list[float] = []
        seen: set[str] = set()
        for _ in range(3):
            [pod] = await wait_pods_on(client, "demo", {"n1"})
            assert pod.metadata.uid not in seen, "a new pod each time"
            seen.add(pod.metadata.uid)
            await bind(client, pod)
            await set_phase(client, pod.metadata.name, "Failed", False)

            async def gone(name: str = pod.metadata.name) -> bool:
                try:
                    await client.get(core_pb2.Pod, name, NS)
                except ApiError as exc:
                    return exc.code == Code.NOT_FOUND
                return False

            await eventually(gone, interval=0.02)
            replaced_at.append(time.monotonic())
        # 1 s after the first replacement, then 2 s (less the time to fail the pod).
        assert replaced_at[1] - replaced_at[0] >= 0.7
        assert replaced_at[2] - replaced_at[1] >= 1.6

        async def failure_events() -> list[str]:
            return [m for r, m in await events_for(client, "demo") if r == "FailedDaemonPod"]

        failed = await eventually(failure_events)
        assert failed[0].startswith("Found failed daemon pod default/demo-")
        assert failed[0].endswith("on node n1, will try to kill it")


# -- updates ------------------------------------------------------------------------------------
async def test_rolling_update_one_node_at_a_time_after_min_ready_seconds(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KIA ch. 17: ds.demo.v2.rollingUpdate (maxUnavailable 1, minReadySeconds 30) replaces the
    pods one node at a time, each new pod first available for minReadySeconds."""
    async with control_plane(make_cluster, scale="0.1") as client:  # minReadySeconds -> 3 s
        nodes = {"n1", "n2", "n3"}
        for name in sorted(nodes):
            await add_node(client, name)
        await create(client, load(f"{KIA}/ds.demo.yaml"))
        ready_at: dict[str, float] = {}
        deleted_at: dict[str, float] = {}
        worst = 0
        updating = False

        def observe(pods: list[core_pb2.Pod]) -> None:
            nonlocal worst
            now = time.monotonic()
            serving = set()
            for pod in pods:
                if pod.metadata.deletion_timestamp:
                    deleted_at.setdefault(pod.metadata.name, now)
                elif pod.status.phase == "Running":
                    serving.add(target(pod))
            if updating:
                worst = max(worst, len(nodes - serving))

        async with nodes_at_work(client, ready_times=ready_at, observe=observe):
            await eventually(lambda: _status_when(client, "demo", ready=3, available=3))

            async def long_running() -> bool:
                # As in the book, the old pods have been up for longer than the new
                # minReadySeconds (an old pod not yet available would be replaced at once).
                for pod in await pods_of(client, "demo"):
                    [ready] = [c for c in pod.status.conditions if c.type == "Ready"]
                    assert time.time() - parse_time(ready.last_transition_time) > 4.0
                return True

            await eventually(long_running, timeout=30)
            updating = True
            await replace_spec(client, "demo", load(f"{KIA}/ds.demo.v2.rollingUpdate.yaml"))

            async def rolled() -> bool:
                pods = await pods_of(client, "demo")
                live = [p for p in pods if not p.metadata.deletion_timestamp]
                return len(pods) == len(live) == 3 and all(
                    p.metadata.labels.get("ver") == "v2" and p.status.phase == "Running"
                    for p in live)

            await eventually(rolled, timeout=60)
        assert worst == 1, "exactly one node at a time went without a serving pod"
        new_ready = sorted(t for name, t in ready_at.items() if name not in deleted_at)
        old_deleted = sorted(deleted_at.values())
        assert len(old_deleted) == 3 and len(new_ready) == 3, (ready_at, deleted_at)
        for k in (1, 2):
            # The next old pod goes only after the previous new one was available: ready for
            # 3 s (timestamps have one-second resolution, so allow a little over one second
            # less).
            assert old_deleted[k] - new_ready[k - 1] >= 1.8, (old_deleted, new_ready)
        status = await eventually(lambda: _status_when(client, "demo", updated=3, available=3))
        current = await client.get(apps_pb2.DaemonSet, "demo", NS)
        assert status.observed_generation == current.metadata.generation


async def test_rolling_update_with_max_surge_creates_before_deleting(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        for name in ("n1", "n2", "n3"):
            await add_node(client, name)
        ds = load(f"{KIA}/ds.demo.yaml")
        ds.spec.update_strategy.type = "RollingUpdate"
        ds.spec.update_strategy.rolling_update.max_surge.int_value = 1
        ds.spec.update_strategy.rolling_update.max_unavailable.int_value = 0
        await create(client, ds)
        async with nodes_at_work(client):
            await eventually(lambda: _status_when(client, "demo", ready=3, available=3))
        old = {target(p): p.metadata.name for p in await pods_of(client, "demo")}
        await change_daemonset(client, "demo",
                               lambda ds: ds.spec.template.metadata.labels.update({"ver": "v2"}))
        replaced: list[str] = []
        for _ in range(3):
            async def surged() -> core_pb2.Pod:
                pods = await pods_of(client, "demo", live_only=True)
                new = [p for p in pods if p.metadata.labels.get("ver") == "v2"
                       and target(p) not in replaced]
                assert len(new) == 1, f"one surge pod at a time, got {by_node(new)}"
                node = target(new[0])
                on_node = by_node(pods)[node]
                assert old[node] in on_node, "the old pod stays until the new one is available"
                assert len(pods) == 4
                return new[0]

            new_pod = await eventually(surged)
            node = target(new_pod)
            await bind(client, new_pod)
            await set_phase(client, new_pod.metadata.name, "Running", True)

            async def old_gone(node: str = node, new_name: str = new_pod.metadata.name) -> bool:
                await finish_deletions(client)
                placed = by_node(await pods_of(client, "demo"))
                return placed[node] == [new_name]

            await eventually(old_gone)
            replaced.append(node)
        assert sorted(replaced) == ["n1", "n2", "n3"]
        await eventually(lambda: _status_when(client, "demo", updated=3, available=3,
                                              unavailable=0))


async def test_on_delete_replaces_only_deleted_pods(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KIA ch. 17: with updateStrategy OnDelete (ds.demo.v3.onDelete) the pods keep the old
    template until someone deletes them; the replacement carries the new one."""
    async with control_plane(make_cluster) as client:
        for name in ("n1", "n2"):
            await add_node(client, name)
        await create(client, load(f"{KIA}/ds.demo.yaml"))
        async with nodes_at_work(client):
            await eventually(lambda: _status_when(client, "demo", ready=2))
            before = {target(p): p for p in await pods_of(client, "demo")}
            await replace_spec(client, "demo", load(f"{KIA}/ds.demo.v3.onDelete.yaml"))
            await eventually(lambda: _status_when(client, "demo", updated=0, ready=2))
            current = await client.get(apps_pb2.DaemonSet, "demo", NS)
            assert (await status_of(client, "demo")).observed_generation == \
                current.metadata.generation
            after = {target(p): p.metadata.uid for p in await pods_of(client, "demo")}
            assert after == {n: p.metadata.uid for n, p in before.items()}, "nothing replaced"
            await client.delete(core_pb2.Pod, before["n1"].metadata.name, NS)

            async def replaced() -> core_pb2.Pod:
                pods = {target(p): p for p in await pods_of(client, "demo", live_only=True)}
                assert set(pods) == {"n1", "n2"}
                assert pods["n1"].metadata.uid != before["n1"].metadata.uid
                assert pods["n2"].metadata.uid == before["n2"].metadata.uid
                return pods["n1"]

            fresh = await eventually(replaced)
            assert fresh.metadata.labels["ver"] == "v3"
            await eventually(lambda: _status_when(client, "demo", updated=1, current=2))


# -- revisions ----------------------------------------------------------------------------------
async def test_controller_revisions_and_hash_labels(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        await add_node(client, "n1")
        ds = await create(client, load(f"{KIA}/ds.demo.yaml"))
        assert ds.metadata.annotations["deprecated.daemonset.template.generation"] == "1"

        async def revisions() -> list[apps_pb2.ControllerRevision]:
            items = (await client.list(apps_pb2.ControllerRevision, NS)).items
            return sorted(items, key=lambda r: r.revision)

        [first] = await eventually(revisions)
        revision_hash = first.metadata.labels["controller-revision-hash"]
        assert first.metadata.name == f"demo-{revision_hash}"
        assert first.revision == 1
        [owner] = first.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "DaemonSet", "demo", ds.metadata.uid, True)
        assert first.data.raw.startswith(b'{"spec":{"template":{"$patch":"replace",')
        [pod] = await wait_pods_on(client, "demo", {"n1"})
        assert pod.metadata.labels["controller-revision-hash"] == revision_hash
        assert pod.metadata.labels["pod-template-generation"] == "1"

        await replace_spec(client, "demo", load(f"{KIA}/ds.demo.v3.onDelete.yaml"))

        async def two() -> list[apps_pb2.ControllerRevision]:
            found = await revisions()
            assert [r.revision for r in found] == [1, 2]
            return found

        _, second = await eventually(two)
        assert second.metadata.labels["controller-revision-hash"] != revision_hash
        current = await client.get(apps_pb2.DaemonSet, "demo", NS)
        assert current.metadata.annotations["deprecated.daemonset.template.generation"] == "2"
        await client.delete(core_pb2.Pod, pod.metadata.name, NS)
        [fresh] = await wait_pods_on(client, "demo", {"n1"})
        assert fresh.metadata.labels["controller-revision-hash"] == \
            second.metadata.labels["controller-revision-hash"]
        assert fresh.metadata.labels["pod-template-generation"] == "2"

        # Going back to the first template reuses its revision under the next number.
        await replace_spec(client, "demo", load(f"{KIA}/ds.demo.yaml"))

        async def rolled_back() -> bool:
            found = {r.metadata.name: r.revision for r in await revisions()}
            assert found == {first.metadata.name: 3, second.metadata.name: 2}, found
            return True

        await eventually(rolled_back)


async def test_revision_history_limit_keeps_the_newest(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        ds = load(f"{KIA}/ds.demo.nodeSelector.yaml")  # no node matches: history only
        ds.spec.revision_history_limit = 2
        await create(client, ds)
        for version in range(2, 6):
            async def recorded(number: int = version) -> bool:
                found = (await client.list(apps_pb2.ControllerRevision, NS)).items
                return max(r.revision for r in found) == number

            await change_daemonset(client, "demo", lambda ds, v=version: ds.spec.template
                                   .metadata.annotations.update({"version": str(v)}))
            await eventually(recorded)

        async def trimmed() -> list[int]:
            found = (await client.list(apps_pb2.ControllerRevision, NS)).items
            numbers = sorted(r.revision for r in found)
            assert numbers == [3, 4, 5], numbers
            return numbers

        await eventually(trimmed)


# -- deleting the DaemonSet (with the garbage collector) --------------------------------------------
async def test_deleting_a_daemonset_deletes_its_pods_and_history(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """KUAR ch. 11: deleting the fluentd DaemonSet deletes its pods."""
    async with control_plane(make_cluster, "daemonset,garbagecollector") as client:
        for name in ("n1", "n2"):
            await add_node(client, name)
        await create(client, load("kuar/11-1-fluentd.yaml"))
        async with nodes_at_work(client):
            await wait_pods_on(client, "fluentd", {"n1", "n2"})
            await eventually(lambda: _status_when(client, "fluentd", ready=2))
            await client.delete(apps_pb2.DaemonSet, "fluentd", NS)

            async def all_gone() -> bool:
                assert await pods_of(client, "fluentd") == []
                assert (await client.list(apps_pb2.ControllerRevision, NS)).items == []
                return True

            await eventually(all_gone)


async def test_orphaned_pod_is_adopted_by_the_recreated_daemonset(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """Kiamol ch. 6: ``kubectl delete ds pi-proxy --cascade=orphan`` leaves the pod running;
    applying the DaemonSet again adopts that same pod instead of creating another."""
    async with control_plane(make_cluster, "daemonset,garbagecollector") as client:
        await add_node(client, "node-1", {"kiamol": "ch06"})
        manifest = "kiamol/ch06/pi/proxy/daemonset/nginx-ds-nodeSelector.yaml"
        first = await create(client, load(manifest))
        [original] = await wait_pods_on(client, "pi-proxy", {"node-1"})
        await bind(client, original)
        await set_phase(client, original.metadata.name, "Running", True)
        await client.delete(apps_pb2.DaemonSet, "pi-proxy", NS, propagation_policy="Orphan")

        async def orphaned() -> bool:
            with contextlib.suppress(ApiError):
                await client.get(apps_pb2.DaemonSet, "pi-proxy", NS)
                raise AssertionError("the DaemonSet is still there")
            current = await client.get(core_pb2.Pod, original.metadata.name, NS)
            assert not current.metadata.owner_references
            assert not current.metadata.deletion_timestamp
            return True

        await eventually(orphaned)
        second = await create(client, load(manifest))
        assert second.metadata.uid != first.metadata.uid

        async def adopted() -> core_pb2.Pod:
            owned = await pods_of(client, "pi-proxy")
            assert len(owned) == 1, owned
            [current] = owned
            assert current.metadata.uid == original.metadata.uid, "the same pod, adopted"
            [ref] = current.metadata.owner_references
            assert (ref.uid, ref.controller) == (second.metadata.uid, True)
            return current

        await eventually(adopted)
        status = await eventually(lambda: _status_when(
            client, "pi-proxy", desired=1, current=1, ready=1, updated=1))
        assert status.observed_generation == 1
        assert [p.metadata.uid for p in await pods_of(client, "pi-proxy")] == \
            [original.metadata.uid]
        revisions = (await client.list(apps_pb2.ControllerRevision, NS)).items
        assert [r.metadata.owner_references[0].uid for r in revisions] == [second.metadata.uid]


async def test_revision_name_collision_bumps_collision_count(
        make_cluster: Callable[..., LocalCluster]) -> None:
    async with control_plane(make_cluster) as client:
        await add_node(client, "n1")
        # The template as the API server stores it (with its defaults) is what is hashed.
        ds = await create_dry_run(client, load(f"{KIA}/ds.demo.yaml"))
        taken = apps_pb2.ControllerRevision()
        taken.metadata.name = f"demo-{current_hash(ds)}"
        taken.metadata.namespace = NS
        taken.data.raw = b'{"something":"else"}'
        taken.revision = 1
        await client.create(taken)
        await create(client, ds)

        async def resolved() -> apps_pb2.ControllerRevision:
            current = await client.get(apps_pb2.DaemonSet, "demo", NS)
            assert current.status.collision_count == 1
            revisions = [r for r in (await client.list(apps_pb2.ControllerRevision, NS)).items
                         if r.metadata.owner_references]
            assert len(revisions) == 1
            return revisions[0]

        revision = await eventually(resolved)
        ds.status.collision_count = 1
        assert revision.metadata.name == f"demo-{current_hash(ds)}" != taken.metadata.name
        [pod] = await wait_pods_on(client, "demo", {"n1"})
        assert pod.metadata.labels["controller-revision-hash"] == current_hash(ds)
        untouched = await client.get(apps_pb2.ControllerRevision, taken.metadata.name, NS)
        assert untouched.data.raw == taken.data.raw and not untouched.metadata.owner_references
