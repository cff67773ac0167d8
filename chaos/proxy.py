"""A fault-injecting TCP proxy between one kubelet and the control plane.

Each proxied node gets its own listening port. ``partition()`` cuts the node off: open
connections are dropped and new ones are accepted but never forwarded (packets vanish, as on a
broken network, so the kubelet sees timeouts rather than refusals). ``heal()`` restores traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

_CHUNK = 65536


class FaultProxy:
    def __init__(self, name: str, upstream_host: str, upstream_port: int):
        self.name = name
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self.partitioned = False
        self._server: asyncio.AbstractServer | None = None
        self._links: set[asyncio.Task[None]] = set()
        self._held: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def retarget(self, host: str, port: int) -> None:
        """Send new connections elsewhere (after the control plane moved)."""
        self.upstream_host, self.upstream_port = host, port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.partitioned:
            self._held.add(writer)  # accepted, never answered
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host,
                                                                 self.upstream_port)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._links.add(task)
            task.add_done_callback(self._links.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while not self.partitioned:
                data = await source.read(_CHUNK)
                if not data or self.partitioned:
                    break
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()

    def partition(self) -> None:
        log.info("partitioning %s", self.name)
        self.partitioned = True
        for task in list(self._links):
            task.cancel()

    def heal(self) -> None:
        log.info("healing %s", self.name)
        self.partitioned = False
        for writer in list(self._held):
            with contextlib.suppress(Exception):
                writer.close()
        self._held.clear()

    async def stop(self) -> None:
        self.heal()
        for task in list(self._links):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
