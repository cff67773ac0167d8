"""The controllers the control plane can run, by name, and what each is given to run with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.controllers.base import Controller
from controlplane.controllers.events import EventRecorder
from controlplane.controllers.informer import InformerFactory
from kemu.client.interface import ApiClient
from kemu.timing import Timing


@dataclass
class ControllerContext:
    client: ApiClient
    informers: InformerFactory
    timing: Timing
    is_leader: Callable[[], bool]
    identity: str
    # How far the informers' source (the watch cache) is behind this process's own writes.
    view_lag: Callable[[], float] = lambda: 0.0

    def recorder(self, component: str, clock: Callable[[], float] = time.monotonic,
                 correlate: bool = True) -> EventRecorder:
        return EventRecorder(self.client, component, self.identity, clock, correlate)


ControllerFactory = Callable[[ControllerContext], Controller]

# name -> factory; filled by controlplane.controllers.catalog.
CONTROLLERS: dict[str, ControllerFactory] = {}


def register(name: str) -> Callable[[ControllerFactory], ControllerFactory]:
    def add(factory: ControllerFactory) -> ControllerFactory:
        CONTROLLERS[name] = factory
        return factory
    return add
