"""``rollout history``: the revisions of a Deployment (its ReplicaSets) or of a DaemonSet or
StatefulSet (its ControllerRevisions), with their change causes, or one revision's template."""

from __future__ import annotations

from typing import Any

from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl.describe.common import pod_template
from kemuctl.describe.writer import PrefixWriter
from kemuctl.errors import CliError
from kemuctl.rollout.deployments import (
    CHANGE_CAUSE_ANNOTATION,
    has_revision,
    replica_sets_of,
    revision_of,
)
from kemuctl.rollout.revisions import revisions_of, template_of
from kemuctl.tabwriter import tabbed

SUPPORTED = ("Deployment", "DaemonSet", "StatefulSet")


def print_template(template: Any) -> str:
    """A pod template as kubectl's printTemplate writes it (describe layout, tabs unaligned)."""
    w = PrefixWriter()
    pod_template(w, template)
    return w.raw()


def _table(entries: dict[int, str]) -> str:
    if not entries:
        return "No rollout history found."
    rows = "".join(f"{revision}\t{cause or '<none>'}\n" for revision, cause in
                   sorted(entries.items()))
    return tabbed("REVISION\tCHANGE-CAUSE\n" + rows)


async def view_history(client: GrpcClient, kind: Kind, obj: Any, revision: int) -> str:
    if kind.name not in SUPPORTED:
        raise CliError(f"no history viewer has been implemented for {kind.qualified_kind}")
    templates: dict[int, Any] = {}
    causes: dict[int, str] = {}
    if kind.name == "Deployment":
        for rs in await replica_sets_of(client, obj):
            if not has_revision(rs):
                continue
            number = revision_of(rs)
            templates[number] = rs.spec.template
            causes[number] = rs.metadata.annotations.get(CHANGE_CAUSE_ANNOTATION, "")
    else:
        for history in await revisions_of(client, obj):
            templates[history.revision] = history
            causes[history.revision] = history.metadata.annotations.get(
                CHANGE_CAUSE_ANNOTATION, "")
    if revision > 0:
        if revision not in templates:
            raise CliError("unable to find the specified revision")
        found = templates[revision]
        return print_template(found if kind.name == "Deployment" else template_of(found))
    return _table(causes)
