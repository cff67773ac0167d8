"""The CronJob controller in a real cluster, with Kubernetes in Action 2nd ed. ch. 18's CronJobs
unchanged: every-minute schedules under each concurrency policy, and the history limits.

A minute is too long to wait for, so the control plane runs with ``KEMU_CRONJOB_CLOCK_RATE=60``
(docs/batch.md): the CronJob controller's clock runs sixty times faster than the wall clock,
one schedule minute per real second; the Jobs and pods it starts run at the fast profile's
speed (``sleep 200`` lasts 10 s). All CronJobs start with the module's cluster and run side by
side, each in its own namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from click.testing import CliRunner, Result

from controlplane.controllers.cronjob.jobs import SCHEDULED_TIMESTAMP
from kemu.api.meta import parse_time
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import batch_pb2
from kemuctl.main import main
from launcher.cluster import LocalCluster
from tests.integration.controllers.batch_kit import (
    KIA,
    apply,
    cluster_fixture_body,
    connect,
    events_of,
    new_namespace,
    start_cluster,
    wait_event,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

RATE = 60
CRON_JOBS = {
    "concurrency-demo-allow": KIA / "cj.concurrency-allow.yaml",
    "concurrency-demo-forbid": KIA / "cj.concurrency-forbid.yaml",
    "concurrency-demo-replace": KIA / "cj.concurrency-replace.yaml",
    "no-labels": KIA / "cj.no-labels.yaml",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    started = start_cluster(tmp_path_factory.mktemp("cronjobs"),
                            extra_env={"KEMU_CRONJOB_CLOCK_RATE": str(RATE)})
    yield from cluster_fixture_body(started)


@pytest.fixture(scope="module")
def namespaces(cluster: LocalCluster) -> dict[str, str]:
    """Every CronJob created at once; name -> namespace."""

    async def start() -> dict[str, str]:
        async with connect(cluster) as client:
            found = {}
            for name, path in CRON_JOBS.items():
                found[name] = await new_namespace(client, name.split("-")[-1])
                await apply(client, path, found[name])
            return found

    return asyncio.run(start())


@pytest.fixture
async def api(cluster: LocalCluster) -> AsyncIterator[GrpcClient]:
    async with connect(cluster) as client:
        yield client


async def cron_job(api: GrpcClient, namespace: str, name: str) -> batch_pb2.CronJob:
    return await api.get(batch_pb2.CronJob, name, namespace)


async def jobs(api: GrpcClient, namespace: str) -> list[batch_pb2.Job]:
    return (await api.list(batch_pb2.Job, namespace)).items


def finished(job: batch_pb2.Job) -> str:
    return next((c.type for c in job.status.conditions
                 if c.type in ("Complete", "Failed") and c.status == "True"), "")


async def test_allow_runs_jobs_side_by_side_named_by_their_minute(
        api: GrpcClient, namespaces: dict[str, str]) -> None:
    name = "concurrency-demo-allow"
    namespace = namespaces[name]

    async def three_active() -> batch_pb2.CronJob | None:
        found = await cron_job(api, namespace, name)
        return found if len(found.status.active) >= 3 else None

    found = await eventually(three_active, timeout=30, what="three Jobs active at once")
    for job in await jobs(api, namespace):
        scheduled = parse_time(job.metadata.annotations[SCHEDULED_TIMESTAMP])
        assert scheduled % 60 == 0
        assert job.metadata.name == f"{name}-{int(scheduled // 60)}"
        assert job.metadata.labels["app"] == name
        assert job.metadata.owner_references[0].uid == found.metadata.uid
    assert found.status.last_schedule_time
    created = [m for _, r, m in await events_of(api, namespace, name) if r == "SuccessfulCreate"]
    assert len(created) >= 3 and all(m.startswith(f"Created job {name}-") for m in created)


async def test_forbid_waits_for_the_running_job(api: GrpcClient,
                                                namespaces: dict[str, str]) -> None:
    name = "concurrency-demo-forbid"
    namespace = namespaces[name]
    await wait_event(api, namespace, name, "JobAlreadyActive",
                     "Not starting job because prior execution is running and concurrency "
                     "policy is Forbid")
    most_active = 0

    async def second_run() -> bool:
        nonlocal most_active
        running = [j for j in await jobs(api, namespace) if not finished(j)]
        most_active = max(most_active, len(running))
        found = await cron_job(api, namespace, name)
        assert len(found.status.active) <= 1, found.status
        return len(await jobs(api, namespace)) >= 2

    await eventually(second_run, timeout=40, what="a second run after the first finished")
    assert most_active <= 1
    await wait_event(api, namespace, name, "SawCompletedJob")
    assert (await cron_job(api, namespace, name)).status.last_successful_time


async def test_replace_deletes_the_running_job(api: GrpcClient,
                                               namespaces: dict[str, str]) -> None:
    name = "concurrency-demo-replace"
    namespace = namespaces[name]

    async def replaced_twice() -> list[str]:
        deleted = [m for _, r, m in await events_of(api, namespace, name)
                   if r == "SuccessfulDelete"]
        return deleted if len(deleted) >= 2 else []

    deleted = await eventually(replaced_twice, timeout=30, what="two replaced Jobs")
    found = await cron_job(api, namespace, name)
    assert len(found.status.active) == 1
    # Background deletion: the replaced Jobs are gone, their pods follow through the GC.
    names = {j.metadata.name for j in await jobs(api, namespace)}
    assert not names & {message.removeprefix("Deleted job ") for message in deleted}


async def test_history_limits_keep_three_successful_jobs(api: GrpcClient,
                                                         namespaces: dict[str, str]) -> None:
    name = "no-labels"
    namespace = namespaces[name]

    async def trimmed() -> bool:
        events = await events_of(api, namespace, name)
        return sum(1 for _, r, _ in events if r == "SuccessfulDelete") >= 2

    await eventually(trimmed, timeout=40, what="old successful Jobs deleted")

    async def at_most_three_kept() -> bool:
        complete = [j for j in await jobs(api, namespace) if finished(j) == "Complete"]
        assert len(complete) <= 3, [j.metadata.name for j in complete]
        return True

    await eventually(at_most_three_kept, timeout=10, what="three successful Jobs kept")
    found = await cron_job(api, namespace, name)
    assert found.status.last_successful_time and found.status.last_schedule_time
    await wait_event(api, namespace, name, "SawCompletedJob")


def test_kemuctl_creates_a_job_from_a_cron_job(cluster: LocalCluster) -> None:
    # A CronJob of its own, suspended at once: one that has run every minute for a while has
    # spent its 25 events on SuccessfulCreate, SawCompletedJob and SuccessfulDelete, and the
    # spam filter (docs/workloads.md, "Events") would hold UnexpectedJob back, as Kubernetes' would.
    async def paused_cron_job() -> str:
        async with connect(cluster) as api:
            namespace = await new_namespace(api, "by-hand")
            await apply(api, KIA / "cj.no-labels.yaml", namespace)
            await api.patch(batch_pb2.CronJob, "no-labels", namespace, {"spec": {"suspend": True}})
            return namespace

    namespace = asyncio.run(paused_cron_job())
    runner = CliRunner()

    def kemuctl(*args: str) -> Result:
        return runner.invoke(main, [*args, "-n", namespace],
                             env={"KEMU_SERVER": cluster.address}, catch_exceptions=False)

    created = kemuctl("create", "job", "by-hand", "--from=cronjob/no-labels")
    assert (created.exit_code, created.stdout) == (0, "job.batch/by-hand created\n")

    async def check() -> None:
        async with connect(cluster) as api:
            job = await api.get(batch_pb2.Job, "by-hand", namespace)
            assert job.metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"
            owner = job.metadata.owner_references[0]
            assert (owner.kind, owner.name, owner.controller) == ("CronJob", "no-labels", True)
            await wait_event(api, namespace, "no-labels", "UnexpectedJob",
                             "Saw a job that the controller did not create or forgot: by-hand")

    asyncio.run(check())
    listed = kemuctl("get", "cronjobs")
    assert listed.exit_code == 0
    assert listed.stdout.split("\n")[1].split()[:4] == ["no-labels", "*", "*", "*"]
    missing = kemuctl("create", "job", "x", "--from=deployment/web")
    assert missing.exit_code == 1
