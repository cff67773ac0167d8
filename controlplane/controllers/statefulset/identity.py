"""A StatefulSet pod's identity: its name and ordinal, its labels, its hostname, its claims.

Pod ``<set>-<ordinal>`` (ordinals from ``spec.ordinals.start``) carries the labels
``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``, has
``spec.hostname`` = its name and ``spec.subdomain`` = ``spec.serviceName``, and mounts, in place
of any pod volume of the same name, the claim ``<template>-<set>-<ordinal>`` made from each of
``spec.volumeClaimTemplates``. Everything here is a pure function of the objects it is given.
"""

from __future__ import annotations

import re

from controlplane.controllers.podcontrol import pod_from_template
from kemu.v1 import apps_pb2, core_pb2

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"

_MEMBER = re.compile(r"(.*)-([0-9]+)$")
_INT32_MAX = 2**31 - 1


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``("quiz", 2)`` for ``quiz-2``; the ordinal is -1 when the name has none."""
    found = _MEMBER.fullmatch(name)
    if found is None:
        return "", -1
    digits = found.group(2)
    ordinal = int(digits)
    return found.group(1), ordinal if ordinal <= _INT32_MAX else -1


def ordinal_of(pod: core_pb2.Pod) -> int:
    return parent_and_ordinal(pod.metadata.name)[1]


def is_member(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> bool:
    """Named like one of the set's pods (whatever its ordinal)."""
    return parent_and_ordinal(pod.metadata.name)[0] == sts.metadata.name


def replicas_of(sts: apps_pb2.StatefulSet) -> int:
    return int(sts.spec.replicas) if sts.spec.HasField("replicas") else 1


def start_ordinal(sts: apps_pb2.StatefulSet) -> int:
    return int(sts.spec.ordinals.start) if sts.spec.HasField("ordinals") else 0


def end_ordinal(sts: apps_pb2.StatefulSet) -> int:
    """The last ordinal the set should have (inclusive); below the start when scaled to 0."""
    return start_ordinal(sts) + replicas_of(sts) - 1


def in_range(sts: apps_pb2.StatefulSet, ordinal: int) -> bool:
    return start_ordinal(sts) <= ordinal <= end_ordinal(sts)


def allows_burst(sts: apps_pb2.StatefulSet) -> bool:
    """``podManagementPolicy: Parallel``: create and delete without waiting for each other."""
    return sts.spec.pod_management_policy == PARALLEL


def pod_name(sts: apps_pb2.StatefulSet, ordinal: int) -> str:
    return f"{sts.metadata.name}-{ordinal}"


def claim_name(sts: apps_pb2.StatefulSet, template: apps_pb2.PersistentVolumeClaimTemplate,
               ordinal: int) -> str:
    return f"{template.metadata.name}-{sts.metadata.name}-{ordinal}"


def revision_of(pod: core_pb2.Pod) -> str:
    return pod.metadata.labels.get(REVISION_LABEL, "")


def identity_matches(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> bool:
    parent, ordinal = parent_and_ordinal(pod.metadata.name)
    return (ordinal >= 0 and parent == sts.metadata.name
            and pod.metadata.namespace == sts.metadata.namespace
            and pod.metadata.labels.get(POD_NAME_LABEL) == pod.metadata.name)


def storage_matches(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> bool:
    """Every claim template is mounted as the pod's own claim, under the template's name."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.name: v for v in pod.spec.volumes}
    for template in sts.spec.volume_claim_templates:
        volume = volumes.get(template.metadata.name)
        if volume is None or not volume.HasField("persistent_volume_claim") or \
                volume.persistent_volume_claim.claim_name != claim_name(sts, template, ordinal):
            return False
    return True


def claims_for(sts: apps_pb2.StatefulSet, ordinal: int
               ) -> dict[str, core_pb2.PersistentVolumeClaim]:
    """The claims the pod with ``ordinal`` uses, by template name, as they would be created:
    the template's labels plus the selector's matchLabels, its annotations and spec."""
    claims: dict[str, core_pb2.PersistentVolumeClaim] = {}
    for template in sts.spec.volume_claim_templates:
        claim = core_pb2.PersistentVolumeClaim()
        claim.metadata.CopyFrom(template.metadata)
        claim.metadata.name = claim_name(sts, template, ordinal)
        claim.metadata.namespace = sts.metadata.namespace
        claim.metadata.labels.update(sts.spec.selector.match_labels)
        claim.spec.CopyFrom(template.spec)
        claims[template.metadata.name] = claim
    return claims


def update_storage(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> None:
    """Mount the pod's claims, replacing any volume of the same name (the manifest's
    placeholder ``persistentVolumeClaim: {claimName: db-data}``); other volumes stay."""
    claims = claims_for(sts, ordinal_of(pod))
    kept = [v for v in pod.spec.volumes if v.name not in claims]
    del pod.spec.volumes[:]
    for name, claim in claims.items():
        volume = pod.spec.volumes.add(name=name)
        volume.persistent_volume_claim.claim_name = claim.metadata.name
    pod.spec.volumes.extend(kept)


def update_identity(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> None:
    """The name, namespace and identity labels the pod's ordinal gives it."""
    ordinal = ordinal_of(pod)
    pod.metadata.name = pod_name(sts, ordinal)
    pod.metadata.namespace = sts.metadata.namespace
    pod.metadata.labels[POD_NAME_LABEL] = pod.metadata.name
    pod.metadata.labels[POD_INDEX_LABEL] = str(ordinal)


def new_pod(sts: apps_pb2.StatefulSet, template: core_pb2.PodTemplateSpec,
            ordinal: int) -> core_pb2.Pod:
    """The pod with ``ordinal`` made from ``template``, controlled by the set."""
    pod = pod_from_template(template, sts)
    pod.metadata.name = pod_name(sts, ordinal)
    update_identity(sts, pod)
    # Set only when the pod is created: they are immutable.
    pod.spec.hostname = pod.metadata.name
    pod.spec.subdomain = sts.spec.service_name
    update_storage(sts, pod)
    return pod


def partition_of(sts: apps_pb2.StatefulSet) -> int | None:
    """The RollingUpdate partition; None without ``rollingUpdate`` (OnDelete, or undefaulted)."""
    strategy = sts.spec.update_strategy
    if not strategy.HasField("rolling_update"):
        return None
    rolling = strategy.rolling_update
    return int(rolling.partition) if rolling.HasField("partition") else 0


def new_versioned_pod(sts: apps_pb2.StatefulSet, current: core_pb2.PodTemplateSpec,
                      update: core_pb2.PodTemplateSpec, current_revision: str,
                      update_revision: str, ordinal: int) -> core_pb2.Pod:
    """A missing pod at the revision it should have: below the partition (or, without a
    partition, below the current replicas) the current one, else the update revision."""
    start = start_ordinal(sts)
    partition = partition_of(sts)
    rolling = (sts.spec.update_strategy.type or ROLLING_UPDATE) == ROLLING_UPDATE
    if (rolling and partition is None and ordinal < start + sts.status.current_replicas) or \
            (partition is not None and ordinal < start + partition):
        pod = new_pod(sts, current, ordinal)
        pod.metadata.labels[REVISION_LABEL] = current_revision
        return pod
    pod = new_pod(sts, update, ordinal)
    pod.metadata.labels[REVISION_LABEL] = update_revision
    return pod
