"""The control-plane process: etcd (embedded or external), the API server, the node agent
service and, while it holds the leader lease, the scheduler and controllers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from controlplane.apiserver.api import Api
from controlplane.apiserver.local_client import LocalClient
from controlplane.apiserver.service import ResourcesService
from controlplane.config import ControlPlaneConfig
from controlplane.etcd_process import EmbeddedEtcd, EtcdConfig
from controlplane.leaderelection import LeaderElector
from controlplane.storage.etcd import EtcdStore
from kemu.v1 import api_pb2, api_pb2_grpc

log = logging.getLogger(__name__)

SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 512 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.so_reuseport", 0),
]



class ControlPlane:
    def __init__(self, config: ControlPlaneConfig):
        self.config = config
        self.etcd: EmbeddedEtcd | None = None
        self.store: EtcdStore | None = None
        self.api: Api | None = None
        self.client: LocalClient | None = None
        self.elector: LeaderElector | None = None
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.health = health.aio.HealthServicer()
        self._tasks: list[asyncio.Task[None]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []

    @property
    def address(self) -> str:
        host = self.config.listen.rsplit(":", 1)[0]
        if host in ("0.0.0.0", "[::]", ""):
            host = "127.0.0.1"
        return f"{host}:{self.port}"

    async def start(self) -> None:
        endpoints = self.config.etcd_endpoints
        if not endpoints:
            self.etcd = EmbeddedEtcd(EtcdConfig(
                data_dir=self.config.data_dir, client_port=self.config.etcd_client_port,
                unsafe_no_fsync=self.config.etcd_unsafe_no_fsync))
            await self.etcd.start()
            endpoints = [self.etcd.endpoint]
        self.store = EtcdStore(endpoints)
        await self.store.wait_ready(timeout=30.0)
        self.api = Api(self.store, self.config.timing, self.config.watch_cache_capacity)
        await self.api.start()
        self.client = LocalClient(self.api)
        self.server = grpc.aio.server(options=SERVER_OPTIONS)
        api_pb2_grpc.add_ResourcesServicer_to_server(  # type: ignore[no-untyped-call]
            ResourcesService(self.api), self.server)
        from controlplane.nodeagent import NodeAgentService

        api_pb2_grpc.add_NodeAgentServicer_to_server(  # type: ignore[no-untyped-call]
            NodeAgentService(self.api), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = (
            api_pb2.DESCRIPTOR.services_by_name["Resources"].full_name,
            api_pb2.DESCRIPTOR.services_by_name["NodeAgent"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, self.server)
        self.port = self.server.add_insecure_port(self.config.listen)
        if not self.port:
            raise OSError(f"cannot listen on {self.config.listen}")
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self._tasks.append(asyncio.create_task(self._compact_forever(), name="compactor"))
        if self.config.metrics_listen:
            from controlplane.metrics import serve_metrics

            serve_metrics(self.config.metrics_listen)
        if self.config.run_controllers:
            from controlplane.manager import start_controllers

            self._stoppers.append(await start_controllers(self))
        log.info("control plane serving on %s (etcd %s)", self.address, ",".join(endpoints))

    async def _compact_forever(self) -> None:
        """Compact etcd history older than one interval, as the Kubernetes API server does."""
        assert self.store is not None
        previous = 0
        while True:
            await asyncio.sleep(self.config.compaction_interval)
            try:
                current = await self.store.current_revision()
                if previous:
                    await self.store.compact(previous)
                    log.info("compacted etcd to revision %d", previous)
                previous = current
            except Exception as exc:
                log.warning("compaction failed: %s", exc)

    async def stop(self) -> None:
        await self.health.enter_graceful_shutdown()
        for stopper in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                await stopper()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.server:
            await self.server.stop(grace=1.0)
        if self.api:
            await self.api.stop()
        if self.store:
            await self.store.close()
        if self.etcd:
            await self.etcd.stop()
        log.info("control plane stopped")


async def run(config: ControlPlaneConfig, ready: Callable[[ControlPlane], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    plane = ControlPlane(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await plane.start()
        if ready:
            ready(plane)
        await stop.wait()
    finally:
        await plane.stop()
