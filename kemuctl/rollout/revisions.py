"""The ControllerRevisions a DaemonSet or StatefulSet owns, and the pod template each holds
(``data`` is a patch ``{"spec": {"template": {..., "$patch": "replace"}}}``)."""

from __future__ import annotations

import json
from typing import Any

from kemu.api import codec, labels
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, core_pb2
from kemuctl.rollout.deployments import owned_by


async def revisions_of(client: GrpcClient, owner: Any) -> list[apps_pb2.ControllerRevision]:
    selector = str(labels.from_label_selector(owner.spec.selector))
    result = await client.list(apps_pb2.ControllerRevision, owner.metadata.namespace,
                               label_selector=selector)
    found = [r for r in result.items if owned_by(r, owner)]
    return sorted(found, key=lambda r: r.revision)


def template_document(revision: apps_pb2.ControllerRevision) -> dict[str, Any]:
    data = json.loads(revision.data.raw) if revision.data.raw else {}
    template = ((data or {}).get("spec") or {}).get("template") or {}
    return {k: v for k, v in template.items() if k != "$patch"}


def template_of(revision: apps_pb2.ControllerRevision) -> core_pb2.PodTemplateSpec:
    return codec.decode(core_pb2.PodTemplateSpec, template_document(revision))
