"""A Job's podFailurePolicy: what a failed pod means for the Job.

Rules are tried in order; the first that matches decides:

- ``FailJob``: the whole Job fails (reason ``PodFailurePolicy``) with Kubernetes' message,
  e.g. "Container main for pod default/x-abc failed with exit code 42 matching FailJob rule at
  index 0";
- ``Ignore``: the failure does not count toward backoffLimit (the pod is replaced);
- ``Count``: it counts, as without a policy;
- ``FailIndex``: the pod's index fails (only with backoffLimitPerIndex).

``onExitCodes`` looks at terminated containers (regular ones first, then init containers) that
exited non-zero, optionally only the named one; ``onPodConditions`` at the pod's conditions
(``DisruptionTarget`` when the pod was evicted or preempted, for example).
"""

from __future__ import annotations

from dataclasses import dataclass

from kemu.v1 import batch_pb2, core_pb2

FAIL_JOB = "FailJob"
IGNORE = "Ignore"
COUNT = "Count"
FAIL_INDEX = "FailIndex"


@dataclass(frozen=True)
class Match:
    """The outcome for one failed pod: a job failure message (FailJob), whether the failure
    counts toward the backoff limits, and the action of the rule that matched (if any)."""

    fail_job_message: str | None = None
    counts: bool = True
    action: str | None = None


NO_MATCH = Match()


def _exit_code_matches(code: int, requirement: batch_pb2.PodFailurePolicyOnExitCodesRequirement
                       ) -> bool:
    if requirement.operator == "In":
        return code in requirement.values
    if requirement.operator == "NotIn":
        return code not in requirement.values
    return False


def _matching_container(statuses: list[core_pb2.ContainerStatus],
                        requirement: batch_pb2.PodFailurePolicyOnExitCodesRequirement
                        ) -> core_pb2.ContainerStatus | None:
    for status in statuses:
        if not status.state.HasField("terminated"):
            continue
        if requirement.HasField("container_name") and \
                requirement.container_name != status.name:
            continue
        code = status.state.terminated.exit_code
        if code != 0 and _exit_code_matches(code, requirement):
            return status
    return None


def _matching_condition(pod: core_pb2.Pod, rule: batch_pb2.PodFailurePolicyRule
                        ) -> core_pb2.PodCondition | None:
    for condition in pod.status.conditions:
        for pattern in rule.on_pod_conditions:
            if condition.type == pattern.type and condition.status == (pattern.status or "True"):
                return condition
    return None


def match(policy: batch_pb2.PodFailurePolicy, pod: core_pb2.Pod, *,
          per_index: bool = False) -> Match:
    """Match a failed ``pod`` against the rules. ``per_index``: the Job has
    backoffLimitPerIndex (FailIndex rules apply only then)."""
    namespace, name = pod.metadata.namespace, pod.metadata.name
    for index, rule in enumerate(policy.rules):
        message = None
        if rule.HasField("on_exit_codes"):
            status = _matching_container(list(pod.status.container_statuses), rule.on_exit_codes)
            if status is None:
                status = _matching_container(list(pod.status.init_container_statuses),
                                             rule.on_exit_codes)
            if status is None:
                continue
            message = (f"Container {status.name} for pod {namespace}/{name} failed with exit "
                       f"code {status.state.terminated.exit_code} matching {rule.action} rule "
                       f"at index {index}")
        elif rule.on_pod_conditions:
            condition = _matching_condition(pod, rule)
            if condition is None:
                continue
            message = (f"Pod {namespace}/{name} has condition {condition.type} matching "
                       f"{rule.action} rule at index {index}")
        else:
            continue
        if rule.action == IGNORE:
            return Match(None, False, IGNORE)
        if rule.action == COUNT:
            return Match(None, True, COUNT)
        if rule.action == FAIL_JOB:
            return Match(message, True, FAIL_JOB)
        if rule.action == FAIL_INDEX and per_index:
            return Match(None, True, FAIL_INDEX)
    return NO_MATCH
