"""What the end-to-end tests share: a cluster of real processes per test module, kemuctl run as
a user runs it (its console script, as a subprocess), and reads through the API to wait on.

The tests act the way the books do, through kemuctl; they *wait* by reading the API, which is
cheap, and check kemuctl's output where the books show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kemu.api import codec, kinds
from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.timing import FAST
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.support.manifests import SHARED

BIN = Path(sys.executable).parent
KEMUCTL = str(BIN / "kemuctl")
KEMU = str(BIN / "kemu")

TIMING = FAST
# KEMU_E2E_TRACE=1 prints every kemuctl command with the time it took.
TRACE = bool(os.environ.get("KEMU_E2E_TRACE"))
# Waits are conditions with generous time limits: a shared two-core machine can be slow.
WAIT = 60.0

_COLUMN_GAP = re.compile(r"\S+(?: \S+)*")


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def table(self) -> list[dict[str, str]]:
        """The printed table(s) as rows keyed by header; several tables (one per kind, separated
        by blank lines) are concatenated."""
        return [row for table in self.tables() for row in table]

    def tables(self) -> list[list[dict[str, str]]]:
        """Each printed table as rows keyed by header; cells are sliced at the header's columns
        (kubectl's tabwriter starts every cell where its header starts)."""
        blocks: list[list[str]] = [[]]
        for line in self.lines:
            if line.strip():
                blocks[-1].append(line)
            elif blocks[-1]:
                blocks.append([])
        return [_parse_table(block) for block in blocks if block]

    def __str__(self) -> str:
        return (f"kemuctl {' '.join(self.args)} -> {self.exit_code}\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")


def _parse_table(lines: list[str]) -> list[dict[str, str]]:
    header = lines[0]
    starts = [(m.start(), m.group()) for m in _COLUMN_GAP.finditer(header)]
    rows = []
    for line in lines[1:]:
        row = {}
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(line)
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def _environment(server: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KEMU_SERVER"] = server
    return env


async def run_command(command: Sequence[str], env: dict[str, str], input: str | None = None,
                      timeout: float = WAIT) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        out, err = await asyncio.wait_for(
            process.communicate(input.encode() if input is not None else None), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{' '.join(command)} did not finish in {timeout}s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@dataclass
class Cluster:
    """A LocalCluster of real processes plus the ways a test talks to it."""

    local: LocalCluster
    node_names: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.local.address

    def client(self) -> GrpcClient:
        return GrpcClient(self.address)

    async def kemuctl(self, *args: str, input: str | None = None, ok: bool = True) -> Result:
        """Run ``kemuctl ARGS`` against this cluster; with ``ok``, fail unless it exits 0."""
        clock = Stopwatch()
        code, out, err = await run_command([KEMUCTL, *args], _environment(self.address), input)
        result = Result(tuple(args), code, out, err)
        if TRACE:
            print(f"[{time.strftime('%H:%M:%S')}] kemuctl {' '.join(args)} ({clock():.2f}s)")
        if ok:
            assert code == 0, str(result)
        return result

    def dump_logs(self, lines: int = 80) -> None:
        for process in [*self.local.control_planes.values(), *self.local.nodes.values()]:
            print(f"----- {process.name} ({process.log_path}) -----")
            print(process.log_tail(lines))


@contextmanager
def running_cluster(workdir: Path, nodes: Sequence[str] | dict[str, dict[str, Any]],
                    **options: Any) -> Iterator[Cluster]:
    """A control plane with every controller and one kubelet process per node (fast timing),
    all nodes Ready before it is handed out; everything is stopped afterwards."""
    local = LocalCluster(workdir, **options)
    try:
        local.start_control_plane()
        specs = nodes if isinstance(nodes, dict) else {name: {} for name in nodes}
        for name, spec in specs.items():
            local.add_node(name, **spec)
        cluster = Cluster(local, list(specs))
        asyncio.run(_wait_ready(cluster, list(specs)))
        yield cluster
    finally:
        local.stop()


async def _wait_ready(cluster: Cluster, names: list[str]) -> None:
    async with cluster.client() as api:
        await eventually_ready(api, names)


# -- reading the API ----------------------------------------------------------------------
async def eventually(check: Any, *, timeout: float = WAIT, interval: float = 0.05,
                     what: str = "") -> Any:
    from tests.support.waiting import eventually as wait

    return await wait(check, timeout=timeout, interval=interval, what=what)


def condition(obj: Any, kind: str) -> Any:
    return next((c for c in obj.status.conditions if c.type == kind), None)


def is_ready_node(node: core_pb2.Node) -> bool:
    ready = condition(node, "Ready")
    return ready is not None and ready.status == "True"


def is_ready_pod(pod: core_pb2.Pod) -> bool:
    ready = condition(pod, "Ready")
    return pod.status.phase == "Running" and ready is not None and ready.status == "True"


def taints(node: core_pb2.Node) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in node.spec.taints}


def owner(obj: Any) -> tuple[str, str] | None:
    """(kind, name) of the controller owner, if any."""
    for ref in obj.metadata.owner_references:
        if ref.controller:
            return ref.kind, ref.name
    return None


async def eventually_ready(api: GrpcClient, names: Sequence[str], timeout: float = WAIT) -> None:
    """Every named node Ready with no unreachable/not-ready taint left."""
    async def ready() -> bool:
        nodes = {n.metadata.name: n for n in (await api.list(core_pb2.Node)).items}
        for name in names:
            node = nodes.get(name)
            assert node is not None, f"node {name} not registered"
            assert is_ready_node(node), f"{name} not Ready: {condition(node, 'Ready')}"
            left = {key for key, _ in taints(node)} & {"node.kubernetes.io/unreachable",
                                                       "node.kubernetes.io/not-ready"}
            assert not left, f"{name} still tainted {left}"
        return True
    await eventually(ready, timeout=timeout, what=f"nodes {list(names)} Ready")


async def pods(api: GrpcClient, namespace: str, selector: str = "", *,
               live: bool = False) -> list[core_pb2.Pod]:
    """Pods of ``namespace`` (matching ``selector``), oldest first; ``live`` drops those being
    deleted."""
    found = (await api.list(core_pb2.Pod, namespace, label_selector=selector)).items
    if live:
        found = [p for p in found if not p.metadata.deletion_timestamp]
    return sorted(found, key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))


async def running_pods(api: GrpcClient, namespace: str, selector: str, count: int,
                       timeout: float = WAIT) -> list[core_pb2.Pod]:
    """Wait until exactly ``count`` pods match and are not being deleted (pods being deleted
    are not counted, as controllers do not count them), all Running and Ready."""
    async def check() -> list[core_pb2.Pod]:
        found = await pods(api, namespace, selector, live=True)
        assert len(found) == count, [(p.metadata.name, p.status.phase) for p in found]
        for pod in found:
            assert is_ready_pod(pod), f"{pod.metadata.name} not ready ({pod.status.phase})"
        return found
    result: list[core_pb2.Pod] = await eventually(
        check, timeout=timeout, what=f"{count} ready pods {selector!r} in {namespace}")
    return result


async def gone(api: GrpcClient, kind: type[Any], name: str, namespace: str = "",
               timeout: float = WAIT) -> None:
    async def check() -> bool:
        try:
            await api.get(kind, name, namespace)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return True
            raise
        raise AssertionError(f"{kind.__name__} {namespace}/{name} still exists")
    await eventually(check, timeout=timeout, what=f"{name} gone")


async def events(api: GrpcClient, namespace: str, name: str, reason: str = "") -> list[Any]:
    found = await api.list(core_pb2.Event, namespace,
                           field_selector=f"involvedObject.name={name}")
    return [e for e in found.items if not reason or e.reason == reason]


async def new_namespace(api: GrpcClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    await api.create(codec.decode(kinds.by_name("Namespace").message,
                                  {"metadata": {"name": name}}))
    return name


def manifest(relative: str) -> str:
    """The path of a book's manifest, used unchanged (see tests/support/manifests.py)."""
    path = SHARED / relative
    assert path.exists(), path
    return str(path)


class Stopwatch:
    """Seconds since it was started (time.monotonic)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start


@dataclass(frozen=True)
class PodView:
    """What a rollout check needs to know of a pod at one moment."""

    name: str
    uid: str
    node: str
    labels: dict[str, str]
    ready: bool
    deleting: bool
    phase: str


class PodTimeline:
    """Snapshots of a namespace's pods, polled through the API in the background while a test
    makes a change: ``async with PodTimeline(api, ns) as timeline: ...``; then
    ``timeline.snapshots`` holds (seconds since start, [PodView]) in order."""

    def __init__(self, api: GrpcClient, namespace: str, selector: str = "",
                 interval: float = 0.05) -> None:
        self.api = api
        self.namespace = namespace
        self.selector = selector
        self.interval = interval
        self.snapshots: list[tuple[float, list[PodView]]] = []
        self._task: asyncio.Task[None] | None = None
        self._clock = Stopwatch()

    async def take(self) -> list[PodView]:
        found = await pods(self.api, self.namespace, self.selector)
        view = [PodView(p.metadata.name, p.metadata.uid, p.spec.node_name,
                        dict(p.metadata.labels), is_ready_pod(p),
                        bool(p.metadata.deletion_timestamp), p.status.phase) for p in found]
        self.snapshots.append((self._clock(), view))
        return view

    async def _run(self) -> None:
        while True:
            await self.take()
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> PodTimeline:
        self._clock = Stopwatch()
        await self.take()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.take()
