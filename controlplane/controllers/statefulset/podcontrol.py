"""Creating, updating and deleting a StatefulSet's pods and claims through the API, with the
events Kubernetes' StatefulSet controller writes on the set:

- ``SuccessfulCreate`` "create Claim data-quiz-0 Pod quiz-0 in StatefulSet quiz success",
  "create Pod quiz-0 in StatefulSet quiz successful";
- ``SuccessfulDelete`` "delete Pod quiz-2 in StatefulSet quiz successful";
- ``SuccessfulUpdate`` "update Pod quiz-1 in StatefulSet quiz successful";
- ``FailedCreate``/``FailedDelete``/``FailedUpdate`` "... failed error: <why>";
- ``ConflictingController`` when another controller owns a claim the policy would own.

Claims come first: a pod is created only once every claim it mounts exists and none of them is
being deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from controlplane.controllers.events import NORMAL, WARNING, EventRecorder
from controlplane.controllers.statefulset import identity, retention
from kemu.api.errors import ApiError, Code
from kemu.client.interface import ApiClient, clone
from kemu.v1 import apps_pb2, core_pb2

log = logging.getLogger(__name__)

Claims = Mapping[str, core_pb2.PersistentVolumeClaim]
_UPDATE_RETRIES = 5


class ClaimError(Exception):
    """A claim the pod needs could not be made ready for it."""


class StatefulPodControl:
    def __init__(self, client: ApiClient, recorder: EventRecorder):
        self.client = client
        self.recorder = recorder

    # -- events -------------------------------------------------------------------------
    def _pod_event(self, verb: str, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                   error: Exception | None) -> None:
        name, owner = pod.metadata.name, sts.metadata.name
        if error is None:
            self.recorder.event(sts, NORMAL, f"Successful{verb.title()}",
                                f"{verb} Pod {name} in StatefulSet {owner} successful")
        else:
            self.recorder.event(sts, WARNING, f"Failed{verb.title()}",
                                f"{verb} Pod {name} in StatefulSet {owner} failed error: {error}")

    def _claim_event(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod, claim: str,
                     error: Exception | None) -> None:
        pod_name, owner = pod.metadata.name, sts.metadata.name
        if error is None:
            self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                f"create Claim {claim} Pod {pod_name} in StatefulSet {owner} "
                                "success")
        else:
            self.recorder.event(sts, WARNING, "FailedCreate",
                                f"create Claim {claim} for Pod {pod_name} in StatefulSet {owner} "
                                f"failed error: {error}")

    # -- pods ---------------------------------------------------------------------------
    async def create(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                     claims: Claims) -> core_pb2.Pod:
        """The pod's claims, then the pod, then the claims' owners for the retention policy."""
        try:
            await self.create_claims(sts, pod, claims)
        except (ApiError, ClaimError) as exc:
            self._pod_event("create", sts, pod, exc)
            raise
        try:
            created = await self.client.create(pod)
        except ApiError as exc:
            if exc.code != Code.ALREADY_EXISTS:
                self._pod_event("create", sts, pod, exc)
            raise
        try:
            await self.set_claim_owners(sts, created, claims)
        except ApiError as exc:
            self._pod_event("update", sts, created, exc)
            raise
        self._pod_event("create", sts, created, None)
        return created

    async def delete(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod) -> None:
        try:
            await self.client.delete(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                     precondition_uid=pod.metadata.uid)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return
            self._pod_event("delete", sts, pod, exc)
            raise
        self._pod_event("delete", sts, pod, None)

    async def update(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod, claims: Claims) -> None:
        """Give an existing pod back its identity labels, volumes and claim owners."""
        current = pod
        for _ in range(_UPDATE_RETRIES):
            changed = clone(current)
            if not identity.identity_matches(sts, changed):
                identity.update_identity(sts, changed)
            try:
                if not identity.storage_matches(sts, changed):
                    identity.update_storage(sts, changed)
                    await self.create_claims(sts, changed, claims)
                if not retention.claims_match_policy(sts, changed, claims):
                    await self.set_claim_owners(sts, changed, claims)
            except (ApiError, ClaimError) as exc:
                self._pod_event("update", sts, pod, exc)
                raise
            if changed == current:
                return
            try:
                await self.client.update(changed)
            except ApiError as exc:
                if exc.code != Code.ABORTED:
                    self._pod_event("update", sts, pod, exc)
                    raise
                current = await self.client.get(core_pb2.Pod, pod.metadata.name,
                                                pod.metadata.namespace)
                continue
            self._pod_event("update", sts, pod, None)
            return

    # -- claims -------------------------------------------------------------------------
    async def create_claims(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                            claims: Claims) -> None:
        """Create each claim of the pod that does not exist; one being deleted is an error."""
        problems: list[str] = []
        for wanted in identity.claims_for(sts, identity.ordinal_of(pod)).values():
            name = wanted.metadata.name
            existing = claims.get(name)
            if existing is not None:
                if existing.metadata.deletion_timestamp:
                    problems.append(f"pvc {name} is being deleted")
                continue
            try:
                await self.client.create(wanted)
            except ApiError as exc:
                problems.append(f"failed to create PVC {name}: {exc}")
                if exc.code != Code.ALREADY_EXISTS:
                    self._claim_event(sts, pod, name, exc)
                continue
            self._claim_event(sts, pod, name, None)
        if problems:
            raise ClaimError("; ".join(problems))

    async def create_missing_claims(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                                    claims: Claims) -> None:
        """For a Pending pod: its missing claims, then their owners."""
        await self.create_claims(sts, pod, claims)
        try:
            await self.set_claim_owners(sts, pod, claims)
        except ApiError as exc:
            self._pod_event("update", sts, pod, exc)
            raise

    async def set_claim_owners(self, sts: apps_pb2.StatefulSet, pod: core_pb2.Pod,
                               claims: Claims) -> None:
        """Rewrite the owner references of the pod's existing claims for the retention policy
        (claims only created this sync are read back from the API)."""
        for wanted in identity.claims_for(sts, identity.ordinal_of(pod)).values():
            claim = claims.get(wanted.metadata.name)
            if claim is None:
                claim = await self._get_claim(wanted)
                if claim is None:
                    continue
            if retention.has_unexpected_controller(claim, sts, pod):
                # Kubernetes' wording, typo included.
                self.recorder.event(
                    sts, WARNING, "ConflictingController",
                    f"PersistentVolumeClaim {claim.metadata.name} has a conflicting "
                    "OwnerReference that acts as a manging controller, the retention policy is "
                    "ignored for this claim")
            if retention.claim_owner_up_to_date(claim, sts, pod):
                continue
            changed = clone(claim)
            del changed.metadata.owner_references[:]
            changed.metadata.owner_references.extend(
                retention.updated_owner_refs(claim, sts, pod))
            try:
                await self.client.update(changed)
            except ApiError as exc:
                raise ApiError(exc.code, exc.reason,
                               f"could not update claim {claim.metadata.name} for delete policy "
                               f"ownerRefs: {exc.message}") from exc
            log.debug("claim %s/%s owners set for pod %s", claim.metadata.namespace,
                      claim.metadata.name, pod.metadata.name)

    async def _get_claim(self, wanted: core_pb2.PersistentVolumeClaim
                         ) -> core_pb2.PersistentVolumeClaim | None:
        try:
            return await self.client.get(core_pb2.PersistentVolumeClaim, wanted.metadata.name,
                                         wanted.metadata.namespace)
        except ApiError as exc:
            if exc.code == Code.NOT_FOUND:
                return None
            raise
