"""The Deployment controller against a real control plane, with the ReplicaSet controller.

No kubelet runs: ``FakeKubelet`` binds new pods and reports them running and ready, and
removes pods being deleted, for one namespace.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from controlplane.controllers.hashing import template_hash
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2
from launcher.cluster import LocalCluster
from tests.integration.controllers.workloads_kit import (
    FakeKubelet,
    PodCensus,
    apply_spec,
    condition_of,
    events_for,
    from_yaml,
    grpc_client,
    load_manifest,
    new_namespace,
    pods,
    replica_sets,
    wait_rollout_complete,
    workloads_plane_fixture,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

plane = workloads_plane_fixture()
KIAMOL = Path("/work/shared/manifests/kiamol/ch06")
KIA2 = Path("/work/shared/manifests/kia2/Chapter15")

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: web, image: "web:1"}]
"""


def image_patch(image: str) -> dict[str, object]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


async def set_image(client: GrpcClient, ns: str, image: str, name: str = "web") -> None:
    await client.patch(apps_pb2.Deployment, name, ns, image_patch(image))


async def current_replica_set(client: GrpcClient, ns: str, name: str = "web") -> apps_pb2.ReplicaSet:
    d = await client.get(apps_pb2.Deployment, name, ns)
    revision = d.metadata.annotations["deployment.kubernetes.io/revision"]
    (rs,) = [rs for rs in (await replica_sets(client, ns)).values()
             if rs.metadata.annotations.get("deployment.kubernetes.io/revision") == revision]
    return rs


