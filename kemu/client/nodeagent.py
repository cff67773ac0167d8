"""The async client of the ``kemu.v1.NodeAgent`` gRPC service: what a kubelet process calls.

One client speaks for one node. It holds one channel at a time to one of several control
planes; when a call finds its control plane unreachable (UNAVAILABLE, or no answer within the
timeout) it fails over to the next address and tries again there, so a node keeps working
while any control plane lives. Errors arrive as ``kemu.api.errors.ApiError``.

Failing over closes the old channel, which may cancel calls still running on it -- the pod
watch, or another loop's call. Such a call ends in ``ApiError`` (UNAVAILABLE), not in
``asyncio.CancelledError``, so the task that made it is not silently ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from kemu.api.errors import ApiError, Code
from kemu.client.interface import WatchEvent
from kemu.client.status import from_rpc_error, from_status
from kemu.v1 import api_pb2, api_pb2_grpc, coordination_pb2, core_pb2

log = logging.getLogger(__name__)

# The most events one RecordEvents call may carry; the control plane refuses more.
MAX_EVENTS_PER_CALL = 100

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # Reconnect quickly after a control plane comes back.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]
# Codes after which another control plane may do better.
FAILOVER_CODES = (Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED)
# The reason of the UNAVAILABLE error of a call whose channel a fail-over closed under it.
CUT_OFF = "ChannelClosed"


def _cancelled_by_caller() -> bool:
    """Whether the running task is being cancelled, rather than only a call it awaited."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _dropped(method: str) -> ApiError:
    return ApiError(Code.UNAVAILABLE, CUT_OFF,
                    f"{method} was cancelled: its channel was closed by a failover")


def parse_servers(text: str | Sequence[str]) -> list[str]:
    """``host:port[,host:port...]`` as a list; raises ValueError naming the bad entry."""
    items = text.split(",") if isinstance(text, str) else list(text)
    servers: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"server {item!r} is not host:port (e.g. 127.0.0.1:6443)")
        servers.append(item)
    if not servers:
        raise ValueError("no server address given (expected host:port[,host:port...])")
    return servers


