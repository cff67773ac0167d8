"""A DaemonSet's ControllerRevisions: what they hold and how they are named.

Each revision stores the DaemonSet's pod template as the patch that would restore it,
``{"spec":{"template":{..., "$patch":"replace"}}}``; the revision whose data equals the
DaemonSet's current patch is the current one. Revisions are named ``<ds>-<hash>``, the hash being
the template's (with ``status.collisionCount``), and carry that hash as their
``controller-revision-hash`` label, which is also the label the pods of that revision get.
"""

from __future__ import annotations

from controlplane.controllers.daemonset.template import CONTROLLER_REVISION_HASH
from controlplane.controllers.hashing import template_hash
from controlplane.controllers.history import controller_reference, encode_data, revision_name
from kemu.api import codec
from kemu.v1 import apps_pb2


def revision_data(ds: apps_pb2.DaemonSet) -> bytes:
    """The patch that restores ``ds``'s template."""
    template = codec.encode(ds.spec.template)
    template["$patch"] = "replace"
    return encode_data({"spec": {"template": template}})


def matches(ds: apps_pb2.DaemonSet, revision: apps_pb2.ControllerRevision) -> bool:
    return revision.data.raw == revision_data(ds)


def collision_count(ds: apps_pb2.DaemonSet) -> int | None:
    return ds.status.collision_count if ds.status.HasField("collision_count") else None


def current_hash(ds: apps_pb2.DaemonSet) -> str:
    return template_hash(ds.spec.template, collision_count(ds))


def new_revision(ds: apps_pb2.DaemonSet, number: int) -> apps_pb2.ControllerRevision:
    """The revision recording ``ds``'s current template as revision ``number``."""
    revision_hash = current_hash(ds)
    out = apps_pb2.ControllerRevision()
    out.metadata.name = revision_name(ds.metadata.name, revision_hash)
    out.metadata.namespace = ds.metadata.namespace
    out.metadata.labels.update(ds.spec.template.metadata.labels)
    out.metadata.labels[CONTROLLER_REVISION_HASH] = revision_hash
    out.metadata.annotations.update(ds.metadata.annotations)
    out.metadata.owner_references.append(controller_reference(ds))
    out.data.raw = revision_data(ds)
    out.revision = number
    return out
