"""DaemonSets: the defaults the API server fills in, and the template generation.

Like Kubernetes' DaemonSet strategy: ``updateStrategy`` defaults to RollingUpdate with
maxUnavailable 1 and maxSurge 0, ``revisionHistoryLimit`` to 10; the deprecated template
generation (the ``deprecated.daemonset.template.generation`` annotation) starts at 1 and goes up
by one whenever the pod template changes, and clients cannot set it.
"""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.strategy import Strategy

TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
DEFAULT_REVISION_HISTORY_LIMIT = 10


def _template_generation(obj: Any) -> int:
    try:
        return int(obj.metadata.annotations.get(TEMPLATE_GENERATION_ANNOTATION, "0"))
    except ValueError:
        return 0


class DaemonSetStrategy(Strategy):
    def default(self, obj: Any) -> None:
        spec = obj.spec
        strategy = spec.update_strategy
        if not strategy.type:
            strategy.type = "RollingUpdate"
        if strategy.type == "RollingUpdate":
            rolling = strategy.rolling_update
            if rolling.max_unavailable.WhichOneof("value") is None:
                rolling.max_unavailable.int_value = 1
            if rolling.max_surge.WhichOneof("value") is None:
                rolling.max_surge.int_value = 0
        if not spec.HasField("revision_history_limit"):
            spec.revision_history_limit = DEFAULT_REVISION_HISTORY_LIMIT

    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        obj.metadata.annotations[TEMPLATE_GENERATION_ANNOTATION] = "1"

    def prepare_for_update(self, new: Any, old: Any) -> None:
        super().prepare_for_update(new, old)
        generation = _template_generation(old)
        if new.spec.template != old.spec.template:
            generation += 1
        if generation:
            new.metadata.annotations[TEMPLATE_GENERATION_ANNOTATION] = str(generation)
        else:
            new.metadata.annotations.pop(TEMPLATE_GENERATION_ANNOTATION, None)
