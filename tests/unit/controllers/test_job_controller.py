"""The Job controller driven sync by sync over an in-memory API and a settable clock: pods made,
successes and failures counted once, backoff, deadlines, suspension, Indexed Jobs, work queues,
the pod failure policy, orphaned finalizers and the TTL controller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from controlplane.controllers.informer import InformerFactory
from controlplane.controllers.job.controller import JobController
from controlplane.controllers.job.ttl import TTLAfterFinishedController
from controlplane.controllers.registry import ControllerContext
from kemu.api.meta import now_rfc3339, parse_time
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import batch_pb2, core_pb2
from tests.unit.controllers.batch_fakes import FakeApi, deliver, job, set_phase

pytestmark = pytest.mark.unit

T0 = 1_700_000_000.0
TRACKING = "batch.kubernetes.io/job-tracking"
SCALE = FAST.scale


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.api = FakeApi(self.clock)
        context = ControllerContext(self.api, InformerFactory(self.api), FAST, lambda: True,
                                    "test")
        self.controller = JobController(context, clock=self.clock)
        self.requeued: list[tuple[str, float]] = []
        self.controller.env.requeue = lambda key, delay: self.requeued.append((key, delay))

    def add(self, obj: Any) -> Any:
        return self.api.put(obj)

    async def sync(self, name: str = "work") -> batch_pb2.Job:
        deliver(self.api, self.controller.jobs, self.controller.pods)
        await self.controller.sync(f"default/{name}")
        deliver(self.api, self.controller.jobs, self.controller.pods)
        return self.job(name)

    def job(self, name: str = "work") -> batch_pb2.Job:
        return self.api.objects[("Job", "default", name)]  # type: ignore[no-any-return]

    def pods(self, *, active_only: bool = False) -> list[core_pb2.Pod]:
        pods = self.api.all(core_pb2.Pod)
        if active_only:
            pods = [p for p in pods if p.status.phase not in ("Succeeded", "Failed") and
                    not p.metadata.deletion_timestamp]
        return pods

    def finish(self, pod: core_pb2.Pod, phase: str = "Succeeded", exit_code: int = 0) -> None:
        self.api.save(set_phase(pod, phase, exit_code=exit_code,
                                finished_at=now_rfc3339(self.clock.now)))

    def change_spec(self, name: str = "work", **fields: Any) -> None:
        current = clone(self.job(name))
        for field, value in fields.items():
            setattr(current.spec, field, value)
        current.metadata.generation += 1
        self.api.save(current)

    async def events(self, name: str = "work") -> list[tuple[str, str, str]]:
        await self.controller.recorder.flush()
        return [e for e in self.api.events(name)]


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    await harness.controller.stop()


def conditions(job: batch_pb2.Job) -> list[tuple[str, str, str]]:
    return [(c.type, c.status, c.reason) for c in job.status.conditions]


async def test_pods_come_from_the_template_with_the_tracking_finalizer(h: Harness) -> None:
    h.add(job(spec={"parallelism": 2, "completions": 5}))
    status = (await h.sync()).status
    pods = h.pods()
    assert len(pods) == 2
    for pod in pods:
        assert pod.metadata.name.startswith("work-")
        assert list(pod.metadata.finalizers) == [TRACKING]
        assert pod.metadata.labels["batch.kubernetes.io/job-name"] == "work"
        assert pod.metadata.owner_references[0].uid == "uid-work"
    assert (status.active, status.ready, status.succeeded) == (2, 0, 0)
    assert parse_time(status.start_time) == T0
    created = [e for e in await h.events() if e[1] == "SuccessfulCreate"]
    assert sorted(m for _, _, m in created) == sorted(f"Created pod: {p.metadata.name}"
                                                      for p in pods)


async def test_successes_are_counted_once_never_above_parallelism(h: Harness) -> None:
    h.add(job(spec={"parallelism": 2, "completions": 5}))
    await h.sync()
    most_active = 0
    for _ in range(10):
        active = h.pods(active_only=True)
        most_active = max(most_active, len(active))
        if not active:
            break
        h.finish(active[0])
        await h.sync()
    finished = h.job()
    assert most_active == 2
    assert finished.status.succeeded == 5 and finished.status.active == 0
    assert conditions(finished) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                    ("Complete", "True", "CompletionsReached")]
    assert finished.status.conditions[1].message == "Reached expected number of succeeded pods"
    assert finished.status.completion_time
    assert not finished.status.uncounted_terminated_pods.succeeded
    # Finished pods stay, counted, without the finalizer.
    assert len(h.pods()) == 5 and all(not p.metadata.finalizers for p in h.pods())
    assert ("Normal", "Completed", "Job completed") in await h.events()


async def test_a_stale_cache_does_not_count_a_pod_twice(h: Harness) -> None:
    h.add(job(spec={"parallelism": 2, "completions": 3}))
    await h.sync()
    first = h.pods()[0]
    h.finish(first)
    deliver(h.api, h.controller.jobs, h.controller.pods)
    await h.controller.sync("default/work")
    assert h.job().status.succeeded == 1
    assert not h.pods()[0].metadata.finalizers
    # The pod's update without the finalizer has not reached the informer yet.
    assert h.controller.pods.get(f"default/{first.metadata.name}").metadata.finalizers
    deliver(h.api, h.controller.jobs)
    await h.controller.sync("default/work")
    assert h.job().status.succeeded == 1
    deliver(h.api, h.controller.jobs, h.controller.pods)
    await h.controller.sync("default/work")
    assert h.job().status.succeeded == 1
    # Counting goes through uncountedTerminatedPods: UID written before the finalizer goes.
    writes = [entry for entry in h.api.log if entry[0] in ("update_status", "patch")]
    assert writes[1:4] == [("update_status", "Job", "work"),
                           ("patch", "Pod", first.metadata.name),
                           ("update_status", "Job", "work")]


async def test_failed_pods_back_off_then_hit_the_backoff_limit(h: Harness) -> None:
    h.add(job(spec={"backoffLimit": 2}))
    await h.sync()
    delays = []
    for attempt in range(3):
        (pod,) = h.pods(active_only=True)
        h.finish(pod, "Failed", exit_code=1)
        h.requeued.clear()
        status = (await h.sync()).status
        assert status.failed == attempt + 1
        if attempt == 2:
            break
        assert not h.pods(active_only=True)
        (_key, delay), = h.requeued
        delays.append(delay)
        h.clock.now += delay
        await h.sync()
        assert len(h.pods(active_only=True)) == 1
    # 10 s, then 20 s, x timing.scale.
    assert delays == [pytest.approx(10 * SCALE), pytest.approx(20 * SCALE)]
    failed = h.job()
    assert conditions(failed) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                  ("Failed", "True", "BackoffLimitExceeded")]
    assert failed.status.conditions[1].message == "Job has reached the specified backoff limit"
    assert not failed.status.completion_time
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") \
        in await h.events()


async def test_restarts_count_toward_the_limit_with_restart_policy_on_failure(h: Harness) -> None:
    h.add(job(spec={"parallelism": 3, "completions": 10},
              template_spec={"restartPolicy": "OnFailure"}))
    await h.sync()
    for pod in h.pods():
        h.api.save(set_phase(pod, "Running", restarts=1, ready=True))
    status = (await h.sync()).status
    assert (status.active, status.ready, conditions(h.job())) == (3, 3, [])
    for pod in h.pods():
        h.api.save(set_phase(pod, "Running", restarts=2))
    failing = await h.sync()
    # Six restarts reach backoffLimit 6: the pods are deleted and counted as failed.
    assert conditions(failing) == [("FailureTarget", "True", "BackoffLimitExceeded")]
    assert (failing.status.active, failing.status.terminating, failing.status.failed) == (0, 3, 3)
    failed = await h.sync()
    assert conditions(failed)[-1] == ("Failed", "True", "BackoffLimitExceeded")
    assert sum(1 for e in await h.events() if e[1] == "SuccessfulDelete") == 3


async def test_active_deadline_is_scaled_and_fails_the_job(h: Harness) -> None:
    h.add(job(spec={"activeDeadlineSeconds": 90}))
    h.clock.now = T0 + 0.4  # startTime has one-second precision; the deadline does not
    await h.sync()
    assert h.requeued == [("default/work", pytest.approx(90 * SCALE))]
    h.clock.now += 90 * SCALE - 0.1
    assert not conditions(await h.sync())
    h.clock.now += 0.1
    deadline = await h.sync()
    assert conditions(deadline) == [("FailureTarget", "True", "DeadlineExceeded")]
    failed = await h.sync()
    assert failed.status.conditions[-1].message == "Job was active longer than specified deadline"
    assert ("Warning", "DeadlineExceeded", "Job was active longer than specified deadline") \
        in await h.events()


async def test_suspend_deletes_pods_uncounted_and_resume_restarts_the_clock(h: Harness) -> None:
    h.add(job(spec={"suspend": True, "parallelism": 2, "completions": 2}))
    suspended = await h.sync()
    assert not h.pods() and not suspended.status.start_time
    assert conditions(suspended) == [("Suspended", "True", "JobSuspended")]
    h.clock.now += 30
    h.change_spec(suspend=False)
    resumed = await h.sync()
    assert len(h.pods()) == 2
    assert conditions(resumed) == [("Suspended", "False", "JobResumed")]
    assert parse_time(resumed.status.start_time) == T0 + 30
    h.change_spec(suspend=True)
    again = await h.sync()
    # Deleted with their finalizer removed first: not counted as failures.
    assert not h.pods()
    assert (again.status.active, again.status.failed) == (0, 0)
    assert conditions(again) == [("Suspended", "True", "JobSuspended")]
    events = {(r, m) for _, r, m in await h.events() if r in ("Suspended", "Resumed")}
    assert events == {("Suspended", "Job suspended"), ("Resumed", "Job resumed")}


async def test_indexed_job_tracks_completed_indexes(h: Harness) -> None:
    h.add(job(spec={"completionMode": "Indexed", "completions": 5, "parallelism": 2}))
    await h.sync()

    def by_index() -> dict[int, core_pb2.Pod]:
        return {int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"]): p
                for p in h.pods(active_only=True)}

    assert sorted(by_index()) == [0, 1]
    assert by_index()[1].metadata.name.startswith("work-1-")
    h.finish(by_index()[1])
    assert (await h.sync()).status.completed_indexes == "1"
    assert sorted(by_index()) == [0, 2]
    h.finish(by_index()[2])
    assert (await h.sync()).status.completed_indexes == "1,2"
    h.finish(by_index()[3])
    status = (await h.sync()).status
    assert (status.completed_indexes, status.succeeded) == ("1-3", 3)
    for index in (0, 4):
        h.finish(by_index()[index])
    done = await h.sync()
    assert (done.status.completed_indexes, done.status.succeeded) == ("0-4", 5)
    assert conditions(done)[-1] == ("Complete", "True", "CompletionsReached")


async def test_work_queue_job_completes_once_a_pod_succeeded_and_the_rest_ended(
        h: Harness) -> None:
    h.add(job(spec={"completions": None, "parallelism": 3}))
    await h.sync()
    first, *rest = h.pods()
    h.finish(first)
    status = (await h.sync()).status
    assert (status.succeeded, status.active, len(h.pods())) == (1, 2, 3)
    h.finish(rest[0])
    h.finish(rest[1], "Failed", exit_code=1)
    done = await h.sync()
    assert (done.status.succeeded, done.status.failed) == (2, 1)
    assert conditions(done)[-1] == ("Complete", "True", "CompletionsReached")


async def test_pod_failure_policy_fail_job_and_ignore(h: Harness) -> None:
    policy = {"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    h.add(job(spec={"podFailurePolicy": policy, "podReplacementPolicy": "Failed"}))
    await h.sync()
    (pod,) = h.pods()
    h.finish(pod, "Failed", exit_code=3)
    ignored = await h.sync()
    assert ignored.status.failed == 0 and not conditions(ignored)
    h.clock.now += 60
    await h.sync()
    (replacement,) = h.pods(active_only=True)
    h.finish(replacement, "Failed", exit_code=42)
    failed = await h.sync()
    # Nothing else runs: the terminal condition follows at once.
    assert conditions(failed) == [("FailureTarget", "True", "PodFailurePolicy"),
                                  ("Failed", "True", "PodFailurePolicy")]
    message = (f"Container main for pod default/{replacement.metadata.name} failed with exit "
               "code 42 matching FailJob rule at index 1")
    assert failed.status.conditions[-1].message == message
    assert failed.status.failed == 1


async def test_finalizers_of_a_deleted_jobs_pods_are_removed(h: Harness) -> None:
    h.add(job(spec={"parallelism": 2, "completions": 2}))
    await h.sync()
    del h.api.objects[("Job", "default", "work")]
    for pod in h.pods():
        await h.api.delete(core_pb2.Pod, pod.metadata.name, "default")
    deliver(h.api, h.controller.jobs, h.controller.pods)
    orphans = []
    while len(h.controller.queue):
        key = await h.controller.queue.get()
        h.controller.queue.done(key)
        if key.startswith("pod:"):
            orphans.append(key)
    assert len(orphans) == 2
    for key in orphans:
        await h.controller.sync(key)
    assert not h.pods()


async def test_ttl_after_finished_deletes_the_job_in_the_foreground(h: Harness) -> None:
    done = job("done", {"ttlSecondsAfterFinished": 10})
    done.status.conditions.add(type="Complete", status="True",
                               last_transition_time=now_rfc3339(T0))
    h.add(done)
    context = ControllerContext(h.api, InformerFactory(h.api), FAST, lambda: True, "test")
    ttl = TTLAfterFinishedController(context, clock=h.clock)
    deliver(h.api, ttl.jobs)
    h.clock.now = T0 + 10 * SCALE - 0.01
    await ttl.sync("default/done")
    assert ("Job", "default", "done") in h.api.objects
    h.clock.now = T0 + 10 * SCALE
    await ttl.sync("default/done")
    assert ("Job", "default", "done") not in h.api.objects
    assert ("delete", "Job", "done:Foreground") in h.api.log
    await ttl.stop()
