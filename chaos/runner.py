"""Runs one chaos experiment: cluster up, workload on, seeded faults, checks, convergence.

The cluster is real: an etcd process, one or two control planes, and one kubelet process per
node, each kubelet reaching every control plane through its own ``FaultProxy`` so it can be cut
off. The workload is the books' DaemonSet (kia2 ``ds.demo.yaml``) and ReplicaSet of three
(kiamol ``whoami-replicas-3.yaml``). While the seeded faults run, an ``Observer`` feeds every
watch event to the invariant ledger and a writer makes acknowledged writes; after the faults
are undone the run waits for convergence, then checks the converged state, the acknowledged
writes and every value in etcd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import invariants
from chaos.observer import LEADER_LEASE, Clients, Observer
from chaos.proxy import FaultProxy
from chaos.schedule import CLUSTER_FAULTS, NODE_FAULTS, Shape, Step, make_schedule
from chaos.writer import AckedWrites
from kemu.api.errors import ApiError, Code
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, coordination_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.manifests import SHARED

log = logging.getLogger(__name__)

DAEMONSET = SHARED / "kia2" / "Chapter17" / "ds.demo.yaml"
REPLICASET = SHARED / "kiamol" / "ch06" / "whoami" / "update" / "whoami-replicas-3.yaml"
NAMESPACE = "chaos"

Sabotage = Callable[["Experiment"], Coroutine[Any, Any, None]]


@dataclass
class Options:
    seed: int
    workdir: Path
    nodes: int = 4
    control_planes: int = 1
    duration: float = 30.0
    faults: int = 8
    hold: tuple[float, float] = (2.0, 6.0)
    node_faults: tuple[str, ...] = NODE_FAULTS
    cluster_faults: tuple[str, ...] = CLUSTER_FAULTS
    converge_timeout: float = 60.0
    timing_overrides: dict[str, str] = field(default_factory=dict)
    # Deliberate damage run beside the faults (tests prove a broken invariant fails the run).
    sabotage: Sequence[Sabotage] = ()
    daemonset: Path = DAEMONSET
    replicaset: Path = REPLICASET
    log_level: str = "info"

    def shape(self) -> Shape:
        return Shape(nodes=tuple(f"node-{i}" for i in range(1, self.nodes + 1)),
                     control_planes=tuple(f"cp-{i}" for i in range(1, self.control_planes + 1)),
                     duration=self.duration, faults=self.faults, node_faults=self.node_faults,
                     cluster_faults=self.cluster_faults, hold=self.hold)

    def replay(self) -> str:
        """The command that runs this experiment again, schedule and all."""
        command = (f"python -m chaos --seed {self.seed} --nodes {self.nodes} "
                   f"--control-planes {self.control_planes} --duration {self.duration:g} "
                   f"--faults {self.faults}")
        if self.hold != Options.hold:
            command += f" --hold {self.hold[0]:g},{self.hold[1]:g}"
        if self.node_faults != NODE_FAULTS:
            command += f" --node-faults {','.join(self.node_faults) or 'none'}"
        if self.cluster_faults != CLUSTER_FAULTS:
            command += f" --cluster-faults {','.join(self.cluster_faults) or 'none'}"
        return command


@dataclass
class FaultRecord:
    """One step as it happened: when, to whom, and what was measured about it."""

    step: Step
    target: str = ""
    started: float = 0.0  # time.monotonic()
    started_wall: float = 0.0  # time.time()
    undone: float = 0.0
    undone_wall: float = 0.0
    measured: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        figures = ", ".join(f"{k} {v:.2f}s" for k, v in self.measured.items())
        target = f" ({self.target})" if self.target and self.target != self.step.target else ""
        extra = "; ".join(self.notes)
        return f"{self.step}{target}" + (f": {figures}" if figures else "") + \
            (f" [{extra}]" if extra else "")


@dataclass
class Report:
    seed: int
    replay: str
    schedule: list[Step]
    faults: list[FaultRecord] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    initial_convergence: float = 0.0
    final_convergence: float = 0.0
    acknowledged_writes: int = 0
    unknown_writes: int = 0
    samples: int = 0
    relists: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        lines = [f"chaos seed {self.seed}: {'PASS' if self.ok else 'FAIL'} "
                 f"({self.duration:.0f}s)", f"  faults ({len(self.faults)}):"]
        lines += [f"    {record.describe()}" for record in self.faults]
        lines += [f"  converged {self.initial_convergence:.1f}s after the workload was created, "
                  f"{self.final_convergence:.1f}s after the faults ended",
                  f"  {self.samples} pod-count samples checked; {self.acknowledged_writes} "
                  f"acknowledged writes ({self.unknown_writes} unknown); watch re-lists "
                  f"{sum(self.relists.values())}"]
        lines += [f"  VIOLATION: {v}" for v in self.violations[:50]]
        if len(self.violations) > 50:
            lines.append(f"  ... and {len(self.violations) - 50} more")
        lines.append(f"  replay with: {self.replay}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "ok": self.ok, "replay": self.replay,
            "duration_s": round(self.duration, 2),
            "initial_convergence_s": round(self.initial_convergence, 3),
            "final_convergence_s": round(self.final_convergence, 3),
            "faults": [{"at": r.step.at, "fault": r.step.fault, "target": r.target,
                        "hold": r.step.hold, "measured_s": {k: round(v, 3) for k, v in
                                                            r.measured.items()},
                        "notes": r.notes} for r in self.faults],
            "violations": self.violations, "acknowledged_writes": self.acknowledged_writes,
            "unknown_writes": self.unknown_writes, "samples": self.samples,
            "relists": self.relists,
        }


class Experiment:
    def __init__(self, options: Options):
        self.options = options
        self.cluster = LocalCluster(options.workdir, timing_profile="fast",
                                    timing_overrides=options.timing_overrides,
                                    external_etcd=True, log_level=options.log_level)
        shape = options.shape()
        self.node_names = list(shape.nodes)
        self.plane_names = list(shape.control_planes)
        self.report = Report(options.seed, options.replay(), make_schedule(options.seed, shape))
        self.proxies: dict[str, list[FaultProxy]] = {}
        # The control planes' addresses; a restarted control plane keeps its port.
        self.addresses: list[str] = []
        self.clients = Clients(lambda: self.addresses)
        self.observer = Observer(self.clients, NAMESPACE)
        self.writes = AckedWrites(NAMESPACE)

    # -- cluster --------------------------------------------------------------------------
    async def start(self) -> None:
        for name in self.plane_names:
            await asyncio.to_thread(self.cluster.start_control_plane, name)
        self.addresses = self.cluster.servers()
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
        await self.observer.stop()
        await self.clients.close()
        for proxies in self.proxies.values():
            for proxy in proxies:
                await proxy.stop()
        await asyncio.to_thread(self.cluster.stop)

    # -- workload and state ---------------------------------------------------------------
    async def apply_workload(self) -> None:
        namespace = core_pb2.Namespace()
        namespace.metadata.name = NAMESPACE
        await self.clients.call("create", namespace)
        for manifest in load_paths([str(self.options.daemonset), str(self.options.replicaset)]):
            manifest.obj.metadata.namespace = NAMESPACE
            await self.clients.call("create", manifest.obj)

    async def snapshot(self) -> invariants.Snapshot:
        nodes, pods, daemonsets, replicasets = await asyncio.gather(
            self.clients.call("list", core_pb2.Node),
            self.clients.call("list", core_pb2.Pod, NAMESPACE),
            self.clients.call("list", apps_pb2.DaemonSet, NAMESPACE),
            self.clients.call("list", apps_pb2.ReplicaSet, NAMESPACE))
        return invariants.Snapshot(nodes.items, pods.items, daemonsets.items, replicasets.items)

    async def wait_converged(self, timeout: float) -> tuple[float, list[str]]:
        started = time.monotonic()
        problems: list[str] = ["not checked yet"]
        while time.monotonic() - started < timeout:
            try:
                snap = await self.snapshot()
                problems = [v for check in invariants.CONVERGED for v in check(snap)]
                registered = sorted(n.metadata.name for n in snap.nodes)
                if registered != sorted(self.node_names):
                    problems.append(f"nodes registered: {', '.join(registered)}")
                if not problems:
                    return time.monotonic() - started, []
            except ApiError as exc:
                problems = [f"API error while converging: {exc}"]
            await asyncio.sleep(0.2)
        return time.monotonic() - started, problems

    async def leader(self) -> str:
        """The control plane holding the leader Lease now (the first one if none does)."""
        with contextlib.suppress(ApiError):
            lease = await self.clients.call("get", coordination_pb2.Lease, LEADER_LEASE[1],
                                            LEADER_LEASE[0])
            if lease.spec.holder_identity in self.cluster.control_planes:
                return str(lease.spec.holder_identity)
        return self.plane_names[0]

    # -- faults ---------------------------------------------------------------------------
    async def inject(self, step: Step) -> FaultRecord:
        log.info("fault %s", step)
        cluster = self.cluster
        record = FaultRecord(step, target=step.target)

        def begin() -> None:
            record.started, record.started_wall = time.monotonic(), time.time()

        def end() -> None:
            record.undone, record.undone_wall = time.monotonic(), time.time()

        fault, target = step.fault, step.target
        if fault == "kill":
            begin()
            cluster.kill_node(target)
            await asyncio.sleep(step.hold)
            end()
            await asyncio.to_thread(cluster.restart_node, target)
        elif fault == "freeze":
            begin()
            cluster.freeze_node(target)
            await asyncio.sleep(step.hold)
            end()
            cluster.thaw_node(target)
        elif fault == "restart":
            begin()
            await asyncio.to_thread(cluster.restart_node, target)
            end()
        elif fault == "partition":
            begin()
            for proxy in self.proxies[target]:
                proxy.partition()
            await asyncio.sleep(step.hold)
            end()
            for proxy in self.proxies[target]:
                proxy.heal()
        elif fault == "delete-node":
            begin()
            cluster.kill_node(target)
            await self._delete_node(record)
            await asyncio.sleep(max(0.0, record.started + step.hold - time.monotonic()))
            end()
            await asyncio.to_thread(cluster.restart_node, target)
        elif fault == "restart-controlplane":
            begin()
            await asyncio.to_thread(cluster.restart_control_plane, target)
            end()
        elif fault == "kill-leader":
            record.target = await self.leader()
            begin()
            cluster.control_planes[record.target].kill()
            await asyncio.sleep(step.hold)
            end()
            await asyncio.to_thread(cluster.start_control_plane, record.target)
        elif fault == "freeze-leader":
            record.target = await self.leader()
            begin()
            cluster.control_planes[record.target].signal(signal.SIGSTOP)
            await asyncio.sleep(step.hold)
            end()
            cluster.control_planes[record.target].signal(signal.SIGCONT)
        elif fault == "restart-etcd":
            begin()
            await asyncio.to_thread(cluster.restart_etcd)
            end()
        else:
            raise ValueError(f"unknown fault {fault}")
        return record

    async def _delete_node(self, record: FaultRecord) -> None:
        """Delete the dead node's Node object (retrying while the API is away) and measure how
        long pod GC takes to remove the pods bound to it."""
        name = record.step.target
        deadline = record.started + record.step.hold
        while True:
            try:
                await self.clients.call("delete", core_pb2.Node, name)
                break
            except ApiError as exc:
                if exc.code == Code.NOT_FOUND:
                    break
                if time.monotonic() > deadline:
                    record.notes.append(f"Node not deleted: {exc}")
                    return
                await asyncio.sleep(0.2)
        deleted = time.monotonic()
        while time.monotonic() < deadline:
            if not any(p.spec.node_name == name for p in self.observer.ledger.pods.values()):
                record.measured["pods_collected"] = time.monotonic() - deleted
                return
            await asyncio.sleep(0.05)
        record.notes.append("pods still bound to the deleted node when it came back")

    async def run_schedule(self) -> None:
        started = time.monotonic()

        async def one(step: Step) -> FaultRecord:
            await asyncio.sleep(max(0.0, started + step.at - time.monotonic()))
            return await self.inject(step)

        self.report.faults = list(await asyncio.gather(*(one(s) for s in self.report.schedule)))
        await asyncio.sleep(max(0.0, started + self.options.duration - time.monotonic()))

    async def heal_everything(self) -> None:
        """Undo anything still impaired (a safety net: every step undoes its own fault)."""
        for proxies in self.proxies.values():
            for proxy in proxies:
                proxy.heal()
        for process in [*self.cluster.nodes.values(), *self.cluster.control_planes.values()]:
            process.signal(signal.SIGCONT)
        if self.cluster.etcd is not None and not self.cluster.etcd.alive():
            await asyncio.to_thread(self.cluster.etcd.start)
        for name, plane in list(self.cluster.control_planes.items()):
            if not plane.alive():
                await asyncio.to_thread(self.cluster.start_control_plane, name)
        for name, process in list(self.cluster.nodes.items()):
            if not process.alive():
                await asyncio.to_thread(self.cluster.restart_node, name)

    def measure(self, record: FaultRecord) -> None:
        """Turn the observer's timelines into the figures of one fault."""
        fault, observer = record.step.fault, self.observer
        if fault in ("kill", "freeze", "partition"):
            down = observer.first_ready_change(record.target, record.started,
                                               ("Unknown", "False"))
            if down is not None and down < record.undone:
                record.measured["detected"] = down - record.started
            if down is not None:
                back = observer.first_ready_change(record.target, record.undone, ("True",))
                if back is not None:
                    record.measured["ready_again"] = back - record.undone
        elif fault == "delete-node":
            back = observer.first_ready_change(record.target, record.undone, ("True",))
            if back is not None:
                record.measured["ready_again"] = back - record.undone
        elif fault in ("kill-leader", "freeze-leader"):
            if len(self.plane_names) > 1:
                other = observer.first_lease_write(record.started_wall, other_than=record.target)
                if other is not None:
                    record.measured["taken_over"] = other.renewed - record.started_wall
                    record.notes.append(f"new leader {other.holder}")
            write = observer.first_lease_write(record.started_wall)
            if write is not None and "taken_over" not in record.measured:
                record.measured["leader_again"] = write.renewed - record.started_wall
        elif fault in ("restart-controlplane", "restart-etcd"):
            write = observer.first_lease_write(record.undone_wall)
            if write is not None:
                record.measured["leader_renewed"] = write.renewed - record.undone_wall

    async def etcd_values(self) -> list[str]:
        from controlplane.apiserver import keys
        from controlplane.storage.etcd import EtcdStore

        store = EtcdStore([self.cluster.etcd_endpoint])
        try:
            items, _ = await store.list(keys.STORED_PREFIX)
        finally:
            await store.close()
        return invariants.undecodable_values([(kv.key, kv.value) for kv in items])

    # -- the experiment -------------------------------------------------------------------
    async def run(self) -> Report:
        report = self.report
        began = time.monotonic()
        await self.start()
        try:
            self.observer.start()
            await self.apply_workload()
            report.initial_convergence, problems = await self.wait_converged(
                self.options.converge_timeout)
            if problems:
                report.violations += [f"before faults: {p}" for p in problems]
                return report
            stop = asyncio.Event()
            writer = asyncio.create_task(self.writes.run(lambda: self.addresses, stop))
            sabotage = [asyncio.create_task(s(self)) for s in self.options.sabotage]
            try:
                await self.run_schedule()
                # Scenarios run to their end before anything is healed behind their backs.
                await asyncio.gather(*sabotage)
            finally:
                for task in sabotage:
                    task.cancel()
                await self.heal_everything()
                stop.set()
                await asyncio.gather(writer, *sabotage, return_exceptions=True)
            report.final_convergence, problems = await self.wait_converged(
                self.options.converge_timeout)
            report.violations += [f"after faults: {p}" for p in problems]
            await self.final_checks()
            return report
        finally:
            report.duration = time.monotonic() - began
            await self.stop()

    async def final_checks(self) -> None:
        report = self.report
        report.violations += await self.observer.caught_up(30.0)
        ledger = self.observer.ledger
        ledger.settle(final=True)
        report.violations += ledger.violations
        report.samples = ledger.samples
        report.relists = dict(self.observer.relists)
        report.violations += await self.writes.lost(self.clients)
        report.acknowledged_writes = len(self.writes.acknowledged)
        report.unknown_writes = self.writes.unknown
        report.violations += await self.etcd_values()
        for record in report.faults:
            self.measure(record)


async def run_experiment(options: Options) -> Report:
    return await Experiment(options).run()
