"""The CPU a ReplicaSet sync spends on its pods, per part, for one large ReplicaSet.

A sync claims the pods (controller reference and selector) and computes the status (template
labels, ready, available) of every pod it owns, after every batch of pod events. This times
those parts over ``--pods`` pods in process CPU, with the selector asked directly (what every
sync paid before) and through the per-pod-version facts cache the controller uses; and the
claim as the sync does it, every pod through the ref manager (before) or the pods it owns and
still selects kept without it (now).

    python -m bench.replicaset_sync [--pods 5000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from bench.common import load_note, table, write_result
from controlplane.controllers.podfacts import PodFacts, PodFactsCache
from controlplane.controllers.refmanager import RefManager
from controlplane.controllers.replicaset import calculate_status, kept_and_undecided
from kemu.api import labels
from kemu.api.meta import now_rfc3339
from kemu.v1 import apps_pb2, core_pb2

T = TypeVar("T")
LABELS = {"app": "burst", "pod-template-hash": "5d8f7c9b6"}


def _replica_set(replicas: int) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet()
    rs.metadata.uid = "rs-uid"
    rs.spec.replicas = replicas
    rs.spec.template.metadata.labels.update(LABELS)
    return rs


def _pods(count: int) -> list[core_pb2.Pod]:
    pods = []
    for i in range(count):
        pod = core_pb2.Pod()
        pod.metadata.uid = f"uid-{i}"
        pod.metadata.name = f"burst-{i}"
        pod.metadata.labels.update(LABELS)
        ref = pod.metadata.owner_references.add()
        ref.uid, ref.controller = "rs-uid", True
        pod.status.phase = "Running"
        pod.status.conditions.add(type="Ready", status="True",
                                  last_transition_time=now_rfc3339())
        pods.append(pod)
    return pods


def _finished(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits (a claim with nothing to adopt or release),
    without an event loop's cost in the figure."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    raise AssertionError("the claim waited for a write")


def _cpu_ms(part: Callable[[], Any], rounds: int) -> float:
    part()  # the first round fills the caches, as the first sync after a pod change does
    started = time.process_time()
    for _ in range(rounds):
        part()
    return (time.process_time() - started) / rounds * 1000


def measure(count: int, rounds: int) -> list[dict[str, Any]]:
    rs, pods = _replica_set(count), _pods(count)
    selector = labels.from_labels(LABELS)
    template = labels.from_labels(dict(rs.spec.template.metadata.labels))
    facts = PodFactsCache()

    def claim_asking_the_selector() -> list[core_pb2.Pod]:
        return [p for p in pods
                if facts(p).controller_uid == "rs-uid" and selector.matches(facts(p).labels)]

    def claim_remembered() -> list[core_pb2.Pod]:
        return [p for p in pods if facts(p).controller_uid == "rs-uid" and facts(p).matches(selector)]

    async def nothing() -> None:
        return None

    def active_with_facts() -> list[tuple[core_pb2.Pod, PodFacts]]:
        return [(p, known) for p in pods if (known := facts(p)).active]

    def claim_through_the_ref_manager() -> list[core_pb2.Pod]:
        manager = RefManager(None, rs, lambda p: facts(p).matches(selector),  # type: ignore[arg-type]
                             nothing, lambda p: facts(p).controller_uid)
        candidates = [p for p in pods if facts(p).active]
        return _finished(manager.claim(candidates))

    def claim_kept_without_the_ref_manager() -> list[core_pb2.Pod]:
        kept, undecided = kept_and_undecided(active_with_facts(), "rs-uid", selector)
        assert not undecided
        return kept

    parts: list[tuple[str, Callable[[], Any]]] = [
        ("claim, selector asked", claim_asking_the_selector),
        ("claim, remembered per pod version", claim_remembered),
        ("claim of the sync, every pod through the ref manager", claim_through_the_ref_manager),
        ("claim of the sync, owned pods kept without the ref manager",
         claim_kept_without_the_ref_manager),
        ("status, template selector built per sync",
         lambda: calculate_status(rs, pods, None, 0.0, time.time(), facts)),
        ("status, template selector kept per generation",
         lambda: calculate_status(rs, pods, None, 0.0, time.time(), facts, template=template)),
    ]
    return [{"part": name, "pods": count, "cpu_ms": _cpu_ms(part, rounds)}
            for name, part in parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    load = load_note()
    rows = measure(options.pods, options.rounds)
    print(table(rows, ["part", "pods", "cpu_ms"]))
    path = write_result("replicaset_sync", {"options": vars(options), "rows": rows, **load})
    print(f"\nload before: {load['load1']}; written to {path}")


if __name__ == "__main__":
    main()
