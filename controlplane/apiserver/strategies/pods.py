"""Pods: graceful deletion through the kubelet, and the pod validation and defaults."""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.strategy import Strategy

DEFAULT_TERMINATION_GRACE_PERIOD = 30


class PodStrategy(Strategy):
    def graceful_delete_seconds(self, obj: Any, requested: int | None) -> int:
        # A pod no kubelet runs (unscheduled, or finished) goes at once, as in Kubernetes.
        if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return requested
        if obj.spec.HasField("termination_grace_period_seconds"):
            return int(obj.spec.termination_grace_period_seconds)
        return DEFAULT_TERMINATION_GRACE_PERIOD
