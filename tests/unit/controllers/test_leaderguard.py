"""The controllers' client refuses every write the moment leadership is in doubt."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.leaderguard import LeaderGuardedClient
from kemu.api.errors import ApiError, Code
from kemu.client.interface import ListResult
from kemu.v1 import core_pb2

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, verb: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(verb)
            return ListResult() if verb == "list" else core_pb2.Pod()
        return call


async def test_writes_pass_while_leading_and_are_refused_after() -> None:
    leading = True
    inner = Recorder()
    client = LeaderGuardedClient(inner, lambda: leading, "cp-1")  # type: ignore[arg-type]
    pod = core_pb2.Pod()
    await client.create(pod)
    await client.delete(core_pb2.Pod, "a", "default")
    leading = False
    for write in (client.create(pod), client.update(pod), client.update_status(pod),
                  client.patch(core_pb2.Pod, "a", "default", {}), client.bind("default", "a", "n"),
                  client.delete(core_pb2.Pod, "a", "default")):
        with pytest.raises(ApiError) as refused:
            await write
        assert refused.value.code == Code.UNAVAILABLE
        assert "cp-1 does not hold the leader lease" in refused.value.message
    await client.get(core_pb2.Pod, "a", "default")
    await client.list(core_pb2.Pod)
    assert inner.calls == ["create", "delete", "get", "list"]
    assert client.refused == 6
