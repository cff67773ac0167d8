"""Pods and nodes for kubelet integration tests (no scheduler: pods carry spec.nodeName)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from tests.support.waiting import eventually


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pod_on(node: str, name: str, *, command: Sequence[str] = (),
           annotations: dict[str, str] | None = None, restart_policy: str = "Always",
           image: str = "nginx:1.25", grace: int | None = None) -> core_pb2.Pod:
    pod = core_pb2.Pod(api_version="v1", kind="Pod")
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.metadata.annotations.update(annotations or {})
    pod.spec.node_name = node
    pod.spec.restart_policy = restart_policy
    if grace is not None:
        pod.spec.termination_grace_period_seconds = grace
    pod.spec.containers.add(name="main", image=image, command=list(command))
    return pod


def condition(pod: core_pb2.Pod, kind: str) -> str:
    for c in pod.status.conditions:
        if c.type == kind:
            return c.status
    return ""


def main_status(pod: core_pb2.Pod) -> core_pb2.ContainerStatus:
    for status in pod.status.container_statuses:
        if status.name == "main":
            return status
    raise AssertionError(f"pod {pod.metadata.name} has no status for container main yet")


async def wait_pod(client: GrpcClient, name: str, check: Callable[[core_pb2.Pod], bool],
                   what: str, timeout: float = 30.0) -> core_pb2.Pod:
    async def probe() -> core_pb2.Pod | None:
        pod = await client.get(core_pb2.Pod, name, "default")
        return pod if check(pod) else None

    result: core_pb2.Pod = await eventually(probe, timeout=timeout, what=f"{name}: {what}")
    return result


async def wait_gone(client: GrpcClient, name: str, timeout: float = 30.0) -> None:
    async def gone() -> bool:
        try:
            await client.get(core_pb2.Pod, name, "default")
        except ApiError as exc:
            return exc.code == Code.NOT_FOUND
        return False

    await eventually(gone, timeout=timeout, what=f"pod {name} removed")


async def wait_node(client: GrpcClient, name: str, check: Callable[[core_pb2.Node], bool],
                    what: str, timeout: float = 30.0) -> core_pb2.Node:
    async def probe() -> core_pb2.Node | None:
        try:
            node = await client.get(core_pb2.Node, name)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return None
            raise
        return node if check(node) else None

    result: core_pb2.Node = await eventually(probe, timeout=timeout, what=f"node {name}: {what}")
    return result


def node_ready(node: core_pb2.Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
