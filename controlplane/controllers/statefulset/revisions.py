"""A StatefulSet's ControllerRevisions: what they record, and which are current and update.

A revision's ``data`` is the patch that restores the set's pod template,
``{"spec":{"template":{..., "$patch":"replace"}}}``; it is named ``<set>-<hash>``, labelled with
the template's labels and ``controller.kubernetes.io/hash``, annotated like the set, and its
*name* is what the set's pods carry as ``controller-revision-hash``.

The *update revision* is the one holding the set's template now (created when new; when an
older revision holds it — a rollback — that revision is renumbered to come last). The *current
revision* is the one ``status.currentRevision`` names, or the update revision when there is none
yet. The history beyond ``revisionHistoryLimit`` loses its oldest revisions that no pod uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.controllers import history
from controlplane.controllers.statefulset.identity import revision_of
from kemu.api import codec
from kemu.client.interface import clone
from kemu.v1 import apps_pb2, core_pb2


def revision_data(sts: apps_pb2.StatefulSet) -> bytes:
    template = codec.encode(sts.spec.template)
    template["$patch"] = "replace"
    return history.encode_data({"spec": {"template": template}})


def new_revision(sts: apps_pb2.StatefulSet, number: int,
                 collision_count: int) -> apps_pb2.ControllerRevision:
    revision = history.new_controller_revision(sts, sts.spec.template.metadata.labels,
                                               revision_data(sts), number, collision_count)
    revision.metadata.annotations.update(sts.metadata.annotations)
    return revision


def template_of(revision: apps_pb2.ControllerRevision) -> core_pb2.PodTemplateSpec:
    """The pod template the revision restores."""
    document = json.loads(revision.data.raw) if revision.data.raw else {}
    template = dict(((document or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return codec.decode(core_pb2.PodTemplateSpec, template)


def apply_revision(sts: apps_pb2.StatefulSet,
                   revision: apps_pb2.ControllerRevision) -> apps_pb2.StatefulSet:
    """The set as it was at ``revision`` (its template restored; the rest as it is now)."""
    restored = clone(sts)
    restored.spec.template.CopyFrom(template_of(revision))
    return restored


@dataclass
class Revisions:
    current: apps_pb2.ControllerRevision
    update: apps_pb2.ControllerRevision
    collision_count: int


async def resolve(store: history.History, sts: apps_pb2.StatefulSet,
                  revisions: Sequence[apps_pb2.ControllerRevision]) -> Revisions:
    """The current and update revisions of ``sts`` (``revisions`` sorted oldest first),
    creating or renumbering the update revision when the template changed."""
    collision_count = sts.status.collision_count if sts.status.HasField("collision_count") else 0
    wanted = new_revision(sts, history.next_revision(revisions), collision_count)
    equal = history.find_equal_revisions(revisions, wanted)
    if equal and history.equal_revision(revisions[-1], equal[-1]):
        update = revisions[-1]
    elif equal:
        update = await store.update_revision_number(equal[-1], wanted.revision)
    else:
        update, collision_count = await store.create_controller_revision(sts, wanted,
                                                                         collision_count)
    current = next((r for r in revisions if r.metadata.name == sts.status.current_revision),
                   update)
    return Revisions(current, update, collision_count)


def history_to_delete(sts: apps_pb2.StatefulSet, pods: Sequence[core_pb2.Pod],
                      revisions: Sequence[apps_pb2.ControllerRevision],
                      live: Sequence[apps_pb2.ControllerRevision]
                      ) -> list[apps_pb2.ControllerRevision]:
    """The oldest revisions beyond ``revisionHistoryLimit`` that are neither current, update,
    nor any pod's (``revisions`` sorted oldest first)."""
    in_use = {r.metadata.name for r in live} | {revision_of(p) for p in pods}
    old = [r for r in revisions if r.metadata.name not in in_use]
    limit = sts.spec.revision_history_limit if sts.spec.HasField("revision_history_limit") \
        else 10
    if limit < 0 or len(old) <= limit:
        return []
    return old[:len(old) - limit]
