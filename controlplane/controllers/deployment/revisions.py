"""Revision bookkeeping: ``deployment.kubernetes.io/revision`` on a Deployment and its
ReplicaSets, ``revision-history`` on a ReplicaSet that became new again, and the Deployment
annotations (such as ``kubernetes.io/change-cause``) copied onto its new ReplicaSet.

The new ReplicaSet always carries the highest revision: one past the old ReplicaSets' maximum.
A template that returns to an earlier one reuses that ReplicaSet, whose old revision moves into
its revision-history; that is how ``rollout history`` and ``rollout undo`` see it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from controlplane.controllers.deployment import strategy
from controlplane.controllers.deployment.replicasets import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    by_creation,
    set_replicas_annotations,
)
from kemu.v1 import apps_pb2

log = logging.getLogger(__name__)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
MAX_REVISION_HISTORY_CHARS = 2000

# Deployment annotations that are not copied to its ReplicaSets.
NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
                        MAX_REPLICAS, ROLLBACK_TO})


def revision(rs: apps_pb2.ReplicaSet) -> int | None:
    """The revision annotation, or None when absent or not a number."""
    try:
        return int(rs.metadata.annotations[REVISION])
    except (KeyError, ValueError):
        return None


def max_revision(rss: Iterable[apps_pb2.ReplicaSet]) -> int:
    return max((r for r in (revision(rs) for rs in rss) if r is not None), default=0)


def by_revision(rss: Iterable[apps_pb2.ReplicaSet]) -> list[apps_pb2.ReplicaSet]:
    """Lowest revision first; equal revisions oldest first."""
    order = {rs.metadata.uid: i for i, rs in enumerate(by_creation(rss))}
    listed = list(order)
    items = {rs.metadata.uid: rs for rs in rss}

    def compare(a: str, b: str) -> int:
        ra, rb = revision(items[a]) or 0, revision(items[b]) or 0
        if ra != rb:
            return ra - rb
        return order[a] - order[b]

    return [items[uid] for uid in sorted(listed, key=functools.cmp_to_key(compare))]


def copy_deployment_annotations(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet) -> bool:
    """Copy the Deployment's annotations (but not the controller's own) onto the ReplicaSet."""
    changed = False
    for key, value in d.metadata.annotations.items():
        if key in NOT_COPIED or rs.metadata.annotations.get(key) == value:
            continue
        rs.metadata.annotations[key] = value
        changed = True
    return changed


def set_new_replica_set_annotations(d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet,
                                    new_revision: int, exists: bool,
                                    history_limit_chars: int = MAX_REVISION_HISTORY_CHARS) -> bool:
    """Annotate the new ReplicaSet: copied annotations, its revision raised to ``new_revision``
    (the old one kept in revision-history) and, for one about to be created, the replica
    annotations. True when anything changed."""
    changed = copy_deployment_annotations(d, rs)
    annotations = rs.metadata.annotations
    had_revision = REVISION in annotations
    old_text = annotations.get(REVISION, "")
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        log.warning("replica set %s has an invalid revision %r", rs.metadata.name, old_text)
        return False
    if old_revision < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if had_revision:
            _append_history(rs, old_text, history_limit_chars)
    if not exists and set_replicas_annotations(
            rs, strategy.replicas(d), strategy.replicas(d) + strategy.max_surge(d)):
        changed = True
    return changed


def _append_history(rs: apps_pb2.ReplicaSet, old_revision: str, limit_chars: int) -> None:
    history = rs.metadata.annotations.get(REVISION_HISTORY, "")
    if not history:
        rs.metadata.annotations[REVISION_HISTORY] = old_revision
        return
    entries = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > limit_chars and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total <= limit_chars:
        rs.metadata.annotations[REVISION_HISTORY] = ",".join([*entries[start:], old_revision])
    else:
        log.info("not appending revision to %s: revision history length limit reached",
                 rs.metadata.name)


def set_deployment_revision(d: apps_pb2.Deployment, value: str) -> bool:
    if d.metadata.annotations.get(REVISION) == value:
        return False
    d.metadata.annotations[REVISION] = value
    return True
