"""A DaemonSet's update strategy, with Kubernetes' defaults for fields left out.

The API server defaults ``updateStrategy`` to RollingUpdate with maxUnavailable 1 and maxSurge
0, and ``revisionHistoryLimit`` to 10; the controller applies the same defaults itself, so an
object stored without them behaves the same.
"""

from __future__ import annotations

import math

from kemu.v1 import apps_pb2, meta_pb2

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
DEFAULT_REVISION_HISTORY_LIMIT = 10


class InvalidIntOrPercentError(ValueError):
    pass


def strategy_type(ds: apps_pb2.DaemonSet) -> str:
    return ds.spec.update_strategy.type or ROLLING_UPDATE


def revision_history_limit(ds: apps_pb2.DaemonSet) -> int:
    if ds.spec.HasField("revision_history_limit"):
        return max(0, ds.spec.revision_history_limit)
    return DEFAULT_REVISION_HISTORY_LIMIT


def scaled_value(value: meta_pb2.IntOrString, total: int, round_up: bool) -> int:
    """Kubernetes' ``GetScaledValueFromIntOrPercent``: an integer, or ``N%`` of ``total``."""
    which = value.WhichOneof("value")
    if which == "int_value":
        return int(value.int_value)
    text = value.string_value if which == "string_value" else ""
    if not text.endswith("%"):
        raise InvalidIntOrPercentError(f"invalid value for IntOrString: invalid type: string "
                                       f"is not a percentage: {text!r}")
    try:
        percent = int(text[:-1])
    except ValueError:
        raise InvalidIntOrPercentError(f"invalid value {text!r}: must be an integer or a "
                                       f"percentage") from None
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _rolling(ds: apps_pb2.DaemonSet) -> apps_pb2.RollingUpdateDaemonSet | None:
    if strategy_type(ds) != ROLLING_UPDATE:
        return None
    return ds.spec.update_strategy.rolling_update


def surge_count(ds: apps_pb2.DaemonSet, desired: int) -> int:
    """How many nodes may run an extra (new) pod at once; 0 when surge is not asked for."""
    rolling = _rolling(ds)
    if rolling is None or not rolling.HasField("max_surge") or \
            rolling.max_surge.WhichOneof("value") is None:
        return 0
    return scaled_value(rolling.max_surge, desired, True)


def unavailable_count(ds: apps_pb2.DaemonSet, desired: int) -> int:
    """How many nodes may be without an available pod during the update (default 1)."""
    rolling = _rolling(ds)
    if rolling is None:
        return 0
    if not rolling.HasField("max_unavailable") or \
            rolling.max_unavailable.WhichOneof("value") is None:
        return 1
    return scaled_value(rolling.max_unavailable, desired, True)


def allows_surge(ds: apps_pb2.DaemonSet) -> bool:
    try:
        return surge_count(ds, 1) > 0
    except InvalidIntOrPercentError:
        return False
