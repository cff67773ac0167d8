"""A Job's pods: how they are made, and what the controller asks about them.

Every pod gets the tracking finalizer ``batch.kubernetes.io/job-tracking``: it keeps a finished
pod from disappearing before the Job has counted it, and is removed once it is counted. An
Indexed Job's pod also carries its completion index (annotation and label
``batch.kubernetes.io/job-completion-index``, the ``JOB_COMPLETION_INDEX`` environment variable
in every container), is named ``<job>-<index>-<random>`` and has the hostname
``<job>-<index>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controlplane.controllers.activepods import deletion_order
from controlplane.controllers.job.indexes import COMPLETION_INDEX, UNKNOWN_INDEX, completion_index
from controlplane.controllers.podcontrol import pod_from_template
from kemu.api.meta import parse_time
from kemu.api.pods import FAILED, SUCCEEDED, condition, is_ready
from kemu.client.interface import clone
from kemu.v1 import batch_pb2, core_pb2

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
# Kubernetes' generated names keep 5 characters for the random suffix of a 63-character name.
MAX_GENERATE_NAME = 58


def has_tracking_finalizer(pod: core_pb2.Pod) -> bool:
    return TRACKING_FINALIZER in pod.metadata.finalizers


def is_indexed(job: batch_pb2.Job) -> bool:
    return job.spec.HasField("completion_mode") and job.spec.completion_mode == "Indexed"


def only_replace_failed(job: batch_pb2.Job) -> bool:
    """podReplacementPolicy Failed (the default with a podFailurePolicy): a terminating pod is
    replaced only once it has failed."""
    return (job.spec.HasField("pod_replacement_policy") and
            job.spec.pod_replacement_policy == "Failed") or job.spec.HasField("pod_failure_policy")


def is_failed(pod: core_pb2.Pod, job: batch_pb2.Job) -> bool:
    """Failed, or (unless only failed pods are replaced) deleted before it succeeded: orphans
    removed by pod GC never reach the Failed phase."""
    if pod.status.phase == FAILED:
        return True
    if only_replace_failed(job):
        return False
    return bool(pod.metadata.deletion_timestamp) and pod.status.phase != SUCCEEDED


def is_active(pod: core_pb2.Pod) -> bool:
    return pod.status.phase not in (SUCCEEDED, FAILED) and not pod.metadata.deletion_timestamp


def is_terminating(pod: core_pb2.Pod) -> bool:
    return bool(pod.metadata.deletion_timestamp) and pod.status.phase not in (SUCCEEDED, FAILED)


def index_of(pod: core_pb2.Pod) -> int:
    return completion_index(pod.metadata.annotations)


def valid_index(pod: core_pb2.Pod, completions: int) -> bool:
    index = index_of(pod)
    return index != UNKNOWN_INDEX and index < completions


def count_ready(pods: Sequence[core_pb2.Pod]) -> int:
    return sum(1 for p in pods if is_ready(p))


def finished_time(pod: core_pb2.Pod) -> float:
    """When the pod finished: the last container's finishedAt, else its Ready=False transition,
    else its deletion time less the grace period, else its creation time."""
    latest = 0.0
    statuses = pod.status.container_statuses
    if statuses and all(s.state.HasField("terminated") and s.state.terminated.finished_at
                        for s in statuses):
        latest = max(parse_time(s.state.terminated.finished_at) for s in statuses)
    if latest:
        return latest
    ready = condition(pod, "Ready")
    if ready is not None and ready.status == "False" and ready.last_transition_time:
        return parse_time(ready.last_transition_time)
    if pod.metadata.deletion_timestamp:
        return parse_time(pod.metadata.deletion_timestamp) - \
            pod.metadata.deletion_grace_period_seconds
    return parse_time(pod.metadata.creation_timestamp)


def restarts_of_unfinished(pods: Sequence[core_pb2.Pod]) -> int:
    """Container restarts (init containers included) of the pods still Pending or Running."""
    total = 0
    for pod in pods:
        if pod.status.phase in ("Pending", "Running"):
            total += sum(s.restart_count for s in pod.status.init_container_statuses)
            total += sum(s.restart_count for s in pod.status.container_statuses)
    return total


def generate_name(job_name: str, index: int) -> str:
    """``<job>-<index>-``, the job name cut so the prefix fits a generated name."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATE_NAME:
        prefix = prefix[:MAX_GENERATE_NAME - len(suffix)] + suffix
    return prefix


