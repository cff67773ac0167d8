"""``rollout undo``: put a previous revision's pod template back, as kubectl's rollbackers do.

For a Deployment the template comes from the ReplicaSet with that revision (minus its
``pod-template-hash`` label), together with that ReplicaSet's annotations; a paused Deployment
is refused. For a DaemonSet or StatefulSet it comes from the ControllerRevision.
"""

from __future__ import annotations

from typing import Any

from kemu.api import codec
from kemu.api.errors import ApiError
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl.errors import CliError
from kemuctl.rollout.deployments import (
    REVISION_ANNOTATION,
    equal_ignore_hash,
    has_revision,
    replica_sets_of,
    revision_of,
    without_hash,
)
from kemuctl.rollout.revisions import revisions_of, template_document, template_of

ROLLED_BACK = "rolled back"
SKIPPED = "skipped rollback (current template already matches revision)"

# Annotations that stay the deployment's own when its template is rolled back.
_KEEP_ON_DEPLOYMENT = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


def _not_found(revision: int) -> CliError:
    return CliError(f"unable to find specified revision {revision} in history")


async def _deployment_revision(client: GrpcClient, deploy: Any, to_revision: int) -> Any:
    latest: Any = None
    previous: Any = None
    for rs in await replica_sets_of(client, deploy):
        if not has_revision(rs):
            continue
        number = revision_of(rs)
        if to_revision == 0:
            if latest is None or revision_of(latest) < number:
                previous, latest = latest, rs
            elif previous is None or revision_of(previous) < number:
                previous = rs
        elif number == to_revision:
            return rs
    if to_revision > 0:
        raise _not_found(to_revision)
    if previous is None:
        raise CliError(f'no rollout history found for deployment "{deploy.metadata.name}"')
    return previous


async def rollback(client: GrpcClient, kind: Kind, obj: Any, to_revision: int) -> str:
    """Roll back and return kubectl's verb (``rolled back`` or ``skipped rollback (...)``)."""
    if to_revision < 0:
        raise _not_found(to_revision)
    if kind.name == "Deployment":
        return await _rollback_deployment(client, obj, to_revision)
    if kind.name in ("DaemonSet", "StatefulSet"):
        return await _rollback_from_history(client, kind, obj, to_revision)
    raise CliError(f"no rollbacker has been implemented for {kind.qualified_kind}")


async def _rollback_deployment(client: GrpcClient, deploy: Any, to_revision: int) -> str:
    rs = await _deployment_revision(client, deploy, to_revision)
    if deploy.spec.paused:
        raise CliError("you cannot rollback a paused deployment; resume it first with "
                       "'kubectl rollout resume' and try again")
    if equal_ignore_hash(rs.spec.template, deploy.spec.template):
        return SKIPPED
    template = without_hash(rs.spec.template)
    annotations = {k: v for k, v in deploy.metadata.annotations.items()
                   if k in _KEEP_ON_DEPLOYMENT}
    annotations.update({k: v for k, v in rs.metadata.annotations.items()
                        if k not in _KEEP_ON_DEPLOYMENT})
    patch = [{"op": "replace", "path": "/spec/template", "value": codec.encode(template)},
             {"op": "add", "path": "/metadata/annotations", "value": annotations}]
    await _patch(client, deploy, patch, to_revision)
    return ROLLED_BACK


async def _rollback_from_history(client: GrpcClient, kind: Kind, obj: Any,
                                 to_revision: int) -> str:
    history = await revisions_of(client, obj)
    if to_revision == 0 and len(history) <= 1:
        raise CliError("no last revision to roll back to")
    if to_revision == 0:
        target = history[-2]
    else:
        matching = [h for h in history if h.revision == to_revision]
        if not matching:
            raise _not_found(to_revision)
        target = matching[0]
    if template_of(target) == obj.spec.template:
        return SKIPPED
    patch = [{"op": "replace", "path": "/spec/template", "value": template_document(target)}]
    await _patch(client, obj, patch, to_revision)
    return ROLLED_BACK


async def _patch(client: GrpcClient, obj: Any, patch: list[dict[str, Any]],
                 to_revision: int) -> None:
    try:
        await client.patch(type(obj), obj.metadata.name, obj.metadata.namespace, patch,
                           patch_type="json")
    except ApiError as exc:
        raise CliError(f"failed restoring revision {to_revision}: {exc.message}") from None
