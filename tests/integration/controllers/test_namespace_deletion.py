"""Deleting a namespace: it turns Terminating, its content is deleted (pods gracefully, the
test playing the kubelet), and then the namespace itself goes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from launcher.cluster import LocalCluster
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def test_namespace_deletion_empties_then_removes_it(
        make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="namespace,garbagecollector")
    cluster.start_control_plane()
    async with GrpcClient(cluster.address) as client:
        namespace = core_pb2.Namespace()
        namespace.metadata.name = "team"
        created = await client.create(namespace)
        assert list(created.spec.finalizers) == ["kubernetes"]
        assert created.status.phase == "Active"
        for name in ("a", "b"):
            cm = core_pb2.ConfigMap()
            cm.metadata.name, cm.metadata.namespace = name, "team"
            await client.create(cm)
        rs = apps_pb2.ReplicaSet()
        rs.metadata.name, rs.metadata.namespace = "web", "team"
        rs.spec.selector.match_labels["app"] = "web"
        rs.spec.template.metadata.labels["app"] = "web"
        rs.spec.template.spec.containers.add(name="c", image="nginx")
        await client.create(rs)
        pod = core_pb2.Pod()
        pod.metadata.name, pod.metadata.namespace = "web-1", "team"
        pod.spec.containers.add(name="c", image="nginx")
        pod.spec.node_name = "node-1"
        await client.create(pod)
        other = core_pb2.ConfigMap()
        other.metadata.name = "elsewhere"
        await client.create(other)

        # Only the namespace controller's finalize (the status write) removes the finalizer.
        edited = await client.get(core_pb2.Namespace, "team")
        edited.spec.ClearField("finalizers")
        edited.metadata.labels["team"] = "yes"
        assert list((await client.update(edited)).spec.finalizers) == ["kubernetes"]

        await client.delete(core_pb2.Namespace, "team")
        terminating = await client.get(core_pb2.Namespace, "team")
        assert terminating.status.phase == "Terminating"
        assert terminating.metadata.deletion_timestamp

        # No new content while it terminates.
        late = core_pb2.ConfigMap()
        late.metadata.name, late.metadata.namespace = "late", "team"
        with pytest.raises(ApiError) as refused:
            await client.create(late)
        assert "because it is being terminated" in str(refused.value)

        async def only_the_pod_is_left() -> core_pb2.Pod:
            assert (await client.list(core_pb2.ConfigMap, "team")).items == []
            assert (await client.list(apps_pb2.ReplicaSet, "team")).items == []
            [left] = (await client.list(core_pb2.Pod, "team")).items
            assert left.metadata.deletion_timestamp, "the pod is deleted gracefully"
            return left

        left = await eventually(only_the_pod_is_left)
        assert (await client.get(core_pb2.Namespace, "team")).status.phase == "Terminating"
        # The kubelet stops the pod: now the namespace can go.
        await client.delete(core_pb2.Pod, left.metadata.name, "team", grace_period_seconds=0)

        async def namespace_gone() -> bool:
            with contextlib.suppress(ApiError):
                await client.get(core_pb2.Namespace, "team")
                raise AssertionError("namespace team still exists")
            return True

        await eventually(namespace_gone)
        assert (await client.get(core_pb2.ConfigMap, "elsewhere")).metadata.name == "elsewhere"
        with pytest.raises(ApiError) as missing:
            await client.create(late)
        assert missing.value.code == Code.NOT_FOUND
