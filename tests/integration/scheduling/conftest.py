"""A control plane running only the scheduler, and a client to it (one per test: the node set
is part of what each test checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from launcher.cluster import LocalCluster


@pytest.fixture
async def api(make_cluster: Callable[..., LocalCluster]) -> AsyncIterator[GrpcClient]:
    cluster = make_cluster(controllers="scheduler")
    cluster.start_control_plane()
    client = GrpcClient(cluster.address)
    yield client
    await client.close()
