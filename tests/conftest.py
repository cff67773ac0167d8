"""Fixtures: real etcd, real control-plane and kubelet processes (fast timing profile)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.etcd_process import EmbeddedEtcd, EtcdConfig
from controlplane.storage.etcd import EtcdStore
from kemu.client.grpc_client import GrpcClient
from launcher.cluster import LocalCluster


@pytest.fixture(scope="session")
def etcd_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real etcd for storage-level tests (each test uses its own key prefix)."""
    etcd = EmbeddedEtcd(EtcdConfig(data_dir=tmp_path_factory.mktemp("etcd"),
                                   unsafe_no_fsync=True))
    etcd.start_process()
    try:
        asyncio.run(_wait_ready(etcd.endpoint))
        yield etcd.endpoint
    finally:
        asyncio.run(etcd.stop())


async def _wait_ready(endpoint: str) -> None:
    store = EtcdStore([endpoint])
    await store.wait_ready(30)
    await store.close()


@pytest.fixture
async def store(etcd_endpoint: str) -> AsyncIterator[EtcdStore]:
    s = EtcdStore([etcd_endpoint])
    yield s
    await s.close()


def _dump_logs(cluster: LocalCluster) -> None:
    for process in [*cluster.control_planes.values(), *cluster.nodes.values()]:
        print(f"----- {process.name} ({process.log_path}) -----")
        print(process.log_tail(60))


@pytest.fixture
def make_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., LocalCluster]]:
    """Build LocalClusters in this test's temporary folder; all are stopped afterwards."""
    made: list[LocalCluster] = []

    def make(**options: Any) -> LocalCluster:
        cluster = LocalCluster(tmp_path / f"cluster{len(made)}", **options)
        made.append(cluster)
        return cluster

    yield make
    failed = getattr(request.node, "rep_call", None)
    for cluster in made:
        if failed is not None and failed.failed:
            _dump_logs(cluster)
        cluster.stop()


@pytest.fixture(scope="module")
def shared_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One control plane (no nodes) shared by a module's API tests; tests use unique names."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cp"), controllers="")
    cluster.start_control_plane()
    yield cluster
    cluster.stop()


@pytest.fixture
async def client(shared_control_plane: LocalCluster) -> AsyncIterator[GrpcClient]:
    c = GrpcClient(shared_control_plane.address)
    yield c
    await c.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + report.when, report)
