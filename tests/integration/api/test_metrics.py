"""The control plane serves Prometheus metrics: API calls by verb, kind and code."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable

import pytest

from controlplane.etcd_process import free_port
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from launcher.cluster import LocalCluster

pytestmark = pytest.mark.integration


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


async def test_api_calls_are_counted(make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(controllers="")
    port = free_port()
    cluster.start_control_plane(extra_args=["--metrics-listen", f"127.0.0.1:{port}"])
    async with GrpcClient(cluster.address) as client:
        await client.list(core_pb2.Pod)
        with pytest.raises(ApiError):
            await client.get(core_pb2.Pod, "missing")
    text = await asyncio.to_thread(_scrape, port)
    assert 'kemu_apiserver_requests_total{code="OK",kind="Pod",verb="List"} 1.0' in text
    assert 'kemu_apiserver_requests_total{code="NOT_FOUND",kind="Pod",verb="Get"} 1.0' in text
    assert 'kemu_apiserver_request_seconds_count{kind="Pod",verb="List"}' in text
    assert "kemu_leader 1.0" in text or "kemu_leader 0.0" in text