class NodeAgentClient:
    """NodeAgent calls for node ``node_name`` over one or more control-plane addresses."""

    def __init__(self, servers: str | Sequence[str], node_name: str, *, timeout: float = 10.0,
                 spread: bool = True):
        self.servers = parse_servers(servers)
        self.node_name = node_name
        self.timeout = timeout
        # Nodes start on different control planes so their watches spread over all of them.
        self._index = zlib.crc32(node_name.encode()) % len(self.servers) if spread else 0
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self.failovers = 0

    @property
    def server(self) -> str:
        """The control plane this client talks to now."""
        return self.servers[self._index]

    def _current(self) -> Any:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.server, options=CHANNEL_OPTIONS)
            self._stub = api_pb2_grpc.NodeAgentStub(self._channel)  # type: ignore[no-untyped-call]
        return self._stub

    @property
    def generation(self) -> int:
        """Counts failovers; a call that failed passes the generation it started in."""
        return self.failovers

    def fail_over(self, generation: int | None = None) -> None:
        """Drop the current channel and use the next control plane from the next call on.

        ``generation``: the one the failed call started in. Calls run concurrently (lease,
        status, pod watch, pod statuses); when several fail together only the first moves on,
        so they neither flip back to the control plane they all just left nor close the channel
        another call has already started on. The old channel is closed gracefully: calls still
        running on it may finish.
        """
        if generation is not None and generation != self.failovers:
            return
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            task = asyncio.get_running_loop().create_task(channel.close(grace=self.timeout))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
        if len(self.servers) > 1:
            self._index = (self._index + 1) % len(self.servers)
            self.failovers += 1
            log.warning("node=%s switching to control plane %s", self.node_name, self.server)

    async def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def __aenter__(self) -> NodeAgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        error: ApiError | None = None
        # One try per control plane, and one more for a call cut off by another call's fail-over
        # (the channel is already replaced by then).
        attempts, cut_off = len(self.servers), False
        while attempts > 0:
            attempts -= 1
            generation = self.failovers
            try:
                return await getattr(self._current(), method)(request,
                                                              timeout=timeout or self.timeout)
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                if error.code not in FAILOVER_CODES:
                    raise error from None
                self.fail_over(generation)
            except asyncio.CancelledError:
                if _cancelled_by_caller():
                    raise
                error = _dropped(method)
                if not cut_off:
                    cut_off, attempts = True, attempts + 1
        assert error is not None
        raise error

    # -- the calls ------------------------------------------------------------------------
    async def register(self, node: core_pb2.Node) -> core_pb2.Node:
        result: core_pb2.Node = await self._call("Register", api_pb2.RegisterNodeRequest(node=node))
        return result

    async def renew_lease(self, lease_duration_seconds: int) -> coordination_pb2.Lease:
        result: coordination_pb2.Lease = await self._call("RenewLease", api_pb2.RenewLeaseRequest(
            node_name=self.node_name, lease_duration_seconds=lease_duration_seconds))
        return result

    async def update_node_status(self, status: core_pb2.NodeStatus) -> core_pb2.Node:
        result: core_pb2.Node = await self._call("UpdateNodeStatus", api_pb2.UpdateNodeStatusRequest(
            node_name=self.node_name, status=status))
        return result

    async def update_pod_status(self, namespace: str, name: str, uid: str,
                                status: core_pb2.PodStatus) -> core_pb2.Pod:
        result: core_pb2.Pod = await self._call("UpdatePodStatus", api_pb2.UpdatePodStatusRequest(
            node_name=self.node_name, namespace=namespace, name=name, uid=uid, status=status))
        return result

    async def remove_pod(self, namespace: str, name: str, uid: str) -> None:
        await self._call("RemovePod", api_pb2.RemovePodRequest(
            node_name=self.node_name, namespace=namespace, name=name, uid=uid))

    async def record_event(self, event: core_pb2.Event) -> None:
        await self._call("RecordEvent", api_pb2.RecordEventRequest(node_name=self.node_name,
                                                                    event=event))

    async def record_events(self, events: Sequence[core_pb2.Event]) -> list[ApiError | None]:
        """Several events in one call: for each, None when recorded, else why it was refused.
        A failure of the call itself (the control plane unreachable) raises, as other calls do."""
        response: api_pb2.RecordEventsResponse = await self._call(
            "RecordEvents", api_pb2.RecordEventsRequest(node_name=self.node_name, events=events))
        return [from_status(result) if result.code else None for result in response.results]

    async def watch_pods(self, resource_version: str = "", *,
                         idle_timeout: float | None = None) -> AsyncIterator[WatchEvent]:
        """The pods bound to this node: ADDED for each (then a BOOKMARK when
        ``resource_version`` is empty), or every change after ``resource_version``.

        Ends when the control plane closes the stream. ``idle_timeout``: seconds without any
        event or bookmark after which the stream counts as dead (DEADLINE_EXCEEDED).
        """
        call = self._current().WatchPods(api_pb2.WatchPodsRequest(
            node_name=self.node_name, resource_version=resource_version))
        try:
            while True:
                if idle_timeout is None:
                    message = await call.read()
                else:
                    try:
                        message = await asyncio.wait_for(call.read(), idle_timeout)
                    except TimeoutError:
                        raise ApiError(Code.DEADLINE_EXCEEDED, "Timeout",
                                       f"no pod event or bookmark from {self.server} for "
                                       f"{idle_timeout:g}s") from None
                if message is grpc.aio.EOF:
                    return
                pod = message.object.pod
                if message.type == "BOOKMARK":
                    yield WatchEvent("BOOKMARK", None, pod.metadata.resource_version)
                else:
                    yield WatchEvent(message.type, pod, pod.metadata.resource_version)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        except asyncio.CancelledError:
            if _cancelled_by_caller():
                raise
            raise _dropped("WatchPods") from None
        finally:
            with contextlib.suppress(Exception):
                call.cancel()

