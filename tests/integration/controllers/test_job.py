"""The Job controller in a real cluster (control plane, scheduler, two kubelet processes) running
the books' Job manifests unchanged: Kubernetes: Up and Running ch. 12 (one-shot, failing,
parallel) and Kubernetes in Action 2nd ed. ch. 18 (generate-responses with both restart
policies, the Indexed aggregate job, the always-failing, deadline, suspend and TTL demos).

The slow ones (crash-looping to the backoff limit, the deadline) are started when the module's
cluster is, and checked by their tests later, so the module's time is about the slowest Job's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from kemu.api import codec
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import load_text
from kemu.v1 import batch_pb2
from launcher.cluster import LocalCluster
from tests.integration.controllers.batch_kit import (
    KIA,
    KUAR,
    ActivePods,
    apply,
    cluster_fixture_body,
    condition,
    connect,
    events_of,
    get_job,
    new_namespace,
    pods_of,
    start_cluster,
    wait_event,
    wait_finished,
    wait_gone,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

TRACKING = "batch.kubernetes.io/job-tracking"
BACKGROUND = {
    "oneshot-failure": KUAR / "12-2-job-oneshot-failure1.yaml",
    "always-fails": KIA / "job.demo-always-fails.yaml",
    "deadline": KIA / "job.demo-deadline.yaml",
    "ttl": KIA / "job.demo-ttl.yaml",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    yield from cluster_fixture_body(start_cluster(tmp_path_factory.mktemp("jobs")))


@pytest.fixture(scope="module")
def background(cluster: LocalCluster) -> dict[str, str]:
    """The slow Jobs, started at once; name -> namespace."""

    async def start() -> dict[str, str]:
        async with connect(cluster) as client:
            namespaces = {}
            for name, path in BACKGROUND.items():
                namespaces[name] = await new_namespace(client, name)
                await apply(client, path, namespaces[name])
            return namespaces

    return asyncio.run(start())


@pytest.fixture
async def api(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    async with connect(cluster) as client:
        yield client


async def test_kuar_oneshot_completes_and_leaves_its_pod(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "oneshot")
    await apply(api, KUAR / "12-1-job-oneshot.yaml", namespace)
    job = await wait_finished(api, namespace, "oneshot", "Complete")
    assert (job.status.succeeded, job.status.failed, job.status.active) == (1, 0, 0)
    assert condition(job, "SuccessCriteriaMet") is not None
    assert job.status.start_time and job.status.completion_time
    (pod,) = await pods_of(api, namespace, "oneshot")
    assert pod.status.phase == "Succeeded" and TRACKING not in pod.metadata.finalizers
    assert pod.metadata.owner_references[0].kind == "Job"
    assert pod.metadata.labels["batch.kubernetes.io/controller-uid"] == job.metadata.uid
    events = await events_of(api, namespace, "oneshot")
    assert ("Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}") in events
    await wait_event(api, namespace, "oneshot", "Completed", "Job completed")


async def test_kuar_parallel_job_never_runs_more_than_parallelism(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "parallel")
    async with ActivePods(api, namespace) as census:
        await apply(api, KUAR / "12-3-job-parallel.yaml", namespace)
        job = await wait_finished(api, namespace, "parallel", "Complete")
    assert census.most == 5
    assert job.status.succeeded == 10
    assert len(await pods_of(api, namespace, "parallel")) == 10 == len(census.seen)


async def test_kuar_failing_oneshot_stops_at_the_backoff_limit(
        api: GrpcClient, background: dict[str, str]) -> None:
    namespace = background["oneshot-failure"]
    job = await wait_finished(api, namespace, "oneshot", "Failed", timeout=90)
    failed = condition(job, "Failed")
    assert failed is not None and failed.reason == "BackoffLimitExceeded"
    assert failed.message == "Job has reached the specified backoff limit"
    assert condition(job, "FailureTarget") is not None
    # restartPolicy OnFailure: the container restarted in place; the running pod was deleted
    # when the Job failed and counted as its failure.
    assert job.status.failed == 1 and job.status.active == 0
    await wait_event(api, namespace, "oneshot", "BackoffLimitExceeded",
                     "Job has reached the specified backoff limit")


async def test_kia_always_failing_job(api: GrpcClient, background: dict[str, str]) -> None:
    namespace = background["always-fails"]
    job = await wait_finished(api, namespace, "demo-always-fails", "Failed", timeout=60)
    assert condition(job, "Failed").reason == "BackoffLimitExceeded"  # type: ignore[union-attr]
    assert (job.status.succeeded, job.status.failed, job.status.terminating) == (0, 3, 0)
    await eventually(lambda: _no_pods(api, namespace, "demo-always-fails"), timeout=30,
                     what="the failed Job's pods deleted")
    deleted = [e for e in await events_of(api, namespace, "demo-always-fails")
               if e[1] == "SuccessfulDelete"]
    assert len(deleted) == 3


async def _no_pods(api: GrpcClient, namespace: str, job: str) -> bool:
    return not await pods_of(api, namespace, job)


async def test_kia_deadline_job_fails_after_active_deadline(
        api: GrpcClient, background: dict[str, str]) -> None:
    namespace = background["deadline"]
    job = await wait_finished(api, namespace, "demo-deadline", "Failed", timeout=60)
    failed = condition(job, "Failed")
    assert failed is not None and failed.reason == "DeadlineExceeded"
    assert failed.message == "Job was active longer than specified deadline"
    # Two completions of sleep 60 one after another need 120 s; the deadline is 90 s (scaled):
    # the first pod succeeded, the second was stopped.
    assert (job.status.succeeded, job.status.failed) == (1, 1)
    await wait_event(api, namespace, "demo-deadline", "DeadlineExceeded",
                     "Job was active longer than specified deadline")


async def test_kia_ttl_job_is_deleted_with_its_pods(api: GrpcClient,
                                                    background: dict[str, str]) -> None:
    namespace = background["ttl"]
    await wait_gone(api, batch_pb2.Job, namespace, "demo-ttl", timeout=60)
    await eventually(lambda: _no_pods(api, namespace, "demo-ttl"), timeout=30,
                     what="the expired Job's pods deleted")


async def test_kia_generate_responses_with_both_restart_policies(api: GrpcClient) -> None:
    namespaces = []
    for path in (KIA / "job.generate-responses.yaml",
                 KIA / "job.generate-responses.restartPolicyNever.yaml"):
        namespace = await new_namespace(api, "responses")
        await apply(api, path, namespace)
        namespaces.append(namespace)
    for namespace in namespaces:
        job = await wait_finished(api, namespace, "generate-responses", "Complete")
        assert job.status.succeeded == 5
        assert job.metadata.labels["app"] == "quiz"
        pods = await pods_of(api, namespace, "generate-responses")
        assert len(pods) == 5 and all(p.metadata.labels["app"] == "quiz" for p in pods)


async def test_kia_indexed_job_completes_every_index(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "indexed")
    await apply(api, KIA / "job.aggregate-responses-2021-indexed.yaml", namespace)
    job = await wait_finished(api, namespace, "aggregate-responses-2021", "Complete")
    assert (job.status.completed_indexes, job.status.succeeded) == ("0-11", 12)
    pods = await pods_of(api, namespace, "aggregate-responses-2021")
    indexes = sorted(int(p.metadata.labels["batch.kubernetes.io/job-completion-index"])
                     for p in pods)
    assert indexes == list(range(12))
    for pod in pods:
        index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        assert pod.metadata.name.startswith(f"aggregate-responses-2021-{index}-")
        assert pod.spec.hostname == f"aggregate-responses-2021-{index}"
        env = {e.name: e.value_from.field_ref.field_path for e in pod.spec.containers[0].env}
        assert env["JOB_COMPLETION_INDEX"] == \
            "metadata.labels['batch.kubernetes.io/job-completion-index']"


async def test_kia_suspended_job_starts_when_resumed(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "suspend")
    await apply(api, KIA / "job.demo-suspend.yaml", namespace)

    async def suspended() -> batch_pb2.Job | None:
        job = await get_job(api, namespace, "demo-suspend")
        found = condition(job, "Suspended")
        return job if found is not None and found.reason == "JobSuspended" else None

    job = await eventually(suspended, timeout=30, what="Suspended condition")
    assert not job.status.start_time and not await pods_of(api, namespace, "demo-suspend")
    await api.patch(batch_pb2.Job, "demo-suspend", namespace, {"spec": {"suspend": False}})
    job = await wait_finished(api, namespace, "demo-suspend", "Complete")
    resumed = next(c for c in job.status.conditions if c.type == "Suspended")
    assert (resumed.status, resumed.reason, resumed.message) == \
        ("False", "JobResumed", "Job resumed")
    assert job.status.succeeded == 1 and job.status.start_time
    events = {r for _, r, _ in await events_of(api, namespace, "demo-suspend")}
    assert {"Suspended", "Resumed", "Completed"} <= events


JOB_NEVER = """
apiVersion: batch/v1
kind: Job
metadata:
  name: flaky
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "sleep 1; exit 1"]
"""


async def test_failed_pods_are_kept_and_recreated_after_a_backoff(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "flaky")
    (manifest,) = load_text(JOB_NEVER)
    manifest.obj.metadata.namespace = namespace
    await api.create(manifest.obj)
    job = await wait_finished(api, namespace, "flaky", "Failed")
    assert (job.status.failed, condition(job, "Failed").reason) == \
        (3, "BackoffLimitExceeded")  # type: ignore[union-attr]
    pods = sorted(await pods_of(api, namespace, "flaky"),
                  key=lambda p: p.metadata.creation_timestamp)
    assert [p.status.phase for p in pods] == ["Failed"] * 3
    assert all(TRACKING not in p.metadata.finalizers for p in pods)


async def test_deleting_a_running_job_removes_its_pods(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "delete")
    job = codec.decode(batch_pb2.Job, {
        "metadata": {"name": "forever", "namespace": namespace},
        "spec": {"parallelism": 2, "completions": 4, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1d"]}]}}}})
    await api.create(job)

    async def running() -> bool:
        pods = await pods_of(api, namespace, "forever")
        return len(pods) == 2 and all(p.status.phase == "Running" for p in pods)

    await eventually(running, timeout=30, what="two running pods")
    await api.delete(batch_pb2.Job, "forever", namespace, propagation_policy="Background")
    # The garbage collector deletes the pods; the Job controller takes its finalizer off them.
    await eventually(lambda: _no_pods(api, namespace, "forever"), timeout=30,
                     what="pods of the deleted Job gone")


async def test_pod_failure_policy_fails_the_job_on_an_exit_code(api: GrpcClient) -> None:
    namespace = await new_namespace(api, "policy")
    job = codec.decode(batch_pb2.Job, {
        "metadata": {"name": "policy", "namespace": namespace},
        "spec": {"completions": 3, "parallelism": 1, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                                  "values": [42]}}]},
                 "template": {"metadata": {"annotations": {"kemu.io/exit-code": "42"}},
                              "spec": {"restartPolicy": "Never", "containers": [
                                  {"name": "main", "image": "busybox",
                                   "command": ["sh", "-c", "exit 7"]}]}}}})
    await api.create(job)
    done = await wait_finished(api, namespace, "policy", "Failed")
    failed = condition(done, "Failed")
    assert failed is not None and failed.reason == "PodFailurePolicy"
    (pod,) = await pods_of(api, namespace, "policy")
    assert failed.message == (f"Container main for pod {namespace}/{pod.metadata.name} failed "
                              "with exit code 42 matching FailJob rule at index 0")
    assert pod.status.phase == "Failed"

