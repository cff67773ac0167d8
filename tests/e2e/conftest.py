"""Fixtures of the end-to-end tests: each module defines a ``cluster`` fixture (module scope,
see kit.running_cluster); ``api`` is a client for it, and a failed test prints the tails of the
cluster's process logs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kemu.client.grpc_client import GrpcClient
from tests.e2e.kit import Cluster


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[GrpcClient]:
    async with cluster.client() as client:
        yield client


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "cluster" in request.fixturenames:
        cluster: Cluster = request.getfixturevalue("cluster")
        cluster.dump_logs()
