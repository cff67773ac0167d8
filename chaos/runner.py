"""Runs one chaos experiment: cluster up, workload on, seeded faults, checks, convergence.

The cluster is real: an etcd process, one or two control planes, and one kubelet process per
node, each kubelet reaching the control plane through its own FaultProxy so it can be cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos import invariants
from chaos.proxy import FaultProxy
from chaos.schedule import CLUSTER_FAULTS, Step, make_schedule
from chaos.writer import AckedWrites
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, coordination_pb2, core_pb2
from launcher.cluster import LocalCluster

log = logging.getLogger(__name__)



def _shared_manifests() -> Path:
    """The books' manifests: $KEMU_SHARED_MANIFESTS, ../shared/manifests, /work/shared/manifests."""
    repo = Path(__file__).resolve().parent.parent
    for candidate in (os.environ.get("KEMU_SHARED_MANIFESTS", ""),
                      str(repo.parent / "shared" / "manifests"), "/work/shared/manifests"):
        if candidate and (Path(candidate) / "SOURCES.md").exists():
            return Path(candidate)
    raise FileNotFoundError("shared manifests not found; set KEMU_SHARED_MANIFESTS")


MANIFESTS = _shared_manifests()
DAEMONSET = MANIFESTS / "kia2" / "Chapter17" / "ds.demo.yaml"
REPLICASET = MANIFESTS / "kiamol" / "ch06" / "whoami" / "update" / "whoami-replicas-3.yaml"
NAMESPACE = "chaos"

Check = Callable[[invariants.Snapshot], list[str]]


@dataclass
class Options:
    seed: int
    workdir: Path
    nodes: int = 4
    control_planes: int = 1
    duration: float = 30.0
    faults: int = 8
    converge_timeout: float = 90.0
    check_interval: float = 0.5
    cluster_faults: tuple[str, ...] = CLUSTER_FAULTS
    timing_overrides: dict[str, str] = field(default_factory=dict)
    # Extra checks (tests use this to prove a broken invariant fails the run).
    extra_checks: Sequence[Check] = ()
    daemonset: Path = DAEMONSET
    replicaset: Path = REPLICASET


@dataclass
class Report:
    seed: int
    schedule: list[Step]
    violations: list[str] = field(default_factory=list)
    initial_convergence: float = 0.0
    final_convergence: float = 0.0
    acknowledged_writes: int = 0
    unknown_writes: int = 0
    checks_run: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        lines = [f"chaos seed {self.seed}: {'PASS' if self.ok else 'FAIL'}",
                 f"  schedule ({len(self.schedule)} faults):"]
        lines += [f"    {step}" for step in self.schedule]
        lines += [f"  initial convergence {self.initial_convergence:.1f}s, after faults "
                  f"{self.final_convergence:.1f}s; {self.checks_run} continuous checks; "
                  f"{self.acknowledged_writes} acknowledged writes ({self.unknown_writes} "
                  f"unknown)"]
        lines += [f"  VIOLATION: {v}" for v in self.violations[:50]]
        if not self.ok:
            lines.append(f"  replay with: python -m chaos --seed {self.seed}")
        return "\n".join(lines)


