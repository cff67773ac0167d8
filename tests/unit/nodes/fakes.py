"""An in-memory ApiClient and a settable clock, for driving the node controllers' logic
deterministically: what they write is stored, and ``deliver`` hands it to their informers as
the watch would."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from controlplane.controllers.informer import Informer
from kemu.api import kinds
from kemu.api.errors import ApiError, Code
from kemu.api.meta import key_of
from kemu.client.interface import clone

T = TypeVar("T", bound=Message)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeClient:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self._version = 0

    def put(self, obj: Any) -> Any:
        self._version += 1
        stored = clone(obj)
        stored.metadata.resource_version = str(self._version)
        self.objects[(kinds.of(obj).name, key_of(obj))] = stored
        return stored

    async def get(self, kind: type[T], name: str, namespace: str = "") -> T:
        k = kinds.of_class(kind)
        key = f"{namespace or 'default'}/{name}" if k.namespaced else name
        found = self.objects.get((k.name, key))
        if found is None:
            raise ApiError(Code.NOT_FOUND, "NotFound", f'{k.plural} "{name}" not found')
        result: T = clone(found)
        return result

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        """Events the controllers record land here too."""
        if not obj.metadata.name:  # type: ignore[attr-defined]
            obj.metadata.name = f"{obj.metadata.generate_name}{self._version}"  # type: ignore[attr-defined]
        result: T = self.put(obj)
        return result

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        self.writes.append(("update", clone(obj)))
        result: T = self.put(obj)
        return result

    async def update_status(self, obj: T, *, dry_run: bool = False) -> T:
        self.writes.append(("update_status", clone(obj)))
        result: T = self.put(obj)
        return result

    async def delete(self, kind: type[T], name: str, namespace: str = "", **_: Any) -> T:
        obj = await self.get(kind, name, namespace)
        self.writes.append(("delete", obj))
        del self.objects[(kinds.of(obj).name, key_of(obj))]
        return obj


def deliver(client: FakeClient, *informers: Informer[Any]) -> None:
    """Hand every stored object of each informer's kind to it, and drop the deleted ones."""
    for informer in informers:
        kind = kinds.of_class(informer.kind).name
        current = {key: obj for (k, key), obj in client.objects.items() if k == kind}
        for key in [k for k in informer.items if k not in current]:
            informer._apply("DELETED", informer.items[key])
        for obj in current.values():
            seen = informer.items.get(key_of(obj))
            if seen is None or seen.metadata.resource_version != obj.metadata.resource_version:
                informer._apply("MODIFIED" if seen is not None else "ADDED", obj)
