"""One pod on this node: an asyncio task that drives its containers through their lifecycle.

Level-triggered like the kubelet's SyncPod: each pass looks at the pod and at what the runtime
has, does the next thing due (create the sandbox, pull, create and start containers in order,
run due probes, restart what exited per restartPolicy after its back-off, stop everything when
the pod is deleted or finished), publishes the status, and sleeps until the next deadline,
a container exit or a change of the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass, field

from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339, parse_time
from kemu.client.nodeagent import NodeAgentClient
from kemu.timing import Timing
from kemu.v1 import core_pb2
from kubelet import podstatus
from kubelet.backoff import Backoff
from kubelet.clock import Clock, wait_until
from kubelet.containers import ContainerRecord, container_status, go_duration, terminated_state
from kubelet.events import NORMAL, WARNING, EventRecorder, container_path, pod_reference
from kubelet.ipam import AddressesExhaustedError, PodAddresses
from kubelet.probes import Prober, ProbeSettings
from kubelet.runtime.interface import (
    ContainerConfig,
    ContainerConfigError,
    ContainerRuntime,
    ContainerState,
    ImagePullError,
    ProbeKind,
)
from kubelet.statusmanager import PodStatusManager

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass
class NodeContext:
    """What every pod worker of this node shares."""

    node_name: str
    client: NodeAgentClient
    runtime: ContainerRuntime
    clock: Clock
    timing: Timing
    statuses: PodStatusManager
    events: EventRecorder
    addresses: PodAddresses
    node_ip: str = ""
    crash_backoff: Backoff = field(init=False)
    image_backoff: Backoff = field(init=False)
    restarts: int = 0

    def __post_init__(self) -> None:
        t = self.timing
        self.crash_backoff = Backoff(t.crashloop_backoff_base, t.crashloop_backoff_max,
                                     t.crashloop_backoff_reset)
        self.image_backoff = Backoff(t.crashloop_backoff_base, t.crashloop_backoff_max)


def _pull_policy(container: core_pb2.Container) -> str:
    if container.image_pull_policy:
        return container.image_pull_policy
    image = container.image.split("@", 1)[0]
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _main_container(pod: core_pb2.Pod) -> str:
    wanted = pod.metadata.annotations.get("kubectl.kubernetes.io/default-container", "")
    names = [c.name for c in pod.spec.containers]
    if wanted in names:
        return wanted
    return names[0] if names else ""


class PodWorker:
    def __init__(self, ctx: NodeContext, pod: core_pb2.Pod):
        self.ctx = ctx
        self.pod = pod
        self.uid = pod.metadata.uid
        self.key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        self.description = f"{pod.metadata.name}_{pod.metadata.namespace}({self.uid})"
        main = _main_container(pod)
        self.records = [ContainerRecord(c, init=True, sidecar=podstatus.is_sidecar(c))
                        for c in pod.spec.init_containers]
        self.records += [ContainerRecord(c, main=c.name == main) for c in pod.spec.containers]
        self.sandbox_ready = False
        self.pod_ip = ""
        self.start_time = pod.status.start_time
        self.initialized = not any(r.init and not r.sidecar for r in self.records)
        self.init_failed = False
        # Why every container is being stopped while the pod is not deleted.
        self.stopping_all = ""
        self.finished = False
        self.forced: tuple[str, str, str] | None = None
        self.kill_deadline = math.inf
        self.removed = False
        self.gone = False
        # Found finished at start-up: its status is the API's and stays so.
        self.frozen = False
        self.last_status = core_pb2.PodStatus()
        self.last_status.CopyFrom(pod.status)
        self._wake = asyncio.Event()
        self._stops: set[asyncio.Task[None]] = set()
        self.task: asyncio.Task[None] | None = None

    # -- from the pod manager -------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"pod {self.key}")

    def update(self, pod: core_pb2.Pod) -> None:
        self.pod = pod
        self.ctx.statuses.observe(pod)
        specs = {c.name: c for c in [*pod.spec.init_containers, *pod.spec.containers]}
        for record in self.records:
            changed = specs.get(record.name)
            if changed is not None and changed.image != record.spec.image:
                # A changed image (the only mutable part of a container) restarts it.
                record.spec = changed
                record.changed = True
        self._wake.set()

    def mark_gone(self) -> None:
        """The pod object is gone from the API: stop everything at once, report nothing."""
        self.gone = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def active(self) -> bool:
        """Holds node resources (an address, running containers)."""
        return not self.finished and not self.gone

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        clock = self.ctx.clock
        try:
            self._recover()
        except Exception:
            log.exception("node=%s pod=%s could not take over its recorded status",
                          self.ctx.node_name, self.key)
        while True:
            self._wake.clear()
            if self.gone:
                await self._clean_up()
                return
            try:
                if self.pod.metadata.deletion_timestamp:
                    deadline = await self._terminate()
                else:
                    deadline = await self._sync()
                self._publish()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node=%s pod=%s sync failed", self.ctx.node_name, self.key)
                deadline = clock.monotonic() + self.ctx.timing.crashloop_backoff_base
            await wait_until(clock, self._wake, deadline)

    async def stop(self) -> None:
        """End the worker without touching its containers (the kubelet is shutting down)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for task in list(self._stops):
            task.cancel()

    # -- recovery after a kubelet restart -------------------------------------------------
    def _recover(self) -> None:
        """Take over what the API says this pod's containers were doing (a kubelet restart)."""
        status = self.pod.status
        self.ctx.statuses.baseline(self.uid, status)
        if status.phase in podstatus.TERMINAL:
            # Finished before this process started: never run again, never rewrite.
            self.finished = self.frozen = True
            return
        if not status.container_statuses and not status.init_container_statuses:
            return
        if status.pod_ip and (self.pod.spec.host_network or
                              self.ctx.addresses.reserve(self.uid, status.pod_ip)):
            self.pod_ip = status.pod_ip
            self.sandbox_ready = True
        self._adopt_statuses(status, running=self.sandbox_ready)
        if any(not r.init and (r.instance or r.exited is not None) for r in self.records) or \
                all(r.succeeded or (r.sidecar and r.started) for r in self.records if r.init):
            self.initialized = True
        log.info("node=%s pod=%s taken over from its recorded status", self.ctx.node_name, self.key)

    def _adopt_statuses(self, status: core_pb2.PodStatus, running: bool) -> None:
        recorded = {s.name: s for s in [*status.init_container_statuses,
                                         *status.container_statuses]}
        clock = self.ctx.clock
        for record in self.records:
            cs = recorded.get(record.name)
            if cs is None:
                continue
            record.restart_count = cs.restart_count
            record.image_id = cs.image_id
            record.image_ref = cs.image
            if cs.last_state.HasField("terminated"):
                record.previous = cs.last_state.terminated
            if cs.state.HasField("running") and running:
                started = parse_time(cs.state.running.started_at)
                container_id = cs.container_id.partition("://")[2] or cs.container_id
                try:
                    record.instance = self.ctx.runtime.recover_container(
                        self._config(record), container_id, cs.image_id, started)
                except ContainerConfigError as exc:
                    log.warning("node=%s pod=%s container %s cannot be recovered: %s",
                                self.ctx.node_name, self.key, record.name, exc)
                    continue
                record.started = cs.started if cs.HasField("started") else True
                self._start_probers(record, clock.monotonic() - max(0.0, clock.time() - started),
                                    recovered_ready=cs.ready)
            elif cs.state.HasField("terminated"):
                self._adopt_exit(record, cs.state.terminated)
            elif cs.last_state.HasField("terminated"):
                self._adopt_exit(record, cs.last_state.terminated)
                record.previous = None

    def _adopt_exit(self, record: ContainerRecord, state: core_pb2.ContainerStateTerminated) -> None:
        clock = self.ctx.clock
        record.exited = state
        finished = parse_time(state.finished_at) or clock.time()
        record.exited_at = clock.monotonic() - max(0.0, clock.time() - finished)
        record.ran_for = max(0.0, finished - parse_time(state.started_at)) \
            if state.started_at else 0.0

    # -- a pass over a live pod -----------------------------------------------------------
    async def _sync(self) -> float | None:
        if self.finished:
            return None
        now = self.ctx.clock.monotonic()
        deadlines: list[float] = []
        if not self.sandbox_ready:
            self._create_sandbox(now, deadlines)
            if not self.sandbox_ready:
                return min(deadlines)
        if not self.start_time:
            self.start_time = now_rfc3339(self.ctx.clock.time())
        self._collect_exits(now)
        self._restart_changed()
        self._check_active_deadline(now, deadlines)
        if not self.stopping_all:
            await self._run_probes(deadlines)
        if not self.stopping_all:
            await self._start_containers(deadlines)
            # A container that exited as it started is reported exited, never running.
            self._collect_exits(self.ctx.clock.monotonic())
            self._check_completion()
        if self.stopping_all:
            return self._stop_everything(deadlines)
        for record in self.records:
            if record.instance and not record.kill_reason:
                deadlines.extend(p.due for p in record.probers())
        return min(deadlines, default=None)

    def _create_sandbox(self, now: float, deadlines: list[float]) -> None:
        if self.pod.spec.host_network:
            self.pod_ip = self.ctx.node_ip
        else:
            try:
                self.pod_ip = self.ctx.addresses.allocate(self.uid)
            except AddressesExhaustedError as exc:
                self._event(WARNING, "FailedCreatePodSandBox",
                            f"Failed to create pod sandbox: {exc}")
                deadlines.append(now + self.ctx.timing.crashloop_backoff_base)
                return
        self.sandbox_ready = True

    def _collect_exits(self, now: float) -> None:
        runtime = self.ctx.runtime
        for record in self.records:
            if not record.instance:
                continue
            info = runtime.container_status(record.instance)
            if info.state is not ContainerState.EXITED:
                continue
            record.exited = terminated_state(runtime, record.instance)
            record.exited_at = now
            record.ran_for = max(0.0, info.finished_at - info.started_at)
            record.exit_by_probe = record.kill_reason in ("liveness", "startup", "changed")
            forced = record.kill_reason == "changed"
            log.info("node=%s pod=%s container %s exited with code %d", self.ctx.node_name,
                     self.key, record.name, info.exit_code)
            runtime.remove_container(record.instance)
            record.clear_instance()
            record.kill_reason = ""
            record.forced_restart = forced

    def _check_active_deadline(self, now: float, deadlines: list[float]) -> None:
        spec = self.pod.spec
        if not spec.HasField("active_deadline_seconds") or not self.start_time:
            return
        limit = parse_time(self.start_time) + spec.active_deadline_seconds * self.ctx.timing.scale
        wall = self.ctx.clock.time()
        if wall >= limit:
            if not self.stopping_all:
                self.forced = (podstatus.FAILED, "DeadlineExceeded", DEADLINE_MESSAGE)
                self._event(NORMAL, "DeadlineExceeded", DEADLINE_MESSAGE)
                self.stopping_all = "deadline"
        else:
            deadlines.append(now + (limit - wall))

    def _restart_changed(self) -> None:
        for record in self.records:
            if not record.changed:
                continue
            record.changed = False
            if record.instance and not record.kill_reason:
                self._event(NORMAL, "Killing",
                            f"Container {record.name} definition changed, will be restarted",
                            record)
                record.kill_reason = "changed"
                record.ready = False
                record.startup = record.liveness = record.readiness = None
                self._request_stop(record, self._pod_grace() * self.ctx.timing.scale)

    # -- probes ---------------------------------------------------------------------------
    def _start_probers(self, record: ContainerRecord, began: float,
                       recovered_ready: bool | None = None) -> None:
        """Probe workers for the running instance of ``record``, counted from ``began``
        (monotonic): its start, or the moment its start-up probe succeeded."""
        spec = record.spec
        scale = self.ctx.timing.scale
        builtin = self.ctx.runtime.builtin_probes(record.instance)
        fallback = max(0.05, scale)

        def prober(kind: ProbeKind, field_name: str, initial: bool | None = None) -> Prober | None:
            if spec.HasField(field_name):
                settings = ProbeSettings.of(getattr(spec, field_name), scale)
            elif kind in builtin:
                settings = ProbeSettings.scripted(scale)
            else:
                return None
            return Prober(kind, settings, began, initial=initial, fallback_period=fallback)

        if not record.started:
            record.startup = prober(ProbeKind.STARTUP, "startup_probe")
            if record.startup is not None:
                return
            record.started = True
        record.liveness = prober(ProbeKind.LIVENESS, "liveness_probe")
        record.readiness = prober(ProbeKind.READINESS, "readiness_probe", recovered_ready)
        if record.readiness is not None:
            record.ready = bool(record.readiness.result)
        else:
            record.ready = not (record.init and not record.sidecar)

    async def _run_probes(self, deadlines: list[float]) -> None:
        for record in self.records:
            if not record.instance or record.kill_reason:
                continue
            if self.ctx.runtime.container_status(record.instance).state is not ContainerState.RUNNING:
                continue
            await self._probe(record, deadlines)

    async def _probe(self, record: ContainerRecord, deadlines: list[float]) -> None:
        clock = self.ctx.clock
        if record.startup is not None and not record.started:
            prober = record.startup
            if prober.due <= clock.monotonic():
                answer = await self.ctx.runtime.probe(record.instance, ProbeKind.STARTUP)
                prober.observe(clock.monotonic(), answer)
                if not answer.success and not prober.scripted:
                    self._unhealthy(record, ProbeKind.STARTUP, answer.output)
                if prober.result is True:
                    record.started = True
                    record.startup = None
                    self._start_probers(record, clock.monotonic())
                elif prober.result is False:
                    self._kill_for_probe(record, "startup")
                    return
            if record.startup is not None:
                deadlines.append(prober.due)
                return
        for worker in (record.liveness, record.readiness):
            if worker is None:
                continue
            if worker.due <= clock.monotonic():
                answer = await self.ctx.runtime.probe(record.instance, worker.kind)
                worker.observe(clock.monotonic(), answer)
                if not answer.success and not worker.scripted:
                    self._unhealthy(record, worker.kind, answer.output)
                if worker.kind is ProbeKind.LIVENESS and worker.result is False:
                    self._kill_for_probe(record, "liveness")
                    return
                if worker.kind is ProbeKind.READINESS:
                    record.ready = bool(worker.result)
            deadlines.append(worker.due)

    def _unhealthy(self, record: ContainerRecord, kind: ProbeKind, output: str) -> None:
        self._event(WARNING, "Unhealthy", f"{kind.value} probe failed: {output}", record)

    def _kill_for_probe(self, record: ContainerRecord, which: str) -> None:
        message = f"Container {record.name} failed {which} probe"
        if self._restart_policy() != "Never":
            message += ", will be restarted"
        self._event(NORMAL, "Killing", message, record)
        record.kill_reason = which
        record.startup = record.liveness = record.readiness = None
        record.ready = False
        probe = record.spec.liveness_probe if which == "liveness" else record.spec.startup_probe
        grace = probe.termination_grace_period_seconds \
            if probe.HasField("termination_grace_period_seconds") else self._pod_grace()
        self._request_stop(record, grace * self.ctx.timing.scale)

    # -- starting containers --------------------------------------------------------------
    def _restart_policy(self) -> str:
        return self.pod.spec.restart_policy or "Always"

    def _should_restart(self, record: ContainerRecord) -> bool:
        assert record.exited is not None
        policy = self._restart_policy()
        if record.sidecar:
            return True
        if record.init:
            return policy != "Never" and record.exited.exit_code != 0
        if record.exit_by_probe:
            return policy != "Never" or record.forced_restart
        if policy == "Always":
            return True
        return policy == "OnFailure" and record.exited.exit_code != 0

    async def _start_containers(self, deadlines: list[float]) -> None:
        if not self.initialized:
            for record in self.records:
                if not record.init:
                    continue
                if record.sidecar:
                    if not record.instance:
                        await self._try_start(record, deadlines)
                    if record.instance and record.started:
                        continue
                    break
                if record.succeeded:
                    continue
                if record.instance:
                    break
                if record.exited is not None and not self._should_restart(record):
                    self.init_failed = True
                    break
                await self._try_start(record, deadlines)
                break
            else:
                self.initialized = True
        if not self.initialized:
            return
        for record in self.records:
            if record.init and not record.sidecar:
                continue
            if record.instance or self.pod.metadata.deletion_timestamp:
                continue
            if record.exited is None or self._should_restart(record):
                await self._try_start(record, deadlines)

    async def _try_start(self, record: ContainerRecord, deadlines: list[float]) -> None:
        ctx = self.ctx
        now = ctx.clock.monotonic()
        key = f"{self.uid}/{record.name}"
        if record.exited is not None:
            until = ctx.crash_backoff.wait_until(key, record.exited_at, record.ran_for)
            if until is not None and now < until:
                delay = go_duration(ctx.crash_backoff.delay(key))
                record.waiting = ("CrashLoopBackOff", f"back-off {delay} restarting failed "
                                  f"container={record.name} pod={self.description}")
                if "backoff" not in record.announced:
                    record.announced.add("backoff")
                    self._event(WARNING, "BackOff", f"Back-off restarting failed container "
                                f"{record.name} in pod {self.description}", record)
                deadlines.append(until)
                return
        if record.next_try > now:
            deadlines.append(record.next_try)
            return
        if not await self._ensure_image(record, deadlines):
            return
        try:
            container_id = await ctx.runtime.create_container(self._config(record))
        except ContainerConfigError as exc:
            record.waiting = ("CreateContainerConfigError", str(exc))
            self._event(WARNING, "Failed", f"Error: {exc}", record)
            record.next_try = ctx.clock.monotonic() + ctx.timing.crashloop_backoff_base
            deadlines.append(record.next_try)
            return
        if record.exited is not None:
            ctx.crash_backoff.next(key, record.exited_at, record.ran_for)
            record.previous = record.exited
            record.exited = None
            record.restart_count += 1
            ctx.restarts += 1
        record.instance = container_id
        record.image_ref = ctx.runtime.container_status(container_id).image
        record.waiting = None
        record.announced.discard("backoff")
        record.kill_reason = ""
        record.exit_by_probe = record.forced_restart = False
        self._event(NORMAL, "Created", f"Created container: {record.name}", record)
        await ctx.runtime.start_container(container_id)
        info = ctx.runtime.container_status(container_id)
        if info.state is ContainerState.CREATED:
            return
        self._event(NORMAL, "Started", f"Started container {record.name}", record)
        log.info("node=%s pod=%s started container %s", ctx.node_name, self.key, record.name)
        self._start_probers(record, ctx.clock.monotonic())

    async def _ensure_image(self, record: ContainerRecord, deadlines: list[float]) -> bool:
        ctx = self.ctx
        image = record.spec.image
        policy = _pull_policy(record.spec)
        if policy == "Never" or (policy == "IfNotPresent" and ctx.runtime.image_present(image)):
            self._event(NORMAL, "Pulled", f'Container image "{image}" already present on machine',
                        record)
            record.image_id = ctx.runtime.image_id(image)
            return True
        key = f"{self.uid}/{image}"
        now = ctx.clock.monotonic()
        until = ctx.image_backoff.in_backoff(key, now)
        if until is not None:
            shown_until = record.next_try
            if record.waiting and record.waiting[0] == "ErrImagePull" and now < shown_until:
                deadlines.append(shown_until)
                return False
            record.waiting = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            self._event(NORMAL, "BackOff", f'Back-off pulling image "{image}"', record)
            self._event(WARNING, "Failed", "Error: ImagePullBackOff", record)
            deadlines.append(until)
            return False
        self._event(NORMAL, "Pulling", f'Pulling image "{image}"', record)
        self._publish()
        began = ctx.clock.monotonic()
        try:
            image_id, size = await ctx.runtime.pull_image(self._config(record))
        except ImagePullError as exc:
            now = ctx.clock.monotonic()
            ctx.image_backoff.next(key, now)
            self._event(WARNING, "Failed", f'Failed to pull image "{image}": {exc}', record)
            self._event(WARNING, "Failed", "Error: ErrImagePull", record)
            record.waiting = ("ErrImagePull", str(exc))
            # Show ErrImagePull for a moment, then ImagePullBackOff until the next attempt.
            record.next_try = now + ctx.image_backoff.delay(key) / 2
            deadlines.append(record.next_try)
            return False
        took = go_duration(ctx.clock.monotonic() - began)
        self._event(NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took} '
                    f"({took} including waiting). Image size: {size} bytes.", record)
        record.image_id = image_id
        record.next_try = 0.0
        return True

    def _config(self, record: ContainerRecord) -> ContainerConfig:
        spec = record.spec
        argv = (*spec.command, *spec.args)
        probes = {}
        for kind, name in ((ProbeKind.READINESS, "readiness_probe"),
                           (ProbeKind.LIVENESS, "liveness_probe"),
                           (ProbeKind.STARTUP, "startup_probe")):
            if spec.HasField(name):
                probes[kind] = getattr(spec, name)
        meta = self.pod.metadata
        return ContainerConfig(pod_uid=self.uid, pod_namespace=meta.namespace,
                               pod_name=meta.name, name=spec.name, image=spec.image,
                               argv=argv, annotations=dict(meta.annotations), main=record.main,
                               probes=probes, on_exit=self.wake)

    # -- finishing ------------------------------------------------------------------------
    def _check_completion(self) -> None:
        if self.init_failed:
            self.stopping_all = "init failed"
            return
        if not self.initialized:
            return
        apps = [r for r in self.records if not r.init]
        if all(not r.instance and r.exited is not None and not self._should_restart(r)
               for r in apps):
            self.stopping_all = "completed"

    def _stop_everything(self, deadlines: list[float]) -> float | None:
        """Stop what runs (regular containers first, then sidecars); finish once all stopped."""
        grace = self._pod_grace() * self.ctx.timing.scale
        now = self.ctx.clock.monotonic()
        if self.kill_deadline == math.inf:
            self.kill_deadline = now + grace
        if self._stop_running(now, announce=True):
            return min(deadlines, default=None)
        self._finish(mark_unknown=self.stopping_all == "deadline")
        return None

    def _stop_running(self, now: float, announce: bool) -> bool:
        """Ask running containers to stop by ``kill_deadline``; True while any still runs."""
        remaining = max(0.0, self.kill_deadline - now)
        regular = [r for r in self.records if r.instance and not r.sidecar]
        sidecars = [r for r in reversed(self.records) if r.instance and r.sidecar]
        for record in regular or sidecars:
            if record.stop_deadline == math.inf and announce:
                self._event(NORMAL, "Killing", f"Stopping container {record.name}", record)
            record.kill_reason = record.kill_reason or "pod"
            self._request_stop(record, remaining)
        return bool(regular or sidecars)

    def _request_stop(self, record: ContainerRecord, timeout: float) -> None:
        deadline = self.ctx.clock.monotonic() + timeout
        if deadline >= record.stop_deadline:
            return
        record.stop_deadline = deadline
        task = asyncio.create_task(self.ctx.runtime.stop_container(record.instance, timeout))
        self._stops.add(task)
        task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        self._stops.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("node=%s pod=%s stopping a container failed: %s", self.ctx.node_name,
                        self.key, task.exception())
        self._wake.set()

    def _finish(self, mark_unknown: bool) -> None:
        """No container of this pod will run again: tear the sandbox down."""
        if self.finished:
            return
        if mark_unknown:
            for record in self.records:
                record.mark_unknown()
        self.finished = True
        self.ctx.addresses.release(self.uid)
        self.ctx.crash_backoff.forget_prefix(self.uid + "/")
        self.ctx.image_backoff.forget_prefix(self.uid + "/")
        log.info("node=%s pod=%s finished", self.ctx.node_name, self.key)

    def _pod_grace(self) -> int:
        spec = self.pod.spec
        if spec.HasField("termination_grace_period_seconds"):
            return int(spec.termination_grace_period_seconds)
        return DEFAULT_GRACE_SECONDS

    # -- deletion -------------------------------------------------------------------------
    async def _terminate(self) -> float | None:
        """Graceful deletion: stop within the (scaled) grace period, report, remove the pod."""
        ctx = self.ctx
        now = ctx.clock.monotonic()
        meta = self.pod.metadata
        grace = meta.deletion_grace_period_seconds if meta.HasField(
            "deletion_grace_period_seconds") else self._pod_grace()
        self.kill_deadline = min(self.kill_deadline, now + grace * ctx.timing.scale)
        self._collect_exits(now)
        if not self.finished and self._stop_running(now, announce=True):
            return None
        self._finish(mark_unknown=True)
        if self.removed:
            return None
        self._publish()
        await ctx.statuses.synced(self.uid)
        try:
            await ctx.client.remove_pod(meta.namespace, meta.name, self.uid)
        except ApiError as exc:
            if exc.code not in (Code.NOT_FOUND, Code.ABORTED, Code.PERMISSION_DENIED):
                log.warning("node=%s pod=%s removal failed, will retry: %s", ctx.node_name,
                            self.key, exc)
                return ctx.clock.monotonic() + ctx.timing.crashloop_backoff_base
        self.removed = True
        log.info("node=%s pod=%s stopped and removed", ctx.node_name, self.key)
        return None

    async def _clean_up(self) -> None:
        for record in self.records:
            if record.instance:
                with contextlib.suppress(Exception):
                    await self.ctx.runtime.stop_container(record.instance, 0)
                self.ctx.runtime.remove_container(record.instance)
                record.clear_instance()
        self.finished = True
        self.ctx.addresses.release(self.uid)
        self.ctx.statuses.forget(self.uid)
        self.ctx.events.forget(self.uid)
        self.ctx.crash_backoff.forget_prefix(self.uid + "/")
        self.ctx.image_backoff.forget_prefix(self.uid + "/")

    # -- status ---------------------------------------------------------------------------
    def build_status(self) -> core_pb2.PodStatus:
        ctx = self.ctx
        spec = self.pod.spec
        stamp = now_rfc3339(ctx.clock.time())
        status = core_pb2.PodStatus()
        if ctx.node_ip:
            status.host_ip = ctx.node_ip
            status.host_ips.add(ip=ctx.node_ip)
        if self.pod_ip:
            status.pod_ip = self.pod_ip
            status.pod_ips.add(ip=self.pod_ip)
        status.start_time = self.start_time
        status.qos_class = podstatus.qos_class(spec)
        default = "PodInitializing" if spec.init_containers else "ContainerCreating"
        for record in self.records:
            target = status.init_container_statuses if record.init else status.container_statuses
            target.append(container_status(record, ctx.runtime, default))
        statuses = [*status.init_container_statuses, *status.container_statuses]
        has_initialized = any(r.instance and not r.init for r in self.records)
        phase = podstatus.get_phase(spec, statuses, self.finished, has_initialized)
        previous = self.last_status
        api_phase = self.pod.status.phase
        if phase not in podstatus.TERMINAL:
            if previous.phase in podstatus.TERMINAL:
                phase = previous.phase
            elif api_phase in podstatus.TERMINAL:
                phase = api_phase
        if self.forced is not None:
            phase, status.reason, status.message = self.forced
        elif phase == previous.phase:
            status.reason, status.message = previous.reason, previous.message
        if api_phase in podstatus.TERMINAL:
            phase = api_phase
        status.phase = phase
        conditions = podstatus.kubelet_conditions(spec, statuses, phase,
                                                  self.sandbox_ready and not self.finished)
        podstatus.stamp_transitions(conditions, previous.conditions, stamp)
        status.conditions.extend(conditions)
        return status

    def _publish(self) -> None:
        if self.gone or self.frozen:
            return
        status = self.build_status()
        self.last_status = status
        self.ctx.statuses.set(self.pod, status)

    def _event(self, kind: str, reason: str, message: str,
               record: ContainerRecord | None = None) -> None:
        path = container_path(record.name, record.init) if record is not None else ""
        self.ctx.events.record(pod_reference(self.pod, path), kind, reason, message)
