"""Fixtures for kemuctl against a real control plane: a runner that invokes commands (in
process through click's CliRunner, or as a subprocess), a fresh namespace per test, and a small
synchronous helper for preparing objects through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from kemu.api import codec, kinds
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemuctl.main import main
from launcher.cluster import LocalCluster

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def rows(self) -> list[list[str]]:
        """The table's rows (header dropped), split on whitespace."""
        return [line.split() for line in self.lines[1:]]


Kemuctl = Callable[..., Result]


@pytest.fixture
def kemuctl(shared_control_plane: LocalCluster) -> Kemuctl:
    runner = CliRunner()
    address = shared_control_plane.address

    def run(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(main, list(args), input=input, env={"KEMU_SERVER": address},
                               catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


class Api:
    """Synchronous access to the API for preparing objects a test looks at."""

    def __init__(self, address: str):
        self.address = address

    def call(self, use: Callable[[GrpcClient], Awaitable[T]]) -> T:
        async def body() -> T:
            client = GrpcClient(self.address)
            try:
                return await use(client)
            finally:
                await client.close()
        return asyncio.run(body())

    def create(self, kind_name: str, document: dict[str, Any]) -> Any:
        obj = codec.decode(kinds.by_name(kind_name).message, document)
        return self.call(lambda c: c.create(obj))

    def get(self, kind_name: str, name: str, namespace: str = "") -> Any:
        kind = kinds.by_name(kind_name)
        return self.call(lambda c: c.get(kind.message, name, namespace))

    def set_status(self, kind_name: str, name: str, namespace: str,
                   status: dict[str, Any]) -> Any:
        kind = kinds.by_name(kind_name)

        async def update(client: GrpcClient) -> Any:
            obj: Any = await client.get(kind.message, name, namespace)
            obj.status.CopyFrom(codec.decode(type(obj.status), status))
            return await client.update_status(obj)
        return self.call(update)

    def exists(self, kind_name: str, name: str, namespace: str = "") -> bool:
        try:
            self.get(kind_name, name, namespace)
        except ApiError as exc:
            if exc.reason == "NotFound":
                return False
            raise
        return True


@pytest.fixture
def api(shared_control_plane: LocalCluster) -> Api:
    return Api(shared_control_plane.address)


@pytest.fixture
def namespace(api: Api) -> Iterator[str]:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    api.create("Namespace", {"metadata": {"name": name}})
    yield name


def owner_reference(owner: Any, kind: str, api_version: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "name": owner.metadata.name,
            "uid": owner.metadata.uid, "controller": True, "blockOwnerDeletion": True}
