"""Prometheus metrics of the scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter("kemu_scheduler_schedule_attempts_total",
                   "Scheduling attempts by result (scheduled, unschedulable, error)", ["result"])
ATTEMPT_SECONDS = Histogram("kemu_scheduler_scheduling_attempt_duration_seconds",
                            "Time to filter and score one pod",
                            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1, 0.25))
PENDING = Gauge("kemu_scheduler_pending_pods", "Pods waiting in the scheduling queue")
