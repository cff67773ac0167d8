"""Taints and tolerations: which toleration tolerates which taint (``Toleration.ToleratesTaint``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kemu.v1 import core_pb2

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def tolerates(toleration: core_pb2.Toleration, taint: core_pb2.Taint) -> bool:
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return toleration.operator == "Exists"


def tolerated(tolerations: Iterable[core_pb2.Toleration], taint: core_pb2.Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def first_untolerated(taints: Iterable[core_pb2.Taint], tolerations: Sequence[core_pb2.Toleration],
                      effects: Sequence[str]) -> core_pb2.Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates."""
    for taint in taints:
        if taint.effect in effects and not tolerated(tolerations, taint):
            return taint
    return None

