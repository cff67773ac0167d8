"""A control plane running the node lifecycle, taint-eviction and pod GC controllers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from kemu.client.grpc_client import GrpcClient
from kemu.timing import FAST
from launcher.cluster import LocalCluster
from tests.integration.nodes.heartbeat import Heartbeats

CONTROLLERS = "nodelifecycle,taint-eviction,podgc"


@pytest.fixture
async def api(make_cluster: Callable[..., LocalCluster]) -> AsyncIterator[GrpcClient]:
    cluster = make_cluster(controllers=CONTROLLERS)
    cluster.start_control_plane()
    client = GrpcClient(cluster.address)
    yield client
    await client.close()


@pytest.fixture
async def heartbeats(api: GrpcClient) -> AsyncIterator[Heartbeats]:
    async with Heartbeats(api, FAST) as beats:
        yield beats