class Experiment:
    def __init__(self, options: Options):
        self.options = options
        self.cluster = LocalCluster(options.workdir, timing_profile="fast",
                                    timing_overrides=options.timing_overrides,
                                    external_etcd=True)
        self.proxies: dict[str, list[FaultProxy]] = {}
        self.node_names = [f"node-{i}" for i in range(1, options.nodes + 1)]
        self.report = Report(options.seed, make_schedule(
            options.seed, self.node_names, options.duration, faults=options.faults,
            cluster_faults=options.cluster_faults))

    # -- cluster --------------------------------------------------------------------------
    async def start(self) -> None:
        for i in range(1, self.options.control_planes + 1):
            await asyncio.to_thread(self.cluster.start_control_plane, f"cp-{i}")
        for name in self.node_names:
            proxies = []
            for address in self.cluster.servers():
                host, port = address.rsplit(":", 1)
                proxy = FaultProxy(name, host, int(port))
                await proxy.start()
                proxies.append(proxy)
            self.proxies[name] = proxies
            servers = ",".join(f"127.0.0.1:{p.port}" for p in proxies)
            self.cluster.add_node(name, extra_args=["--server", servers])

    async def stop(self) -> None:
        for proxies in self.proxies.values():
            for proxy in proxies:
                await proxy.stop()
        await asyncio.to_thread(self.cluster.stop)

    def client(self) -> GrpcClient:
        return GrpcClient(self.cluster.address, timeout=10.0)

    # -- workload -------------------------------------------------------------------------
    async def apply_workload(self, client: GrpcClient) -> None:
        namespace = core_pb2.Namespace()
        namespace.metadata.name = NAMESPACE
        await client.create(namespace)
        for manifest in load_paths([str(self.options.daemonset), str(self.options.replicaset)]):
            manifest.obj.metadata.namespace = NAMESPACE
            await client.create(manifest.obj)

    async def snapshot(self, client: GrpcClient) -> invariants.Snapshot:
        nodes, pods, daemonsets, replicasets = await asyncio.gather(
            client.list(core_pb2.Node), client.list(core_pb2.Pod, NAMESPACE),
            client.list(apps_pb2.DaemonSet, NAMESPACE),
            client.list(apps_pb2.ReplicaSet, NAMESPACE))
        return invariants.Snapshot(nodes.items, pods.items, daemonsets.items, replicasets.items)

    async def wait_converged(self, client: GrpcClient, timeout: float) -> tuple[float, list[str]]:
        started = time.monotonic()
        problems: list[str] = ["not checked yet"]
        while time.monotonic() - started < timeout:
            try:
                snap = await self.snapshot(client)
                problems = [v for check in (*invariants.CONVERGED, *self.options.extra_checks)
                            for v in check(snap)]
                if len(snap.nodes) != len(self.node_names):
                    problems.append(f"{len(snap.nodes)} nodes registered, expected "
                                    f"{len(self.node_names)}")
                if not problems:
                    return time.monotonic() - started, []
            except ApiError as exc:
                problems = [f"API error while converging: {exc}"]
            await asyncio.sleep(0.25)
        return time.monotonic() - started, problems

    # -- faults ---------------------------------------------------------------------------
    async def leader(self, client: GrpcClient) -> str:
        lease = await client.get(coordination_pb2.Lease, "kemu-controller-manager", "kube-system")
        return lease.spec.holder_identity

    async def inject(self, step: Step, client: GrpcClient) -> None:
        log.info("fault %s", step)
        cluster = self.cluster
        if step.fault == "kill":
            cluster.kill_node(step.target)
            await asyncio.sleep(step.hold)
            await asyncio.to_thread(cluster.restart_node, step.target)
        elif step.fault == "freeze":
            cluster.freeze_node(step.target)
            await asyncio.sleep(step.hold)
            cluster.thaw_node(step.target)
        elif step.fault == "restart":
            await asyncio.to_thread(cluster.restart_node, step.target)
        elif step.fault == "partition":
            for proxy in self.proxies[step.target]:
                proxy.partition()
            await asyncio.sleep(step.hold)
            for proxy in self.proxies[step.target]:
                proxy.heal()
        elif step.fault == "restart-controlplane":
            name = sorted(cluster.control_planes)[0]
            await asyncio.to_thread(cluster.restart_control_plane, name)
        elif step.fault == "kill-leader":
            try:
                name = await self.leader(client)
            except ApiError:
                name = ""
            name = name if name in cluster.control_planes else sorted(cluster.control_planes)[0]
            await asyncio.to_thread(cluster.restart_control_plane, name, True)
        elif step.fault == "restart-etcd":
            await asyncio.to_thread(cluster.restart_etcd)
        else:
            raise ValueError(f"unknown fault {step.fault}")

    async def run_schedule(self, client: GrpcClient) -> None:
        started = time.monotonic()

        async def one(step: Step) -> None:
            await asyncio.sleep(max(0.0, started + step.at - time.monotonic()))
            await self.inject(step, client)

        await asyncio.gather(*(one(s) for s in self.report.schedule))

    async def check_continuously(self, client: GrpcClient, stop: asyncio.Event) -> None:
        checks = (*invariants.CONTINUOUS, *self.options.extra_checks)
        while not stop.is_set():
            with contextlib.suppress(ApiError):
                snap = await self.snapshot(client)
                self.report.checks_run += 1
                for check in checks:
                    for violation in check(snap):
                        if violation not in self.report.violations:
                            self.report.violations.append(violation)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.options.check_interval)

    async def heal_everything(self) -> None:
        for proxies in self.proxies.values():
            for proxy in proxies:
                proxy.heal()
        for name, process in self.cluster.nodes.items():
            process.signal(signal.SIGCONT)  # thaw anything still frozen
            if not process.alive():
                await asyncio.to_thread(self.cluster.restart_node, name)
        for name, plane in self.cluster.control_planes.items():
            if not plane.alive():
                await asyncio.to_thread(self.cluster.start_control_plane, name)

    async def etcd_values(self) -> list[str]:
        from controlplane.storage.etcd import EtcdStore

        store = EtcdStore([self.cluster.etcd_endpoint])
        try:
            items, _ = await store.list(b"/registry/")
        finally:
            await store.close()
        return invariants.undecodable_values([(kv.key, kv.value) for kv in items])

    async def run(self) -> Report:
        report = self.report
        await self.start()
        try:
            async with self.client() as client:
                await self.apply_workload(client)
                report.initial_convergence, problems = await self.wait_converged(
                    client, self.options.converge_timeout)
                if problems:
                    report.violations += [f"before faults: {p}" for p in problems]
                    return report
                writes = AckedWrites(NAMESPACE)
                stop = asyncio.Event()
                writer = asyncio.create_task(writes.run(self.cluster.servers(), stop))
                checker = asyncio.create_task(self.check_continuously(client, stop))
                await self.run_schedule(client)
                await self.heal_everything()
                stop.set()
                await asyncio.gather(writer, checker)
            async with self.client() as client:
                report.final_convergence, problems = await self.wait_converged(
                    client, self.options.converge_timeout)
                report.violations += [f"after faults: {p}" for p in problems]
                report.violations += await writes.lost(client)
                report.acknowledged_writes = len(writes.acknowledged)
                report.unknown_writes = writes.unknown
            report.violations += await self.etcd_values()
            return report
        finally:
            await self.stop()


async def run_experiment(options: Options) -> Report:
    return await Experiment(options).run()
