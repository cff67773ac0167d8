"""The ordering decisions of one StatefulSet sync, as a pure function of what the caches show.

Pods are split into *replicas* (ordinals in ``[start, start + replicas)``; missing ones are
planned at the revision they should have) and *condemned* ones (ordinals beyond). Then, in
four phases, each run only if the previous one did not stop:

1. replicas, in ordinal order: a Failed or Succeeded pod is deleted (it comes back under the
   same name once gone); a missing pod is created (never while a claim of its name is still
   owned by an earlier pod); a Pending pod gets any claim it lacks; a pod whose identity,
   volumes or claim ownership drifted is fixed.
   With ``OrderedReady`` the phase stops at the first pod it creates or deletes and at the
   first pod that is terminating, not Running and Ready, or not yet available
   (``minReadySeconds``): pod N+1 is created only when 0..N are available.
2. condemned pods' claims get the owners the retention policy asks for (``whenScaled``).
3. condemned pods are deleted, highest ordinal first. ``OrderedReady``: one at a time, each
   only once the previous one is gone and every other pod is healthy (the first unhealthy pod
   may itself be deleted). ``Parallel``: all at once.
4. ``RollingUpdate``: from the highest ordinal down to the partition, the first pod not at the
   update revision is deleted (the next sync re-creates it at the update revision); an unhealthy
   pod on the way stops the update. One pod at a time whatever the pod management policy
   (``maxUnavailable`` needs the MaxUnavailableStatefulSet feature, off by default in 1.32).
   ``OnDelete``: nothing; a pod is updated when someone deletes it.

A set being deleted gets its status and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controlplane.controllers.statefulset import retention
from controlplane.controllers.statefulset.identity import (
    ON_DELETE,
    allows_burst,
    end_ordinal,
    identity_matches,
    new_versioned_pod,
    ordinal_of,
    partition_of,
    replicas_of,
    revision_of,
    start_ordinal,
    storage_matches,
)
from controlplane.controllers.statefulset.status import (
    NOTHING_SEEN,
    ReadySeen,
    compute_status,
    is_created,
    is_finished,
    is_healthy,
    is_pending,
    is_running_and_available,
    is_running_and_ready,
    is_terminating,
)
from kemu.v1 import apps_pb2, core_pb2


class Step(enum.Enum):
    CREATE = "create"    # the pod's claims, then the pod
    DELETE = "delete"
    UPDATE = "update"    # an existing pod's identity, volumes and claim owners
    CLAIMS = "claims"    # missing claims created, claim owners set for the policy


@dataclass(frozen=True)
class Action:
    step: Step
    pod: core_pb2.Pod
    why: str


@dataclass(frozen=True)
class Versions:
    """The templates and names of the current and update revisions."""

    current: str
    current_template: core_pb2.PodTemplateSpec
    update: str
    update_template: core_pb2.PodTemplateSpec


@dataclass
class Plan:
    monotonic: bool
    status: apps_pb2.StatefulSetStatus
    # The phases, in order; a later phase is planned only if the earlier ones did not stop.
    phases: list[list[Action]] = field(default_factory=list)
    # Why the sync stopped short (empty when it went through every phase).
    waiting: str = ""

    def actions(self) -> list[Action]:
        return [a for phase in self.phases for a in phase]


Claims = Mapping[str, core_pb2.PersistentVolumeClaim]


def plan(sts: apps_pb2.StatefulSet, versions: Versions, pods: Iterable[core_pb2.Pod],
         claims: Claims, collision_count: int, min_ready: float, now: float,
         seen: ReadySeen = NOTHING_SEEN) -> Plan:
    """What one sync does, given the set, its claimed pods and the cached claims (``min_ready``
    already scaled; ``seen``: when the controller saw pods turn ready)."""
    start, end = start_ordinal(sts), end_ordinal(sts)
    replicas: list[core_pb2.Pod | None] = [None] * replicas_of(sts)
    condemned: list[core_pb2.Pod] = []
    for pod in pods:
        ordinal = ordinal_of(pod)
        if start <= ordinal <= end:
            replicas[ordinal - start] = pod
        elif ordinal >= 0:
            condemned.append(pod)
    existing = [p for p in replicas if p is not None] + condemned
    status = compute_status(sts, existing, versions.current, versions.update, collision_count,
                            min_ready, now, seen)
    members = [p if p is not None else new_versioned_pod(
        sts, versions.current_template, versions.update_template, versions.current,
        versions.update, start + i) for i, p in enumerate(replicas)]
    condemned.sort(key=ordinal_of, reverse=True)
    result = Plan(not allows_burst(sts), status)
    if sts.metadata.deletion_timestamp:
        result.waiting = "the StatefulSet is being deleted"
        return result
    first_unhealthy = next((p for p in members if not is_healthy(p)), None) or \
        next((p for p in reversed(condemned) if not is_healthy(p)), None)
    if not _replicas(result, sts, members, claims, min_ready, now, seen):
        return result
    result.phases.append([Action(Step.CLAIMS, p, "scale down") for p in condemned
                          if not retention.claims_match_policy(sts, p, claims)])
    if not _condemned(result, condemned, first_unhealthy, min_ready, now, seen):
        return result
    if (sts.spec.update_strategy.type or "RollingUpdate") != ON_DELETE:
        _rolling_update(result, sts, members, versions.update)
    return result


def _replicas(result: Plan, sts: apps_pb2.StatefulSet, members: list[core_pb2.Pod],
              claims: Claims, min_ready: float, now: float, seen: ReadySeen) -> bool:
    """Phase 1; False when an OrderedReady set must stop here."""
    actions: list[Action] = []
    result.phases.append(actions)
    monotonic = result.monotonic
    for pod in members:
        name = pod.metadata.name
        if is_finished(pod):
            if not is_terminating(pod):
                actions.append(Action(Step.DELETE, pod, f"pod {pod.status.phase}"))
            if monotonic:
                return _stop(result, f"{name} to be deleted and re-created")
            continue
        if not is_created(pod):
            if retention.claim_is_stale(sts, pod, claims):
                if monotonic:
                    return _stop(result, f"the stale claims of {name} to be deleted")
                continue
            actions.append(Action(Step.CREATE, pod, "missing"))
            if monotonic:
                return _stop(result, f"{name} to be Running and Ready")
            continue
        if is_pending(pod) and (retention.missing_claims(sts, pod, claims) or
                                not retention.claims_match_policy(sts, pod, claims)):
            actions.append(Action(Step.CLAIMS, pod, "pending"))
        if monotonic:
            if is_terminating(pod):
                return _stop(result, f"{name} to terminate")
            if not is_running_and_ready(pod):
                return _stop(result, f"{name} to be Running and Ready")
            if not is_running_and_available(pod, min_ready, now, seen):
                return _stop(result, f"{name} to be available")
        if identity_matches(sts, pod) and storage_matches(sts, pod) and \
                retention.claims_match_policy(sts, pod, claims):
            continue
        actions.append(Action(Step.UPDATE, pod, "identity"))
    return True


def _condemned(result: Plan, condemned: list[core_pb2.Pod],
               first_unhealthy: core_pb2.Pod | None, min_ready: float, now: float,
               seen: ReadySeen) -> bool:
    """Phase 3, highest ordinal first; False when an OrderedReady set must stop here."""
    actions: list[Action] = []
    result.phases.append(actions)
    for pod in condemned:
        name = pod.metadata.name
        if is_terminating(pod):
            if result.monotonic:
                return _stop(result, f"{name} to terminate before scaling down")
            continue
        if result.monotonic and pod is not first_unhealthy:
            if not is_running_and_ready(pod):
                waited = first_unhealthy.metadata.name if first_unhealthy is not None else name
                return _stop(result, f"{waited} to be Running and Ready before scaling down")
            if not is_running_and_available(pod, min_ready, now, seen):
                return _stop(result, f"{name} to be available before scaling down")
        actions.append(Action(Step.DELETE, pod, "scale down"))
        if result.monotonic:
            return _stop(result, f"{name} to terminate before scaling down")
    return True


def _rolling_update(result: Plan, sts: apps_pb2.StatefulSet, members: list[core_pb2.Pod],
                    update_revision: str) -> None:
    """Phase 4: at most one pod, the highest not yet at the update revision."""
    actions: list[Action] = []
    result.phases.append(actions)
    partition = partition_of(sts) or 0
    if all(revision_of(p) == update_revision for p in members[partition:]):
        return
    for index in range(len(members) - 1, partition - 1, -1):
        pod = members[index]
        if revision_of(pod) != update_revision and not is_terminating(pod):
            actions.append(Action(Step.DELETE, pod, "update"))
            result.status.current_replicas = max(result.status.current_replicas - 1, 0)
            _stop(result, f"{pod.metadata.name} to be re-created at {update_revision}")
            return
        if not is_healthy(pod):
            _stop(result, f"{pod.metadata.name} to be Running and Ready for the update")
            return


def _stop(result: Plan, waiting: str) -> bool:
    result.waiting = f"waiting for {waiting}"
    return False
