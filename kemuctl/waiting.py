"""Waiting for an object to be gone, as ``kubectl delete --wait`` and ``drain`` do: watch it
until it is deleted or replaced by a new object of the same name (another UID)."""

from __future__ import annotations

import asyncio
from typing import Any

from kemu.api.errors import ApiError
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient

FOREVER = 7 * 24 * 3600.0


async def until_gone(client: GrpcClient, kind: Kind, name: str, namespace: str, uid: str) -> None:
    while True:
        try:
            current: Any = await client.get(kind.message, name, namespace)
        except ApiError as exc:
            if exc.reason == "NotFound":
                return
            raise
        if current.metadata.uid != uid:
            return
        async for event in client.watch(kind.message, namespace if kind.namespaced else "",
                                        field_selector=f"metadata.name={name}",
                                        resource_version=current.metadata.resource_version):
            if event.object is None:
                continue
            if event.type == "DELETED" or event.object.metadata.uid != uid:
                return
        # The watch ended (the server closed it); look again.


async def wait_all_gone(client: GrpcClient, targets: list[tuple[Kind, Any]],
                        timeout: float) -> list[tuple[Kind, Any]]:
    """Wait until every ``(kind, object)`` is gone; return those still there after ``timeout``."""
    pending = {
        asyncio.ensure_future(until_gone(client, kind, obj.metadata.name, obj.metadata.namespace,
                                         obj.metadata.uid)): (kind, obj)
        for kind, obj in targets}
    if not pending:
        return []
    done, not_done = await asyncio.wait(pending, timeout=timeout or FOREVER)
    for task in not_done:
        task.cancel()
    for task in done:
        task.result()
    return [pending[t] for t in pending if t in not_done]
