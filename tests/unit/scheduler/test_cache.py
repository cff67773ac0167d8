"""The node cache: assumed pods count at once, confirmations and forgets keep totals right, and
the per-selector counts used for spreading follow pods without rescanning."""

from __future__ import annotations

import pytest

from controlplane.scheduler.cache import SchedulerCache
from controlplane.scheduler.spreading import SelectorCounts, default_selector
from kemu.api.labels import Operator, Requirement, Selector
from kemu.v1 import apps_pb2, core_pb2
from tests.unit.scheduler.objects import make_node, make_pod

pytestmark = pytest.mark.unit


def bound(pod: core_pb2.Pod, node: str) -> core_pb2.Pod:
    copy = core_pb2.Pod()
    copy.CopyFrom(pod)
    copy.spec.node_name = node
    return copy


def test_assume_counts_at_once_and_confirmation_does_not_double_count() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("node-1"))
    pod = make_pod("web", cpu="500m", host_ports=[80])
    cache.assume(pod, "node-1")
    info = cache.nodes["node-1"]
    assert info.requested.milli_cpu == 500 and len(info.pods) == 1
    assert cache.is_assumed("default/web", "uid-web")
    assert not cache.is_assumed("default/web", "another-uid")
    cache.upsert_pod(bound(pod, "node-1"))
    assert info.requested.milli_cpu == 500 and len(info.pods) == 1
    assert not cache.is_assumed("default/web")
    assert info.port_conflict("0.0.0.0", "TCP", 80)


def test_forget_frees_the_node() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("node-1"))
    cache.assume(make_pod("web", cpu="1", host_ports=[80]), "node-1")
    assert cache.forget("default/web")
    info = cache.nodes["node-1"]
    assert info.requested.milli_cpu == 0 and not info.pods and not info.used_ports
    assert not cache.forget("default/web")


def test_finished_pods_free_their_resources() -> None:
    cache = SchedulerCache()
    cache.set_node(make_node("node-1"))
    pod = bound(make_pod("job", cpu="1"), "node-1")
    cache.upsert_pod(pod)
    done = bound(pod, "node-1")
    done.status.phase = "Succeeded"
    cache.upsert_pod(done)
    assert cache.nodes["node-1"].requested.milli_cpu == 0
    assert "default/job" not in cache.pods


def test_pods_on_an_unknown_node_are_kept_until_it_appears() -> None:
    cache = SchedulerCache()
    cache.upsert_pod(bound(make_pod("early", cpu="1"), "later"))
    assert cache.node_list() == []
    cache.set_node(make_node("later"))
    [info] = cache.node_list()
    assert info.requested.milli_cpu == 1000
    cache.remove_node("later")
    assert cache.node_list() == [] and "later" in cache.nodes
    cache.remove_pod("default/early")
    assert "later" not in cache.nodes


def test_selector_counts_follow_pods() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache)
    web = Selector((Requirement("app", Operator.EQUALS, ("web",)),))
    cache.upsert_pod(bound(make_pod("a", labels={"app": "web"}), "n1"))
    cache.upsert_pod(bound(make_pod("b", labels={"app": "db"}), "n1"))
    cache.upsert_pod(bound(make_pod("c", labels={"app": "web"}, namespace="other"), "n1"))
    tracked = counts.counts("default", web)
    assert dict(tracked) == {"n1": 1}
    cache.assume(make_pod("d", labels={"app": "web"}), "n2")
    cache.upsert_pod(bound(make_pod("e", labels={"app": "web"}), "n2"))
    assert dict(tracked) == {"n1": 1, "n2": 2}
    terminating = bound(make_pod("e", labels={"app": "web"}), "n2")
    terminating.metadata.deletion_timestamp = "2024-01-01T00:00:00Z"
    cache.upsert_pod(terminating)
    cache.remove_pod("default/a")
    assert dict(tracked) == {"n2": 1}
    assert counts.counts("default", web) is tracked


def test_selector_counts_forget_the_least_recently_used() -> None:
    cache = SchedulerCache()
    counts = SelectorCounts(cache, capacity=2)
    selectors = [Selector((Requirement("app", Operator.EQUALS, (name,)),))
                 for name in ("a", "b", "c")]
    for selector in selectors:
        counts.counts("default", selector)
    assert len(counts) == 2


def test_default_selector_merges_services_and_the_controller() -> None:
    pod = make_pod(labels={"app": "web", "tier": "front", "pod-template-hash": "abc"})
    ref = pod.metadata.owner_references.add(api_version="apps/v1", kind="ReplicaSet",
                                            name="web-abc", uid="rs-uid", controller=True)
    assert ref.controller
    service = core_pb2.Service()
    service.spec.selector.update({"tier": "front"})
    unrelated = core_pb2.Service()
    unrelated.spec.selector.update({"app": "db"})
    headless = core_pb2.Service()
    rs = apps_pb2.ReplicaSet()
    rs.spec.selector.match_labels.update({"app": "web", "pod-template-hash": "abc"})

    def owner(kind: str, namespace: str, name: str) -> object | None:
        return rs if (kind, namespace, name) == ("ReplicaSet", "default", "web-abc") else None

    selector = default_selector(pod, [service, unrelated, headless], owner)
    assert str(selector) == "app=web,pod-template-hash=abc,tier=front"
    assert default_selector(make_pod(labels={"app": "x"}), [], owner).empty()
