"""Health checks for container orchestrators (docker compose ``healthcheck``)."""

from __future__ import annotations

import os
import socket

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2


async def check(server: str, this_node: bool, timeout: float) -> str:
    """An empty string when healthy, otherwise what is wrong."""
    async with grpc.aio.insecure_channel(server) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            return f"control plane at {server} not answering: {exc.code().name}"
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return f"control plane at {server} is not serving"
    if not this_node:
        return ""
    name = os.environ.get("KEMU_NODE_NAME") or socket.gethostname()
    async with GrpcClient(server, timeout=timeout) as client:
        try:
            node = await client.get(core_pb2.Node, name)
        except ApiError as exc:
            return f"node {name}: {exc}"
    ready = next((c.status for c in node.status.conditions if c.type == "Ready"), "Unknown")
    return "" if ready == "True" else f"node {name} is not Ready ({ready})"
