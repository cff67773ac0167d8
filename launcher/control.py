"""The control socket of a running ``kemu up``: ``kemu node ...`` commands talk to it.

One JSON object per line each way over a Unix socket in the cluster's folder:
``{"op": "kill", "name": "node-2"}`` → ``{"ok": true, "message": "node-2 killed (pid 1234)"}``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

SOCKET_NAME = "control.sock"

Handler = Callable[[dict[str, Any]], str]


async def serve(path: Path, handle: Handler) -> asyncio.AbstractServer:
    """Answer commands on ``path`` (which must not exist yet) with ``handle``."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            request = json.loads(line or b"{}")
            try:
                reply = {"ok": True, "message": handle(request)}
            except (KeyError, ValueError, RuntimeError) as exc:
                reply = {"ok": False, "message": str(exc).strip("'\"")}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_unix_server(client, path=str(path))


def request(folder: Path, message: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one command to the ``kemu up`` running in ``folder`` and return its reply."""
    path = folder / SOCKET_NAME
    if not path.exists():
        raise ConnectionError(f"no running 'kemu up' found in {folder} (no {SOCKET_NAME}); "
                              "start one with 'kemu up' or pass --dir")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps(message).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data or b"{}")
    return reply
