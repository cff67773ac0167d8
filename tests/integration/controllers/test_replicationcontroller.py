"""The ReplicationController controller: the ReplicaSet machinery behind a map selector."""

from __future__ import annotations

import re

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster
from tests.integration.controllers.workloads_kit import (
    events_for,
    from_yaml,
    grpc_client,
    new_namespace,
    pods,
    run_pod,
    workloads_plane_fixture,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

plane = workloads_plane_fixture()

KUBIA = """
apiVersion: v1
kind: ReplicationController
metadata: {name: kubia}
spec:
  replicas: 3
  selector: {app: kubia}
  template:
    metadata: {labels: {app: kubia}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: kubia, image: luksa/kubia}]
"""


async def wait_pods(client: GrpcClient, namespace: str, count: int,
                    selector: str = "") -> list[core_pb2.Pod]:
    async def check() -> list[core_pb2.Pod]:
        found = await pods(client, namespace, selector)
        assert len(found) == count, [p.metadata.name for p in found]
        return found
    result: list[core_pb2.Pod] = await eventually(check, what=f"{count} pods")
    return result


async def test_keeps_replicas_of_a_map_selector(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        rc = await client.create(from_yaml(KUBIA, ns))
        three = await wait_pods(client, ns, 3)
        for pod in three:
            assert re.fullmatch(r"kubia-[a-z0-9]{5}", pod.metadata.name)
            (ref,) = pod.metadata.owner_references
            assert (ref.kind, ref.api_version, ref.uid, ref.controller) == \
                ("ReplicationController", "v1", rc.metadata.uid, True)
            await run_pod(client, pod)

        async def status_ready() -> core_pb2.ReplicationController:
            current = await client.get(core_pb2.ReplicationController, "kubia", ns)
            assert (current.status.replicas, current.status.ready_replicas,
                    current.status.available_replicas,
                    current.status.fully_labeled_replicas) == (3, 3, 3, 3), current.status
            assert current.status.observed_generation == current.metadata.generation
            return current
        await eventually(status_ready, what="3 ready replicas")

        # Kubernetes in Action: delete a pod and the controller brings up a new one.
        await client.delete(core_pb2.Pod, three[0].metadata.name, ns)
        after = await wait_pods(client, ns, 3)
        assert three[0].metadata.name not in {p.metadata.name for p in after}

        # Relabel a pod out of the selector: released, replaced.
        moved = three[1].metadata.name
        await client.patch(core_pb2.Pod, moved, ns, {"metadata": {"labels": {"app": "foo"}}})
        await wait_pods(client, ns, 3, "app=kubia")

        async def released() -> bool:
            pod = await client.get(core_pb2.Pod, moved, ns)
            assert list(pod.metadata.owner_references) == []
            return True
        await eventually(released, what="the relabelled pod released")

        # Scale down with a patch, as kubectl scale does.
        await client.patch(core_pb2.ReplicationController, "kubia", ns,
                           {"spec": {"replicas": 1}})
        await wait_pods(client, ns, 1, "app=kubia")

        async def events_recorded() -> bool:
            events = await events_for(client, ns, "kubia")
            reasons = {e.reason for e in events}
            assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons, reasons
            assert all(e.source.component == "replication-controller" for e in events)
            return True
        await eventually(events_recorded, what="create and delete events")


async def test_an_empty_selector_means_the_template_labels(plane: LocalCluster) -> None:
    async with grpc_client(plane) as client:
        ns = await new_namespace(client)
        rc = await client.create(from_yaml(KUBIA.replace("  selector: {app: kubia}\n", ""), ns))
        await wait_pods(client, ns, 3, "app=kubia")
        stray = core_pb2.Pod()
        stray.metadata.name = "stray"
        stray.metadata.namespace = ns
        stray.metadata.labels["app"] = "kubia"
        stray.spec.containers.add(name="kubia", image="luksa/kubia")
        await client.create(stray)

        # The stray pod is adopted (the selector is the template's labels), which makes one
        # too many: three remain, every one controlled by the ReplicationController.
        async def three_owned() -> bool:
            found = await pods(client, ns, "app=kubia")
            assert len(found) == 3, [p.metadata.name for p in found]
            for pod in found:
                assert [r.uid for r in pod.metadata.owner_references] == [rc.metadata.uid]
            return True
        await eventually(three_owned, what="three owned pods")
