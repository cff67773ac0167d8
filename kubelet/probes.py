"""Probe workers as plain state: when the next probe is due and what its result means.

Mirrors the kubelet's prober worker: results count in runs, a result is only reported once it
has repeated ``successThreshold``/``failureThreshold`` times, readiness starts as failure,
liveness as success, start-up as unknown. The first probe runs ``initialDelaySeconds`` after
the container started (or, for readiness and liveness, once start-up succeeded), then every
``periodSeconds``; all scaled by the timing profile.

A probe declared in the manifest runs on its period. When the runtime promises an answer will
not change for a while (``ProbeResult.unchanged_until``) and that answer is already reported,
the runs in between are skipped: they could change nothing, and a node runs hundreds of pods.
A *scripted* probe (a ``kemu.io/`` annotation on a container without that probe) has no period:
it is evaluated exactly when the runtime says its answer changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kemu.v1 import core_pb2
from kubelet.runtime.interface import ProbeKind, ProbeResult

DEFAULT_PERIOD = 10
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_TIMEOUT = 1


@dataclass(frozen=True)
class ProbeSettings:
    """A probe's timing in scaled seconds; ``period`` None for a scripted probe."""

    initial_delay: float
    period: float | None
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, probe: core_pb2.Probe, scale: float) -> ProbeSettings:
        return cls(initial_delay=probe.initial_delay_seconds * scale,
                   period=(probe.period_seconds or DEFAULT_PERIOD) * scale,
                   success_threshold=probe.success_threshold or DEFAULT_SUCCESS_THRESHOLD,
                   failure_threshold=probe.failure_threshold or DEFAULT_FAILURE_THRESHOLD)

    @classmethod
    def scripted(cls, scale: float) -> ProbeSettings:
        return cls(initial_delay=0.0, period=None, success_threshold=1, failure_threshold=1)


class Prober:
    """One probe of one container instance."""

    def __init__(self, kind: ProbeKind, settings: ProbeSettings, begins: float,
                 initial: bool | None = None, fallback_period: float = 1.0):
        self.kind = kind
        self.settings = settings
        # The reported result; None is "unknown" (start-up before its first verdict).
        if initial is None and kind is not ProbeKind.STARTUP:
            initial = kind is ProbeKind.LIVENESS
        self.result: bool | None = initial
        self._last: bool | None = None
        self._run = 0
        self._fallback = fallback_period
        self.due: float = begins + settings.initial_delay
        self.runs = 0

    @property
    def scripted(self) -> bool:
        return self.settings.period is None

    def observe(self, now: float, answer: ProbeResult) -> bool:
        """Count one probe run at ``now``; True if the reported result changed."""
        self.runs += 1
        success = answer.success
        if success == self._last:
            self._run += 1
        else:
            self._last, self._run = success, 1
        threshold = self.settings.success_threshold if success else self.settings.failure_threshold
        changed = False
        if self._run >= threshold and self.result != success:
            self.result = success
            changed = True
        self.due = self._next_due(now, answer)
        return changed

    def _next_due(self, now: float, answer: ProbeResult) -> float:
        period = self.settings.period
        settled = self.result == answer.success
        hint = answer.unchanged_until
        if period is None:
            if hint is not None:
                return hint if hint > now else now + self._fallback
            return now + self._fallback
        following = now + period
        if settled and hint is not None and hint > following:
            if math.isinf(hint):
                return math.inf
            # The first run on this probe's period at or after the promised change.
            steps = math.ceil((hint - now) / period)
            return now + steps * period
        return following
