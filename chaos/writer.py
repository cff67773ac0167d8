"""Acknowledged writes during chaos: every write the API acknowledged must survive.

The writer creates ConfigMaps one after another and remembers each one the API acknowledged
(with its uid); a write that failed or timed out is "unknown" (it may or may not have landed).
At the end every acknowledged ConfigMap must exist with its uid and content.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)


@dataclass
class AckedWrites:
    namespace: str
    acknowledged: dict[str, str] = field(default_factory=dict)
    unknown: int = 0

    async def run(self, servers: list[str], stop: asyncio.Event, interval: float = 0.05) -> None:
        index = 0
        clients = [GrpcClient(s, timeout=5.0) for s in servers]
        try:
            while not stop.is_set():
                name = f"ack-{index:06d}"
                cm = core_pb2.ConfigMap()
                cm.metadata.name = name
                cm.metadata.namespace = self.namespace
                cm.data["index"] = str(index)
                client = clients[index % len(clients)]
                try:
                    made = await client.create(cm)
                    self.acknowledged[name] = made.metadata.uid
                except ApiError as exc:
                    if exc.reason == "AlreadyExists":
                        # An earlier attempt landed without an answer; it is not acknowledged.
                        pass
                    self.unknown += 1
                index += 1
                await asyncio.sleep(interval)
        finally:
            for c in clients:
                await c.close()

    async def lost(self, client: GrpcClient) -> list[str]:
        """Acknowledged writes that are gone or changed."""
        present = {cm.metadata.name: cm for cm in
                   (await client.list(core_pb2.ConfigMap, self.namespace)).items}
        missing = []
        for name, uid in sorted(self.acknowledged.items()):
            found = present.get(name)
            if found is None:
                missing.append(f"acknowledged write {self.namespace}/{name} is lost")
            elif found.metadata.uid != uid or found.data.get("index") != str(int(name[4:])):
                missing.append(f"acknowledged write {self.namespace}/{name} was changed")
        return missing
