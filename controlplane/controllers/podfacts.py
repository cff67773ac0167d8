"""What controllers ask of a pod on every sync, computed once per version of the pod.

A ReplicaSet sync looks at every pod it owns: its controller, its labels (against the selector
and the template), and whether it is active and ready. Reading those out of a protobuf
message costs microseconds each; a sync of a 5000-pod ReplicaSet asked them all again after
every pod event, which kept the control plane's event loop busy for hundreds of milliseconds
per sync. Informer objects are immutable and replaced on every change, so the answers are
cached per object: a pod's facts are computed when a sync first sees that version of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kemu.api.labels import Selector
from kemu.api.pods import FAILED, SUCCEEDED
from kemu.v1 import core_pb2


@dataclass(frozen=True, slots=True)
class PodFacts:
    controller_uid: str | None
    labels: dict[str, str]
    # Counts toward replicas: not finished and not being deleted (kemu.api.pods.is_active).
    active: bool
    ready: bool
    # Selector matches already decided for this version of the pod, by selector object.
    _matched: dict[int, tuple[Selector, bool]] = field(default_factory=dict, compare=False,
                                                       repr=False)

    def matches(self, selector: Selector) -> bool:
        """``selector.matches(labels)``, remembered per selector object: a controller keeps one
        selector object per owner generation and asks again on every sync."""
        entry = self._matched.get(id(selector))
        if entry is not None and entry[0] is selector:
            return entry[1]
        result = selector.matches(self.labels)
        if len(self._matched) > 8:
            self._matched.clear()
        self._matched[id(selector)] = (selector, result)
        return result


def facts_of(pod: core_pb2.Pod) -> PodFacts:
    """The facts of ``pod``, computed now."""
    controller = None
    for ref in pod.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            controller = ref.uid
            break
    ready = False
    for condition in pod.status.conditions:
        if condition.type == "Ready":
            ready = condition.status == "True"
            break
    active = pod.status.phase not in (SUCCEEDED, FAILED) and not pod.metadata.deletion_timestamp
    return PodFacts(controller, dict(pod.metadata.labels), active, ready)


class PodFactsCache:
    """Facts per pod object: recomputed only for an object not seen before."""

    def __init__(self, limit: int = 100_000):
        self._entries: dict[int, tuple[core_pb2.Pod, PodFacts]] = {}
        self._limit = limit

    def __call__(self, pod: core_pb2.Pod) -> PodFacts:
        # Keyed by identity; the entry holds the pod, so its id cannot be reused meanwhile.
        entry = self._entries.get(id(pod))
        if entry is not None and entry[0] is pod:
            return entry[1]
        facts = facts_of(pod)
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(pod)] = (pod, facts)
        return facts

    def forget(self, pod: core_pb2.Pod) -> None:
        """Drop a pod version that was replaced or deleted."""
        entry = self._entries.get(id(pod))
        if entry is not None and entry[0] is pod:
            del self._entries[id(pod)]

    def __len__(self) -> int:
        return len(self._entries)