def _add_index_env(container: core_pb2.Container) -> None:
    if any(env.name == COMPLETION_INDEX_ENV for env in container.env):
        return
    env = container.env.add(name=COMPLETION_INDEX_ENV)
    env.value_from.field_ref.field_path = f"metadata.labels['{COMPLETION_INDEX}']"


def pod_template(job: batch_pb2.Job) -> core_pb2.PodTemplateSpec:
    """The job's template with the tracking finalizer (and, Indexed, the index variable)."""
    template = clone(job.spec.template)
    if is_indexed(job):
        for container in template.spec.init_containers:
            _add_index_env(container)
        for container in template.spec.containers:
            _add_index_env(container)
    if TRACKING_FINALIZER not in template.metadata.finalizers:
        template.metadata.finalizers.append(TRACKING_FINALIZER)
    return template


def new_pod(job: batch_pb2.Job, template: core_pb2.PodTemplateSpec,
            index: int = UNKNOWN_INDEX) -> core_pb2.Pod:
    """A pod for ``job`` from ``pod_template(job)``; with an index, the Indexed Job's pod."""
    if index == UNKNOWN_INDEX:
        return pod_from_template(template, job)
    pod = pod_from_template(template, job, generate_name(job.metadata.name, index))
    pod.metadata.annotations[COMPLETION_INDEX] = str(index)
    pod.metadata.labels[COMPLETION_INDEX] = str(index)
    pod.spec.hostname = f"{job.metadata.name}-{index}"
    return pod


def removal_order(pods: Sequence[core_pb2.Pod]) -> list[core_pb2.Pod]:
    """Pods in the order they should go: unscheduled, pending, not ready ... first
    (Kubernetes' ActivePods ordering)."""
    return deletion_order(pods, (), 0.0)


def _duplicated_index_pods(pods: Sequence[core_pb2.Pod], completions: int
                           ) -> tuple[list[core_pb2.Pod], list[core_pb2.Pod]]:
    """(to remove, kept): pods without a valid index, and all but the best pod of an index."""
    remove: list[core_pb2.Pod] = []
    by_index: dict[int, list[core_pb2.Pod]] = {}
    for pod in pods:
        index = index_of(pod)
        if index == UNKNOWN_INDEX or index >= completions:
            remove.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    kept: list[core_pb2.Pod] = []
    for index in sorted(by_index):
        group = by_index[index]
        if len(group) > 1:
            group = removal_order(group)
            remove.extend(group[:-1])
        kept.append(group[-1])
    return remove, kept


def active_pods_for_removal(job: batch_pb2.Job, active: Sequence[core_pb2.Pod],
                            at_least: int) -> list[core_pb2.Pod]:
    """The active pods to delete: an Indexed Job's repeated and out-of-range indexes, then as
    many more as needed to remove ``at_least`` pods."""
    remove: list[core_pb2.Pod] = []
    left: list[core_pb2.Pod] = list(active)
    if is_indexed(job):
        remove, left = _duplicated_index_pods(active, job.spec.completions)
    if len(remove) < at_least:
        remove.extend(removal_order(left)[:at_least - len(remove)])
    return remove


def remove_finalizer_patch(pod: Any) -> list[dict[str, Any]] | None:
    """A JSON patch removing the tracking finalizer, tested in place so that a concurrent change
    of the finalizers fails it rather than removing the wrong one; None if it is not there."""
    finalizers = list(pod.metadata.finalizers)
    if TRACKING_FINALIZER not in finalizers:
        return None
    position = finalizers.index(TRACKING_FINALIZER)
    path = f"/metadata/finalizers/{position}"
    return [{"op": "test", "path": path, "value": TRACKING_FINALIZER},
            {"op": "remove", "path": path}]
