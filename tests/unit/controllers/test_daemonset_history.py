"""ControllerRevisions of DaemonSets (data, names, hashes, order) and the API server's
DaemonSet defaults and template generation."""

from __future__ import annotations

import json

import pytest

from controlplane.apiserver.strategies import strategy_for
from controlplane.apiserver.strategy import Strategy
from controlplane.controllers import history
from controlplane.controllers.daemonset.revisions import (
    current_hash,
    matches,
    new_revision,
    revision_data,
)
from kemu.api import codec, kinds
from kemu.client.interface import clone
from kemu.timing import FAST
from kemu.v1 import apps_pb2
from tests.unit.controllers.daemonset_objects import daemonset, manifest

pytestmark = pytest.mark.unit


def test_revision_data_is_the_template_as_a_replace_patch() -> None:
    ds = manifest("kia2/Chapter17/ds.demo.yaml")
    data = json.loads(revision_data(ds))
    assert data == {"spec": {"template": {
        "$patch": "replace", "metadata": {"labels": {"app": "demo"}},
        "spec": {"containers": [{"name": "demo", "image": "busybox",
                                 "command": ["sleep", "infinity"]}]}}}}
    assert revision_data(ds).startswith(b'{"spec":{"template":{"$patch":"replace",')


def test_new_revision_is_named_labelled_and_owned() -> None:
    ds = manifest("kia2/Chapter17/ds.demo.yaml")
    ds.metadata.namespace, ds.metadata.uid = "default", "uid-1"
    revision = new_revision(ds, 3)
    revision_hash = current_hash(ds)
    assert revision.metadata.name == f"demo-{revision_hash}"
    assert dict(revision.metadata.labels) == {"app": "demo",
                                              "controller-revision-hash": revision_hash}
    [owner] = revision.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller, owner.block_owner_deletion) == (
        "DaemonSet", "demo", "uid-1", True, True)
    assert revision.revision == 3
    assert matches(ds, revision)
    changed = clone(ds)
    changed.spec.template.spec.containers[0].image = "busybox:2"
    assert not matches(changed, revision)
    assert current_hash(changed) != revision_hash


def test_collision_count_changes_the_hash() -> None:
    ds = daemonset()
    before = current_hash(ds)
    ds.status.collision_count = 1
    assert current_hash(ds) != before


def test_history_helpers() -> None:
    parent = daemonset(name="web")
    first = history.new_controller_revision(parent, {"app": "web"}, b'{"a":1}', 1, None)
    again = history.new_controller_revision(parent, {"app": "web"}, b'{"a":1}', 2, None)
    other = history.new_controller_revision(parent, {"app": "web"}, b'{"a":2}', 3, None)
    assert first.metadata.name.startswith("web-")
    assert first.metadata.labels[history.CONTROLLER_REVISION_HASH_LABEL] == \
        first.metadata.name.removeprefix("web-")
    assert history.equal_revision(first, again)
    assert not history.equal_revision(first, other)
    assert history.find_equal_revisions([other, first, again], first) == [first, again]
    assert [r.revision for r in history.sort_revisions([other, again, first])] == [1, 2, 3]
    assert history.next_revision([first, other]) == 4
    assert history.revision_name("x" * 300, "h") == "x" * 223 + "-h"
    probed = history.new_controller_revision(parent, {}, b'{"a":1}', 1, 5)
    assert probed.metadata.name != first.metadata.name


def _strategy() -> Strategy:
    return strategy_for(kinds.by_name("DaemonSet"), FAST)


def test_api_defaults_like_kubernetes() -> None:
    ds = codec.decode(apps_pb2.DaemonSet, {"spec": {"template": {}}})
    _strategy().default(ds)
    assert ds.spec.revision_history_limit == 10
    assert codec.encode(ds.spec.update_strategy) == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    on_delete = manifest("kia2/Chapter17/ds.demo.v3.onDelete.yaml")
    _strategy().default(on_delete)
    assert codec.encode(on_delete.spec.update_strategy) == {"type": "OnDelete"}


def test_template_generation_follows_template_changes_only() -> None:
    strategy = _strategy()
    ds = manifest("kia2/Chapter17/ds.demo.yaml")
    strategy.prepare_for_create(ds)
    assert ds.metadata.annotations["deprecated.daemonset.template.generation"] == "1"
    updated = clone(ds)
    updated.spec.min_ready_seconds = 5
    updated.metadata.annotations["deprecated.daemonset.template.generation"] = "9"
    strategy.prepare_for_update(updated, ds)
    assert updated.metadata.annotations["deprecated.daemonset.template.generation"] == "1"
    assert updated.metadata.generation == 2
    changed = clone(updated)
    changed.spec.template.metadata.labels["ver"] = "v2"
    strategy.prepare_for_update(changed, updated)
    assert changed.metadata.annotations["deprecated.daemonset.template.generation"] == "2"
    assert changed.metadata.generation == 3
