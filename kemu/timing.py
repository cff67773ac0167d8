"""Every interval kemu uses, as one settings object with two profiles.

``default`` holds Kubernetes' own values; ``fast`` keeps the same ratios at one twentieth of the
duration, for tests and demos (the leader lease at one fifth: see ``FAST``). Any single
interval can be overridden, from a flag or from the environment (``KEMU_TIMING_<NAME>``, e.g.
``KEMU_TIMING_NODE_MONITOR_GRACE_PERIOD=3``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    # Node heartbeats (kubelet) and their monitoring (node lifecycle controller).
    node_lease_duration: float = 40.0
    node_lease_renew_interval: float = 10.0
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float = 60.0
    # Seconds one kubelet → control plane call may take before the kubelet gives up on that
    # control plane and tries the next address it was given.
    node_agent_call_timeout: float = 10.0
    # Pods on a node (kubelet and fake runtime).
    image_pull_delay: float = 0.5
    container_start_delay: float = 0.2
    crashloop_backoff_base: float = 10.0
    crashloop_backoff_max: float = 300.0
    crashloop_backoff_reset: float = 600.0
    # Control-plane loops.
    leader_lease_duration: float = 15.0
    leader_renew_deadline: float = 10.0
    leader_retry_period: float = 2.0
    scheduler_retry_backoff_base: float = 1.0
    scheduler_retry_backoff_max: float = 10.0
    # An unschedulable pod no cluster event has retried is tried again after this long.
    scheduler_unschedulable_max_wait: float = 300.0
    # Node lifecycle: one node per zone gets its NoExecute taint per interval (--node-eviction-rate).
    node_eviction_interval: float = 10.0
    # Pod GC: its loop period, and how long a missing node is quarantined before its pods go.
    pod_gc_period: float = 20.0
    pod_gc_quarantine: float = 40.0
    queue_retry_base: float = 0.005
    queue_retry_max: float = 1000.0
    daemonset_failed_backoff_base: float = 1.0
    daemonset_failed_backoff_max: float = 900.0
    event_ttl: float = 3600.0
    deployment_resync: float = 30.0
    # A ReplicaSet re-syncs at most this often for changes that only touch status: its pods'
    # status (bound, running, ready) and its own status write coming back. Kubernetes' Job
    # controller batches pod updates the same way (syncJobBatchPeriod, 1 s).
    replicaset_status_batch_period: float = 0.1
    watch_bookmark_interval: float = 60.0
    # A consistent list waits this long for the watch cache to reach etcd's revision by itself,
    # then writes a progress mark and waits for that (the cache never sees the writes of kinds
    # it does not hold, Events, so when they were the last it would wait in vain).
    consistent_read_mark_delay: float = 0.02
    # The time scale of this profile (1.0 for default). Every duration read from an object
    # (terminationGracePeriodSeconds, probe periods, minReadySeconds, tolerationSeconds,
    # progressDeadlineSeconds, the runtime's annotations ...) is multiplied by it wherever kemu
    # acts on it, so a manifest behaves the same, only faster. Objects keep Kubernetes' values.
    scale: float = 1.0

    def scaled(self, factor: float) -> Timing:
        """Every interval multiplied by ``factor`` (integers stay at least 1)."""
        changes: dict[str, float | int] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "queue_retry_base":
                continue
            if isinstance(value, int):
                changes[f.name] = max(1, round(value * factor))
            else:
                changes[f.name] = value * factor
        return dataclasses.replace(self, **changes)

    def with_overrides(self, overrides: Mapping[str, str]) -> Timing:
        """Apply ``{"node_monitor_grace_period": "3"}``-style overrides; unknown names fail."""
        names = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, float | int] = {}
        for name, raw in overrides.items():
            if name not in names:
                raise ValueError(f"unknown timing setting {name!r}; known: {', '.join(sorted(names))}")
            current = getattr(self, name)
            kind = int if isinstance(current, int) else float
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name}: {raw!r} is not a number of seconds") from None
            if value < 0 or value != value:
                raise ValueError(f"{name}: {raw!r} must be a number of seconds, 0 or more")
            changes[name] = value
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


DEFAULT = Timing()
# The leader lease is the one interval not scaled to a twentieth: 0.75 s (renew deadline 0.5 s)
# is shorter than the event-loop stalls of a control plane on a busy 2-core machine, so the
# leader's is_leader() flickered false and a second control plane could take the lease from a
# healthy leader (the chaos suite saw both). A fifth keeps Kubernetes' 15:10:2 ratios; failover
# then takes about 3.4 s, still faster than a node is noticed gone (node monitor grace 2 s +
# lease renewals).
#
# The kubelet's call timeout is not scaled either: it bounds how long a control plane may take
# to answer under load (seconds during a 5000-pod burst on 2 cores), which the profile does not
# change, and a call cut short is sent again to another control plane, adding load.
# Nor is the ReplicaSet's status batch period: it bounds how often a large ReplicaSet whose pods
# keep changing reads all of them again, a cost that depends on the machine, not the profile.
# Nor is the consistent read's mark delay: it is how long the watch cache takes to apply a write,
# which depends on the machine too.
FAST = dataclasses.replace(DEFAULT.scaled(0.05), leader_lease_duration=3.0,
                           leader_renew_deadline=2.0, leader_retry_period=0.4,
                           node_agent_call_timeout=DEFAULT.node_agent_call_timeout,
                           replicaset_status_batch_period=DEFAULT.replicaset_status_batch_period,
                           consistent_read_mark_delay=DEFAULT.consistent_read_mark_delay)
PROFILES = {"default": DEFAULT, "fast": FAST}
ENV_PREFIX = "KEMU_TIMING_"


def load(profile: str = "default", overrides: Mapping[str, str] | None = None,
         environ: Mapping[str, str] | None = None) -> Timing:
    """The named profile, then ``KEMU_TIMING_*`` variables, then explicit overrides."""
    if profile not in PROFILES:
        raise ValueError(f"unknown timing profile {profile!r}; choose one of {', '.join(PROFILES)}")
    env = os.environ if environ is None else environ
    from_env = {k[len(ENV_PREFIX):].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)
                and k != ENV_PREFIX + "PROFILE"}
    return PROFILES[profile].with_overrides(from_env).with_overrides(overrides or {})
