"""Deleting a namespace: Terminating until its spec.finalizers are emptied through the
finalize subresource (what the namespace controller does once the namespace is empty)."""

from __future__ import annotations

import uuid

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2

pytestmark = pytest.mark.integration


async def test_namespace_waits_for_its_finalizer(client: GrpcClient) -> None:
    name = f"fin-{uuid.uuid4().hex[:8]}"
    ns = core_pb2.Namespace()
    ns.metadata.name = name
    created = await client.create(ns)
    assert list(created.spec.finalizers) == ["kubernetes"]
    terminating = await client.delete(core_pb2.Namespace, name)
    assert terminating.status.phase == "Terminating" and terminating.metadata.deletion_timestamp
    cm = core_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = "late", name
    with pytest.raises(ApiError) as refused:
        await client.create(cm)
    assert refused.value.code == Code.PERMISSION_DENIED
    assert "because it is being terminated" in str(refused.value)
    # A plain update cannot drop the finalizer; the finalize subresource can.
    current = await client.get(core_pb2.Namespace, name)
    del current.spec.finalizers[:]
    kept = await client.update(current)
    assert list(kept.spec.finalizers) == ["kubernetes"]
    await client.patch(core_pb2.Namespace, name, "", {"spec": {"finalizers": []}},
                       subresource="finalize")
    with pytest.raises(ApiError) as gone:
        await client.get(core_pb2.Namespace, name)
    assert gone.value.code == Code.NOT_FOUND


async def test_finalize_is_only_for_namespaces(client: GrpcClient) -> None:
    with pytest.raises(ApiError) as bad:
        await client.patch(core_pb2.ConfigMap, "x", "default", {}, subresource="finalize")
    assert bad.value.code == Code.INVALID_ARGUMENT
