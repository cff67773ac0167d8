"""Creating and deleting pods on behalf of an owner (ReplicaSet, DaemonSet, ...), with the
events Kubernetes' controllers write: SuccessfulCreate, FailedCreate, SuccessfulDelete,
FailedDelete."""

from __future__ import annotations

from typing import Any

from controlplane.controllers.events import NORMAL, WARNING, EventRecorder
from kemu.api import kinds
from kemu.api.errors import ApiError
from kemu.client.interface import ApiClient
from kemu.v1 import core_pb2, meta_pb2


def controller_ref(owner: Any) -> meta_pb2.OwnerReference:
    kind = kinds.of(owner)
    return meta_pb2.OwnerReference(api_version=kind.api_version, kind=kind.name,
                                   name=owner.metadata.name, uid=owner.metadata.uid,
                                   controller=True, block_owner_deletion=True)


def pod_from_template(template: core_pb2.PodTemplateSpec, owner: Any,
                      generate_name: str | None = None) -> core_pb2.Pod:
    """A new pod from ``template``, controlled by ``owner``, named ``<owner>-<random>``."""
    pod = core_pb2.Pod()
    pod.metadata.namespace = owner.metadata.namespace
    pod.metadata.generate_name = generate_name if generate_name is not None \
        else f"{owner.metadata.name}-"
    pod.metadata.labels.update(template.metadata.labels)
    pod.metadata.annotations.update(template.metadata.annotations)
    pod.metadata.finalizers.extend(template.metadata.finalizers)
    pod.metadata.owner_references.append(controller_ref(owner))
    pod.spec.CopyFrom(template.spec)
    return pod


class PodControl:
    def __init__(self, client: ApiClient, recorder: EventRecorder):
        self.client = client
        self.recorder = recorder

    async def create(self, pod: core_pb2.Pod, owner: Any) -> core_pb2.Pod:
        try:
            created = await self.client.create(pod)
        except ApiError as exc:
            self.recorder.event(owner, WARNING, "FailedCreate", f"Error creating: {exc}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulCreate",
                            f"Created pod: {created.metadata.name}")
        return created

    async def delete(self, pod: core_pb2.Pod, owner: Any) -> bool:
        """Delete ``pod``; False when it was already gone."""
        try:
            await self.client.delete(core_pb2.Pod, pod.metadata.name, pod.metadata.namespace,
                                     precondition_uid=pod.metadata.uid)
        except ApiError as exc:
            if exc.code == exc.code.NOT_FOUND:
                return False
            self.recorder.event(owner, WARNING, "FailedDelete",
                                f"Error deleting pod {pod.metadata.name}: {exc}")
            raise
        self.recorder.event(owner, NORMAL, "SuccessfulDelete",
                            f"Deleted pod: {pod.metadata.name}")
        return True
