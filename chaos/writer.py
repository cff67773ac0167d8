"""Acknowledged writes during chaos: every write the API acknowledged must survive.

The writer creates ConfigMaps one after another, alternating between the control planes, and
remembers each one the API acknowledged (with its uid). A write that failed or timed out is
"unknown": it may or may not have landed, and its name is never used again. At the end every
acknowledged ConfigMap must exist with its uid and content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chaos.observer import Clients
from kemu.api.errors import ApiError
from kemu.v1 import core_pb2

log = logging.getLogger(__name__)

PREFIX = "ack-"


@dataclass
class AckedWrites:
    namespace: str
    acknowledged: dict[str, str] = field(default_factory=dict)
    unknown: int = 0

    async def run(self, servers: Callable[[], Sequence[str]], stop: asyncio.Event,
                  interval: float = 0.1) -> None:
        clients = Clients(servers, timeout=5.0)
        index = 0
        try:
            while not stop.is_set():
                name = f"{PREFIX}{index:06d}"
                cm = core_pb2.ConfigMap()
                cm.metadata.name = name
                cm.metadata.namespace = self.namespace
                cm.data["index"] = str(index)
                targets = list(servers())
                client = clients.client(targets[index % len(targets)])
                try:
                    made = await client.create(cm)
                    self.acknowledged[name] = made.metadata.uid
                except ApiError as exc:
                    log.debug("write %s not acknowledged: %s", name, exc)
                    self.unknown += 1
                index += 1
                await asyncio.sleep(interval)
        finally:
            await clients.close()

    async def lost(self, clients: Clients) -> list[str]:
        """Acknowledged writes that are gone or changed."""
        listed = await clients.call("list", core_pb2.ConfigMap, self.namespace)
        present = {cm.metadata.name: cm for cm in listed.items}
        missing = []
        for name, uid in sorted(self.acknowledged.items()):
            found = present.get(name)
            if found is None:
                missing.append(f"acknowledged write {self.namespace}/{name} is lost")
            elif found.metadata.uid != uid or \
                    found.data.get("index") != str(int(name[len(PREFIX):])):
                missing.append(f"acknowledged write {self.namespace}/{name} was changed")
        return missing
