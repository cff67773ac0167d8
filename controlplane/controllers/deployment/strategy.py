"""A Deployment's spec as the controller reads it: apps/v1 defaults for unset fields, and the
rolling-update fenceposts (maxSurge, maxUnavailable) resolved against the replica count.

Percentages are of ``spec.replicas``: maxSurge rounds up, maxUnavailable rounds down, and when
both come out as 0, maxUnavailable becomes 1 so that a rollout can always move
(Kubernetes' ``ResolveFenceposts``).
"""

from __future__ import annotations

from kemu.v1 import apps_pb2, meta_pb2

ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"
DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
MAX_INT32 = 2 ** 31 - 1

IntOrPercent = int | str


def replicas(d: apps_pb2.Deployment) -> int:
    return int(d.spec.replicas) if d.spec.HasField("replicas") else 1


def strategy_type(d: apps_pb2.Deployment) -> str:
    return d.spec.strategy.type or ROLLING_UPDATE


def is_rolling_update(d: apps_pb2.Deployment) -> bool:
    return strategy_type(d) == ROLLING_UPDATE


def revision_history_limit(d: apps_pb2.Deployment) -> int | None:
    """How many old ReplicaSets to keep; None keeps all (unset defaults to 10)."""
    if not d.spec.HasField("revision_history_limit"):
        return DEFAULT_REVISION_HISTORY_LIMIT
    limit = int(d.spec.revision_history_limit)
    return None if limit == MAX_INT32 else limit


def progress_deadline_seconds(d: apps_pb2.Deployment) -> int | None:
    """The progress deadline in the object's seconds; None means no deadline."""
    if not d.spec.HasField("progress_deadline_seconds"):
        return DEFAULT_PROGRESS_DEADLINE_SECONDS
    seconds = int(d.spec.progress_deadline_seconds)
    return None if seconds == MAX_INT32 else seconds


def int_or_percent(value: meta_pb2.IntOrString) -> IntOrPercent:
    which = value.WhichOneof("value")
    return value.string_value if which == "string_value" else int(value.int_value)


def scaled_value(value: IntOrPercent, total: int, round_up: bool) -> int:
    """An absolute number, or a percentage of ``total`` rounded up or down."""
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a "
                         f"percentage: {value!r}")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: {value!r}") from None
    product = percent * total
    return -(-product // 100) if round_up else product // 100


def resolve_fenceposts(max_surge: IntOrPercent, max_unavailable: IntOrPercent,
                       desired: int) -> tuple[int, int]:
    surge = scaled_value(max_surge, desired, round_up=True)
    unavailable = scaled_value(max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def surge_and_unavailable_settings(d: apps_pb2.Deployment) -> tuple[IntOrPercent, IntOrPercent]:
    rolling = d.spec.strategy.rolling_update
    surge: IntOrPercent = DEFAULT_MAX_SURGE
    unavailable: IntOrPercent = DEFAULT_MAX_UNAVAILABLE
    if d.spec.strategy.HasField("rolling_update"):
        if rolling.HasField("max_surge"):
            surge = int_or_percent(rolling.max_surge)
        if rolling.HasField("max_unavailable"):
            unavailable = int_or_percent(rolling.max_unavailable)
    return surge, unavailable


def _fenceposts(d: apps_pb2.Deployment) -> tuple[int, int]:
    surge, unavailable = surge_and_unavailable_settings(d)
    try:
        return resolve_fenceposts(surge, unavailable, replicas(d))
    except ValueError:
        return 0, 0  # validation rejects such values; act as Kubernetes does on the error


def max_surge(d: apps_pb2.Deployment) -> int:
    if not is_rolling_update(d):
        return 0
    return _fenceposts(d)[0]


def max_unavailable(d: apps_pb2.Deployment) -> int:
    desired = replicas(d)
    if not is_rolling_update(d) or desired == 0:
        return 0
    return min(_fenceposts(d)[1], desired)


def min_available(d: apps_pb2.Deployment) -> int:
    if not is_rolling_update(d):
        return 0
    return replicas(d) - max_unavailable(d)
