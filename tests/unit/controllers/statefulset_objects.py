"""Plain objects for the StatefulSet unit tests: the book's sets as the API server stores them
(defaulted, with a UID), their pods in any state, their claims."""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.defaults import apply_defaults
from controlplane.controllers.statefulset import identity
from controlplane.controllers.statefulset.plan import Versions
from kemu.api import codec
from kemu.api.meta import now_rfc3339
from kemu.manifest import load_paths
from kemu.v1 import apps_pb2, core_pb2
from tests.support.manifests import SHARED

NOW = 2_000_000_000.0
CURRENT = "quiz-current"
UPDATE = "quiz-update"


def stateful_set(relative: str = "kia2/Chapter16/sts.quiz.yaml", **spec: Any
                 ) -> apps_pb2.StatefulSet:
    """A set from the shared manifests, defaulted, with ``spec`` fields (JSON names) merged."""
    loaded = [m.obj for m in load_paths([str(SHARED / relative)])
              if isinstance(m.obj, apps_pb2.StatefulSet)]
    sts = loaded[0]
    if spec:
        document = codec.encode(sts)
        document["spec"].update(spec)
        sts = codec.decode(apps_pb2.StatefulSet, document)
    sts.metadata.namespace = "default"
    sts.metadata.uid = f"uid-{sts.metadata.name}"
    sts.metadata.generation = 1
    apply_defaults("StatefulSet", sts)
    return sts


def versions(sts: apps_pb2.StatefulSet, *, changed: bool = False) -> Versions:
    """Current and update revisions; with ``changed`` the update template differs."""
    update = core_pb2.PodTemplateSpec()
    update.CopyFrom(sts.spec.template)
    if changed:
        update.metadata.labels["ver"] = "0.2"
    return Versions(CURRENT, sts.spec.template, UPDATE if changed else CURRENT, update)


def pod(sts: apps_pb2.StatefulSet, ordinal: int, *, revision: str = CURRENT,
        phase: str = "Running", ready: bool = True, ready_for: float = 3600.0,
        deleting: bool = False) -> core_pb2.Pod:
    """Pod ``ordinal`` of ``sts`` as the API shows it (uid ``uid-<name>``)."""
    out = identity.new_pod(sts, sts.spec.template, ordinal)
    out.metadata.uid = f"uid-{out.metadata.name}"
    out.metadata.labels[identity.REVISION_LABEL] = revision
    out.status.phase = phase
    if phase == "Running":
        out.status.conditions.add(type="Ready", status="True" if ready else "False",
                                  last_transition_time=now_rfc3339(NOW - ready_for))
    if deleting:
        out.metadata.deletion_timestamp = now_rfc3339(NOW)
    return out


def claim(sts: apps_pb2.StatefulSet, ordinal: int, *owners: tuple[str, str, str, str]
          ) -> core_pb2.PersistentVolumeClaim:
    """The claim of pod ``ordinal``; ``owners``: (apiVersion, kind, name, uid) controllers."""
    [out] = identity.claims_for(sts, ordinal).values()
    for api_version, kind, name, uid in owners:
        out.metadata.owner_references.add(api_version=api_version, kind=kind, name=name,
                                          uid=uid, controller=True, block_owner_deletion=True)
    return out


def set_owner(sts: apps_pb2.StatefulSet) -> tuple[str, str, str, str]:
    return ("apps/v1", "StatefulSet", sts.metadata.name, sts.metadata.uid)


def pod_owner(name: str, uid: str = "") -> tuple[str, str, str, str]:
    return ("v1", "Pod", name, uid or f"uid-{name}")
