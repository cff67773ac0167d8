"""The Strategy of every kind."""

from __future__ import annotations

from controlplane.apiserver.strategies.daemonsets import DaemonSetStrategy
from controlplane.apiserver.strategies.namespaces import NamespaceStrategy
from controlplane.apiserver.strategies.pods import PodStrategy
from controlplane.apiserver.strategy import Strategy
from kemu.api.kinds import Kind
from kemu.timing import Timing

_SPECIAL: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "DaemonSet": DaemonSetStrategy,
    "Namespace": NamespaceStrategy,
}


def strategy_for(kind: Kind, timing: Timing) -> Strategy:
    return _SPECIAL.get(kind.name, Strategy)(kind, timing)