async def test_rolling_update_stays_within_max_surge_and_max_unavailable(
        plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        async with FakeKubelet(client, ns, delay=0.1):
            created = await client.create(from_yaml(WEB, ns))
            await wait_rollout_complete(client, ns, "web")
            first = await current_replica_set(client, ns)
            pod_hash = first.spec.template.metadata.labels["pod-template-hash"]
            assert first.metadata.name == f"web-{pod_hash}"
            assert first.spec.selector.match_labels["pod-template-hash"] == pod_hash
            assert first.metadata.owner_references[0].uid == created.metadata.uid
            for pod in await pods(client, ns):
                assert pod.metadata.labels["pod-template-hash"] == pod_hash
                assert re.fullmatch(rf"web-{pod_hash}-[a-z0-9]{{5}}", pod.metadata.name)

            async with PodCensus(client, ns) as census:
                patch = image_patch("web:2")
                patch["metadata"] = {"annotations": {
                    "kubernetes.io/change-cause": "kubectl set image deployment/web web=web:2"}}
                await client.patch(apps_pb2.Deployment, "web", ns, patch)
                done = await wait_rollout_complete(client, ns, "web")
        second = await current_replica_set(client, ns)
        assert second.metadata.name != first.metadata.name
        assert done.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
        assert second.metadata.annotations["kubernetes.io/change-cause"] == \
            "kubectl set image deployment/web web=web:2"
        # 4 replicas, maxSurge 1, maxUnavailable 1: never more than 5 pods, never fewer
        # than 3 ready, at every step observed.
        assert max(s.active for s in census.samples) <= 5, census.samples
        assert min(s.ready for s in census.samples) >= 3, census.samples
        assert any(len(s.hashes) == 2 for s in census.samples), "old and new never overlapped"
        progressing = condition_of(done, "Progressing")
        assert progressing is not None
        assert progressing.message == f'ReplicaSet "{second.metadata.name}" has successfully progressed.'
        available = condition_of(done, "Available")
        assert available is not None and (available.status, available.reason, available.message) \
            == ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        assert (done.status.ready_replicas, done.status.unavailable_replicas) == (4, 0)

        async def scaling_events() -> list[str]:
            messages = [e.message for e in await events_for(client, ns, "web")
                        if e.reason == "ScalingReplicaSet"]
            assert f"Scaled down replica set {first.metadata.name} from 1 to 0" in messages
            return messages
        messages = await eventually(scaling_events, what="ScalingReplicaSet events")
        assert f"Scaled up replica set {first.metadata.name} from 0 to 4" in messages
        assert f"Scaled up replica set {second.metadata.name} from 0 to 1" in messages
        assert any(m.startswith(f"Scaled down replica set {first.metadata.name} from 4 to ")
                   for m in messages)


@pytest.mark.parametrize(("surge", "unavailable", "most", "fewest_ready"), [
    ("'25%'", "'25%'", 13, 8),   # 10 replicas: surge rounds up to 3, unavailable down to 2
    ("0", "'10%'", 10, 9),       # no surge, 1 unavailable
])
async def test_rolling_update_bounds_with_percentages(plane: LocalCluster, surge: str,
                                                      unavailable: str, most: int,
                                                      fewest_ready: int) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        manifest = WEB.replace("replicas: 4", "replicas: 10").replace(
            "maxSurge: 1, maxUnavailable: 1", f"maxSurge: {surge}, maxUnavailable: {unavailable}")
        async with FakeKubelet(client, ns, delay=0.05):
            await client.create(from_yaml(manifest, ns))
            await wait_rollout_complete(client, ns, "web")
            async with PodCensus(client, ns) as census:
                await set_image(client, ns, "web:2")
                await wait_rollout_complete(client, ns, "web")
        assert max(s.active for s in census.samples) <= most, census.samples
        assert min(s.ready for s in census.samples) >= fewest_ready, census.samples
        assert any(len(s.hashes) == 2 for s in census.samples)


@pytest.mark.skipif(not KIA2.exists(), reason="Kubernetes in Action manifests not present")
async def test_kiada_rolls_one_pod_at_a_time_with_max_surge_zero(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        async with FakeKubelet(client, ns, delay=0.05):
            (initial,) = load_manifest(KIA2 / "deploy.kiada.yaml", ns)
            await apply_spec(client, initial)
            await wait_rollout_complete(client, ns, "kiada")
            async with PodCensus(client, ns) as census:
                (update,) = load_manifest(KIA2 / "deploy.kiada.0.7.rollingUpdate.yaml", ns)
                await apply_spec(client, update)
                await wait_rollout_complete(client, ns, "kiada")
        # maxSurge 0, maxUnavailable 1: three pods at most, two ready at least.
        assert max(s.active for s in census.samples) <= 3, census.samples
        assert min(s.ready for s in census.samples) >= 2, census.samples
        new = await current_replica_set(client, ns, "kiada")
        assert new.spec.min_ready_seconds == 10
        assert new.spec.template.metadata.labels["ver"] == "0.7"


RECREATE = WEB.replace(
    "strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}",
    "strategy: {type: Recreate}").replace(
    "terminationGracePeriodSeconds: 0", "terminationGracePeriodSeconds: 30")


RECREATE_CASES = [
    pytest.param("inline", id="inline"),
    pytest.param("kiada", id="kiada-0.5-to-0.6", marks=pytest.mark.skipif(
        not KIA2.exists(), reason="Kubernetes in Action manifests not present")),
]


def recreate_manifests(case: str, ns: str) -> tuple[str, Any, Any]:
    if case == "inline":
        return "web", from_yaml(RECREATE, ns), from_yaml(RECREATE.replace("web:1", "web:2"), ns)
    (initial,) = load_manifest(KIA2 / "deploy.kiada.recreate.yaml", ns)
    (update,) = load_manifest(KIA2 / "deploy.kiada.0.6.recreate.yaml", ns)
    return "kiada", initial, update


@pytest.mark.parametrize("case", RECREATE_CASES)
async def test_recreate_removes_every_old_pod_before_creating_new_ones(
        plane: LocalCluster, case: str) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        name, initial, update = recreate_manifests(case, ns)
        async with FakeKubelet(client, ns, delay=0.05) as kubelet:
            await apply_spec(client, initial)
            await wait_rollout_complete(client, ns, name)
            old = await current_replica_set(client, ns, name)
            old_hash = old.spec.template.metadata.labels["pod-template-hash"]
            # The pods run on nodes, so they terminate gracefully: let them linger a while.
            kubelet.finalize_delay = 0.5
            async with PodCensus(client, ns) as census:
                await apply_spec(client, update)
                await wait_rollout_complete(client, ns, name)
        old_gone = max(i for i, (kind, h, _) in enumerate(census.log)
                       if kind == "DELETED" and h == old_hash)
        first_new = min(i for i, (kind, h, _) in enumerate(census.log)
                        if kind == "ADDED" and h != old_hash)
        assert any(terminating for _, h, terminating in census.log if h == old_hash)
        assert old_gone < first_new, census.log
        rss = await replica_sets(client, ns)
        assert rss[old.metadata.name].spec.replicas == 0


async def test_a_reverted_template_reuses_its_replica_set(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        async with FakeKubelet(client, ns, delay=0.05):
            await client.create(from_yaml(WEB.replace("replicas: 4", "replicas: 2"), ns))
            await wait_rollout_complete(client, ns, "web")
            first = await current_replica_set(client, ns)
            await set_image(client, ns, "web:2")
            await wait_rollout_complete(client, ns, "web")
            second = await current_replica_set(client, ns)
            await set_image(client, ns, "web:1")
            reverted = await wait_rollout_complete(client, ns, "web")
        rss = await replica_sets(client, ns)
        assert set(rss) == {first.metadata.name, second.metadata.name}
        reused = rss[first.metadata.name]
        assert (reused.spec.replicas, rss[second.metadata.name].spec.replicas) == (2, 0)
        assert reused.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        assert reused.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
        assert reverted.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        assert reverted.status.updated_replicas == 2


@pytest.mark.skipif(not KIAMOL.exists(), reason="kiamol manifests not present")
async def test_pi_web_scales_updates_and_reverts_to_its_first_replica_set(
        plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        async with FakeKubelet(client, ns, delay=0.05):
            (web,) = load_manifest(KIAMOL / "pi" / "web" / "web.yaml", ns)
            await apply_spec(client, web)
            await wait_rollout_complete(client, ns, "pi-web")
            original = await current_replica_set(client, ns, "pi-web")

            # More replicas only: the same ReplicaSet grows, no new revision.
            (three,) = load_manifest(KIAMOL / "pi" / "web" / "update" / "web-replicas-3.yaml", ns)
            await apply_spec(client, three)
            scaled = await wait_rollout_complete(client, ns, "pi-web")
            assert list(await replica_sets(client, ns)) == [original.metadata.name]
            assert scaled.metadata.annotations["deployment.kubernetes.io/revision"] == "1"

            # A new template: a second ReplicaSet, revision 2.
            (logging_level,) = load_manifest(
                KIAMOL / "pi" / "web" / "update" / "web-logging-level.yaml", ns)
            await apply_spec(client, logging_level)
            await wait_rollout_complete(client, ns, "pi-web")
            debug = await current_replica_set(client, ns, "pi-web")
            assert debug.metadata.name != original.metadata.name

            # Back to the first template: the first ReplicaSet is scaled up again.
            await apply_spec(client, web)
            reverted = await wait_rollout_complete(client, ns, "pi-web")
        rss = await replica_sets(client, ns)
        assert set(rss) == {original.metadata.name, debug.metadata.name}
        reused = rss[original.metadata.name]
        assert reused.spec.replicas == 2 and rss[debug.metadata.name].spec.replicas == 0
        assert reused.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
        assert reused.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
        assert reverted.metadata.annotations["deployment.kubernetes.io/revision"] == "3"


async def test_revision_history_limit_deletes_the_oldest_scaled_down_sets(
        plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        limited = WEB.replace("replicas: 4", "replicas: 1\n  revisionHistoryLimit: 1")
        async with FakeKubelet(client, ns, delay=0.05):
            await client.create(from_yaml(limited, ns))
            await wait_rollout_complete(client, ns, "web")
            for image in ("web:2", "web:3", "web:4"):
                await set_image(client, ns, image)
                await wait_rollout_complete(client, ns, "web")
            newest = await current_replica_set(client, ns)

            async def two_left() -> dict[str, apps_pb2.ReplicaSet]:
                rss = await replica_sets(client, ns)
                assert len(rss) == 2, list(rss)
                return rss
            rss = await eventually(two_left, what="one old ReplicaSet kept")
        revisions = sorted(rs.metadata.annotations["deployment.kubernetes.io/revision"]
                           for rs in rss.values())
        assert revisions == ["3", "4"]
        assert newest.metadata.name in rss


async def test_pause_holds_the_rollout_but_not_scaling(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        async with FakeKubelet(client, ns, delay=0.05):
            await client.create(from_yaml(WEB.replace("replicas: 4", "replicas: 2"), ns))
            await wait_rollout_complete(client, ns, "web")
            first = await current_replica_set(client, ns)

            await client.patch(apps_pb2.Deployment, "web", ns, {"spec": {"paused": True}})
            await set_image(client, ns, "web:2")
            await client.patch(apps_pb2.Deployment, "web", ns, {"spec": {"replicas": 3}})

            async def paused_and_scaled() -> apps_pb2.Deployment:
                d = await client.get(apps_pb2.Deployment, "web", ns)
                assert d.status.observed_generation == d.metadata.generation
                progressing = condition_of(d, "Progressing")
                assert progressing is not None
                assert (progressing.status, progressing.reason, progressing.message) == \
                    ("Unknown", "DeploymentPaused", "Deployment is paused")
                assert d.status.replicas == 3 and d.status.updated_replicas == 0, d.status
                return d
            await eventually(paused_and_scaled, what="paused Deployment scaled to 3")
            assert list(await replica_sets(client, ns)) == [first.metadata.name]
            assert len(await pods(client, ns)) == 3

            reasons: list[str] = []

            async def watch_progress() -> None:
                async for event in client.watch(apps_pb2.Deployment, ns):
                    if event.object is not None:
                        progressing = condition_of(event.object, "Progressing")
                        if progressing is not None:
                            reasons.append(progressing.reason)

            watcher = asyncio.create_task(watch_progress())
            try:
                await client.patch(apps_pb2.Deployment, "web", ns, {"spec": {"paused": False}})
                done = await wait_rollout_complete(client, ns, "web")
            finally:
                watcher.cancel()
        assert "DeploymentResumed" in reasons, reasons
        assert done.status.replicas == 3
        new = await current_replica_set(client, ns)
        assert new.metadata.name != first.metadata.name
        assert new.spec.template.spec.containers[0].image == "web:2"


async def test_progress_deadline_exceeded(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        # No kubelet: the pods never become ready. 40 s is 2 s on the fast profile.
        stuck = WEB.replace("replicas: 4", "replicas: 2\n  progressDeadlineSeconds: 40")
        await client.create(from_yaml(stuck, ns))

        async def timed_out() -> apps_pb2.Deployment:
            d = await client.get(apps_pb2.Deployment, "web", ns)
            progressing = condition_of(d, "Progressing")
            assert progressing is not None and progressing.status == "False", d.status
            return d
        d = await eventually(timed_out, what="ProgressDeadlineExceeded")
        rs = await current_replica_set(client, ns)
        progressing = condition_of(d, "Progressing")
        assert progressing is not None
        assert progressing.reason == "ProgressDeadlineExceeded"
        assert progressing.message == f'ReplicaSet "{rs.metadata.name}" has timed out progressing.'
        available = condition_of(d, "Available")
        assert available is not None and (available.status, available.reason) == \
            ("False", "MinimumReplicasUnavailable")
        assert (d.status.replicas, d.status.available_replicas,
                d.status.unavailable_replicas) == (2, 0, 2)


async def test_scaling_during_a_stuck_rollout_is_proportional(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        ten = WEB.replace("replicas: 4", "replicas: 10").replace(
            "maxSurge: 1, maxUnavailable: 1", "maxSurge: 3, maxUnavailable: 2")
        # Only the first image ever becomes ready: the rollout to web:2 gets stuck.
        async with FakeKubelet(client, ns, delay=0.05,
                               ready=lambda pod: pod.spec.containers[0].image == "web:1"):
            await client.create(from_yaml(ten, ns))
            await wait_rollout_complete(client, ns, "web")
            old = await current_replica_set(client, ns)
            await set_image(client, ns, "web:2")

            async def sizes(expected: dict[str, int]) -> bool:
                rss = await replica_sets(client, ns)
                assert {n: rs.spec.replicas for n, rs in rss.items()} == expected, rss
                return True

            new_name = ""

            async def stuck() -> bool:
                nonlocal new_name
                rss = await replica_sets(client, ns)
                assert len(rss) == 2
                (new_name,) = [n for n in rss if n != old.metadata.name]
                return await sizes({old.metadata.name: 8, new_name: 5})
            await eventually(stuck, what="rollout stuck at 8 old and 5 new")

            await client.patch(apps_pb2.Deployment, "web", ns, {"spec": {"replicas": 15}})
            await eventually(lambda: sizes({old.metadata.name: 11, new_name: 7}),
                             what="11 old and 7 new after scaling to 15")
        rss = await replica_sets(client, ns)
        for rs in rss.values():
            assert rs.metadata.annotations["deployment.kubernetes.io/desired-replicas"] == "15"
            assert rs.metadata.annotations["deployment.kubernetes.io/max-replicas"] == "18"


async def test_hash_collision_bumps_the_collision_count(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        paused = WEB.replace("replicas: 4", "replicas: 1\n  paused: true")
        created = await client.create(from_yaml(paused, ns))
        taken = f"web-{template_hash(created.spec.template)}"
        squatter = from_yaml(f"""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {taken}, labels: {{app: squatter}}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: squatter}}}}
  template:
    metadata: {{labels: {{app: squatter}}}}
    spec:
      containers: [{{name: other, image: other}}]
""", ns)
        await client.create(squatter)
        await client.patch(apps_pb2.Deployment, "web", ns, {"spec": {"paused": False}})

        async def resolved() -> apps_pb2.Deployment:
            d = await client.get(apps_pb2.Deployment, "web", ns)
            assert d.status.HasField("collision_count") and d.status.collision_count == 1
            assert d.status.updated_replicas == 1, d.status
            return d
        await eventually(resolved, what="collisionCount 1 and a new ReplicaSet")
        rs = await current_replica_set(client, ns)
        assert rs.metadata.name == f"web-{template_hash(created.spec.template, 1)}" != taken
        squatter_now = (await replica_sets(client, ns))[taken]
        assert list(squatter_now.metadata.owner_references) == []


async def test_adopts_a_matching_replica_set_and_releases_a_relabelled_one(
        plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        deployment = from_yaml(WEB.replace("replicas: 4", "replicas: 2"), ns)
        manual = apps_pb2.ReplicaSet()
        manual.metadata.name = "web-manual"
        manual.metadata.namespace = ns
        manual.metadata.labels["app"] = "web"
        manual.spec.replicas = 2
        manual.spec.selector.CopyFrom(deployment.spec.selector)
        manual.spec.template.CopyFrom(deployment.spec.template)
        await client.create(manual)
        created = await client.create(deployment)

        async def adopted() -> apps_pb2.ReplicaSet:
            rss = await replica_sets(client, ns)
            assert list(rss) == ["web-manual"], list(rss)
            rs = rss["web-manual"]
            assert [r.uid for r in rs.metadata.owner_references] == [created.metadata.uid]
            assert rs.metadata.annotations.get("deployment.kubernetes.io/revision") == "1"
            return rs
        await eventually(adopted, what="web-manual adopted as the current ReplicaSet")

        await client.patch(apps_pb2.ReplicaSet, "web-manual", ns,
                           {"metadata": {"labels": {"app": "manual"}}})

        async def released_and_replaced() -> apps_pb2.ReplicaSet:
            rss = await replica_sets(client, ns)
            assert list(rss["web-manual"].metadata.owner_references) == []
            assert len(rss) == 2, list(rss)
            (new,) = [rs for n, rs in rss.items() if n != "web-manual"]
            assert [r.uid for r in new.metadata.owner_references] == [created.metadata.uid]
            assert new.spec.replicas == 2
            return new
        new = await eventually(released_and_replaced, what="a new ReplicaSet after the release")
        assert new.metadata.name.startswith("web-")
