"""Why a pod could not be scheduled, in kube-scheduler's exact words (v1.32).

``0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu.
preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption
victims found for incoming pod.``

Each node counts once per reason of the first filter that rejected it; the ``count reason``
strings are sorted as strings. The second sentence is what DefaultPreemption says when it finds
nothing to do: nodes that failed with UnschedulableAndUnresolvable (taints, affinity, cordons)
are "not helpful"; nodes that failed on resources or ports would need a lower-priority victim,
and kemu (like a cluster without priority classes) has none to offer.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.scheduler.framework import UNRESOLVABLE, UNSCHEDULABLE, PodContext, Status

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER_PREEMPTS = "not eligible due to preemptionPolicy=Never."


@dataclass
class Diagnosis:
    """Per-node verdicts of one failed attempt (kube-scheduler's NodeToStatus)."""

    num_all_nodes: int
    statuses: Mapping[str, Status]
    # The verdict for nodes without one of their own (PreFilter rejected them all, or they
    # were outside the nodes a PreFilter allowed).
    absent: Status | None = None
    prefilter_message: str = ""

    def absent_count(self) -> int:
        return max(0, self.num_all_nodes - len(self.statuses))


def fit_error(diagnosis: Diagnosis, post_filter_message: str = "") -> str:
    """framework.FitError.Error()."""
    message = f"0/{diagnosis.num_all_nodes} nodes are available:"
    if diagnosis.prefilter_message:
        message += f" {diagnosis.prefilter_message}."
    else:
        reasons: collections.Counter[str] = collections.Counter()
        for status in diagnosis.statuses.values():
            for reason in status.reasons:
                reasons[reason] += 1
        absent = diagnosis.absent_count()
        if absent and diagnosis.absent is not None:
            for reason in diagnosis.absent.reasons:
                reasons[reason] += absent
        histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
        if histogram:
            message += f" {', '.join(histogram)}."
    if post_filter_message:
        message += f" {post_filter_message}"
    return message


def preemption_message(ctx: PodContext, diagnosis: Diagnosis) -> str:
    """What DefaultPreemption's PostFilter reports when it preempts nothing."""
    if ctx.pod.spec.preemption_policy == "Never":
        return f"preemption: {NEVER_PREEMPTS}"
    candidates = [name for name, status in diagnosis.statuses.items()
                  if status.code == UNSCHEDULABLE]
    if diagnosis.absent is not None and diagnosis.absent.code == UNSCHEDULABLE:
        # Nodes sharing an Unschedulable PreFilter verdict could each be tried.
        candidates.extend(f"\x00absent{i}" for i in range(diagnosis.absent_count()))
    dry_run = {name: Status(UNRESOLVABLE, (NO_VICTIMS,)) for name in candidates}
    verdict = Diagnosis(diagnosis.num_all_nodes, dry_run,
                        absent=Status(UNRESOLVABLE, (NOT_HELPFUL,)))
    return f"preemption: {fit_error(verdict)}"


def failure_message(ctx: PodContext, diagnosis: Diagnosis) -> str:
    return fit_error(diagnosis, preemption_message(ctx, diagnosis))
