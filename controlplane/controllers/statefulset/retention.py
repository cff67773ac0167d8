"""Who owns a StatefulSet's claims: ``persistentVolumeClaimRetentionPolicy`` as owner references.

The garbage collector deletes a claim when its owner goes, so the policy is written as
controller references on each claim (as Kubernetes does):

================  ===============  ==========================================================
``whenScaled``    ``whenDeleted``  owner references of the claim
================  ===============  ==========================================================
Retain            Retain           none: claims outlive pods and set
Retain            Delete           the set
Delete            Retain           the pod, once the pod is scaled away (out of range)
Delete            Delete           the set while the pod is in range; the pod once scaled away
================  ===============  ==========================================================

A claim that another controller owns, or that names a set or pod by name with another UID (a
previous incarnation), is left alone: only our own references are ever added or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controlplane.controllers.history import controller_reference
from controlplane.controllers.statefulset.identity import claims_for, in_range, ordinal_of
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2, meta_pb2

RETAIN = "Retain"
DELETE = "Delete"
_SET = ("apps/v1", "StatefulSet")
_POD = ("v1", "Pod")


def policy_of(sts: apps_pb2.StatefulSet) -> tuple[str, str]:
    """``(whenScaled, whenDeleted)``, Retain where unset."""
    policy = sts.spec.persistent_volume_claim_retention_policy
    return policy.when_scaled or RETAIN, policy.when_deleted or RETAIN


def _matches(ref: meta_pb2.OwnerReference, kind: tuple[str, str], name: str) -> bool:
    return (ref.api_version, ref.kind) == kind and ref.name == name


def has_owner_ref(claim: core_pb2.PersistentVolumeClaim, uid: str) -> bool:
    return any(ref.uid == uid for ref in claim.metadata.owner_references)


def has_stale_owner_ref(claim: core_pb2.PersistentVolumeClaim, kind: tuple[str, str],
                        name: str, uid: str) -> bool:
    """The claim names this object by kind and name, with another UID."""
    for ref in claim.metadata.owner_references:
        if _matches(ref, kind, name):
            return ref.uid != uid
    return False


def has_unexpected_controller(claim: core_pb2.PersistentVolumeClaim,
                              sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> bool:
    """Under a Delete policy, the claim is controlled by something other than this set and
    pod (a stale incarnation of them counts as something else)."""
    if policy_of(sts) == (RETAIN, RETAIN):
        return False
    for ref in claim.metadata.owner_references:
        if _matches(ref, _SET, sts.metadata.name):
            if ref.uid != sts.metadata.uid:
                return True
            continue
        if _matches(ref, _POD, pod.metadata.name):
            if ref.uid != pod.metadata.uid:
                return True
            continue
        if ref.controller:
            return True
    return False


def _has_non_controller_owner(claim: core_pb2.PersistentVolumeClaim, sts: apps_pb2.StatefulSet,
                              pod: core_pb2.Pod) -> bool:
    return any(ref.uid in (sts.metadata.uid, pod.metadata.uid) and not ref.controller
               for ref in claim.metadata.owner_references)


def claim_owner_up_to_date(claim: core_pb2.PersistentVolumeClaim, sts: apps_pb2.StatefulSet,
                           pod: core_pb2.Pod) -> bool:
    """The claim's references already say what the policy asks (or must not be touched)."""
    if has_stale_owner_ref(claim, _SET, sts.metadata.name, sts.metadata.uid) or \
            has_stale_owner_ref(claim, _POD, pod.metadata.name, pod.metadata.uid):
        return True
    if has_unexpected_controller(claim, sts, pod):
        return not (has_owner_ref(claim, sts.metadata.uid) or
                    has_owner_ref(claim, pod.metadata.uid))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    want_set, want_pod = wanted_owners(sts, pod)
    return (has_owner_ref(claim, sts.metadata.uid) == want_set and
            has_owner_ref(claim, pod.metadata.uid) == want_pod)


def wanted_owners(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> tuple[bool, bool]:
    """Whether the policy wants the set, and the pod, as the claim's controller."""
    when_scaled, when_deleted = policy_of(sts)
    scaled_down = not in_range(sts, ordinal_of(pod))
    if when_scaled == DELETE and when_deleted == DELETE:
        return not scaled_down, scaled_down
    if when_scaled == DELETE:
        return False, scaled_down
    return when_deleted == DELETE, False


def updated_owner_refs(claim: core_pb2.PersistentVolumeClaim, sts: apps_pb2.StatefulSet,
                       pod: core_pb2.Pod) -> list[meta_pb2.OwnerReference]:
    """The claim's references rewritten for the policy: ours scrubbed, then the wanted ones
    added (none at all while another controller owns the claim)."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [clone(r) for r in claim.metadata.owner_references
            if not (_matches(r, _SET, sts.metadata.name) or _matches(r, _POD, pod.metadata.name))]
    if unexpected:
        return refs
    want_set, want_pod = wanted_owners(sts, pod)
    if want_pod and pod.metadata.uid:
        refs.append(controller_reference(pod))
    if want_set:
        refs.append(controller_reference(sts))
    return refs


def claims_match_policy(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                        claims: Mapping[str, core_pb2.PersistentVolumeClaim]) -> bool:
    """Every existing claim of the pod is owned as the policy says (missing ones are for a
    later sync to create)."""
    for wanted in claims_for(sts, ordinal_of(pod)).values():
        claim = claims.get(wanted.metadata.name)
        if claim is not None and not claim_owner_up_to_date(claim, sts, pod):
            return False
    return True


def claim_is_stale(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                   claims: Mapping[str, core_pb2.PersistentVolumeClaim]) -> bool:
    """Under ``whenScaled: Delete``, a claim still owned by an earlier pod of this name (the
    garbage collector is about to delete it): the pod must wait rather than mount it."""
    if policy_of(sts)[0] == RETAIN:
        return False
    for wanted in claims_for(sts, ordinal_of(pod)).values():
        claim = claims.get(wanted.metadata.name)
        if claim is not None and has_stale_owner_ref(claim, _POD, pod.metadata.name,
                                                     pod.metadata.uid):
            return True
    return False


def missing_claims(sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                   claims: Mapping[str, core_pb2.PersistentVolumeClaim]) -> list[str]:
    return [c.metadata.name for c in claims_for(sts, ordinal_of(pod)).values()
            if c.metadata.name not in claims]


def owner_refs_equal(a: Iterable[meta_pb2.OwnerReference],
                     b: Iterable[meta_pb2.OwnerReference]) -> bool:
    return [r.SerializeToString(deterministic=True) for r in a] == \
        [r.SerializeToString(deterministic=True) for r in b]
