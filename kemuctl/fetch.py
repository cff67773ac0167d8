"""Fetching what a command names: objects by name, lists by kind and selector, or the objects
that manifest files describe. Errors for single names are collected, not raised, so the command
can print what it found and report the rest (kubectl's ContinueOnError)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kemu.api.errors import ApiError
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemuctl.errors import CliError
from kemuctl.manifests import load
from kemuctl.resources import Request


@dataclass(frozen=True)
class Found:
    kind: Kind
    obj: Any


@dataclass
class Fetched:
    found: list[Found] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)
    # True when exactly one object was named (kubectl prints it bare, not in a List).
    single: bool = False


def namespace_for(kind: Kind, namespace: str) -> str:
    return namespace if kind.namespaced else ""


def sort_key(obj: Any) -> tuple[str, str]:
    return (obj.metadata.namespace, obj.metadata.name)


async def list_kind(client: GrpcClient, kind: Kind, namespace: str, *, label_selector: str = "",
                    field_selector: str = "") -> list[Any]:
    result = await client.list(kind.message, namespace_for(kind, namespace),
                               label_selector=label_selector, field_selector=field_selector)
    return sorted(result.items, key=sort_key)


async def fetch(client: GrpcClient, requests: Sequence[Request], *, namespace: str,
                all_namespaces: bool = False, label_selector: str = "",
                field_selector: str = "") -> Fetched:
    fetched = Fetched()
    named = [r for r in requests if r.names]
    if named and (label_selector or field_selector):
        raise CliError("selectors and the all flag cannot be used when passing resource/name "
                       "arguments")
    fetched.single = len(requests) == 1 and len(requests[0].names) == 1
    for request in requests:
        kind = request.kind
        if request.names:
            for name in request.names:
                try:
                    obj = await client.get(kind.message, name, namespace_for(kind, namespace))
                except ApiError as exc:
                    fetched.errors.append(exc)
                    continue
                fetched.found.append(Found(kind, obj))
            continue
        scope = "" if all_namespaces else namespace
        for obj in await list_kind(client, kind, scope, label_selector=label_selector,
                                   field_selector=field_selector):
            fetched.found.append(Found(kind, obj))
    return fetched


def requests_from_files(paths: Sequence[str], recursive: bool, namespace: str
                        ) -> tuple[list[Request], dict[tuple[str, str], str], list[str]]:
    """Requests for the objects the manifests describe, the namespace each object names, and
    the manifest errors met on the way."""
    requests: list[Request] = []
    namespaces: dict[tuple[str, str], str] = {}
    errors: list[str] = []
    for loaded in load(paths, recursive):
        if loaded.manifest is None:
            errors.append(loaded.error)
            continue
        kind = loaded.manifest.kind
        meta = loaded.manifest.obj.metadata
        requests.append(Request(kind, [meta.name]))
        namespaces[(kind.name, meta.name)] = meta.namespace or namespace
    return requests, namespaces, errors


async def fetch_files(client: GrpcClient, paths: Sequence[str], recursive: bool,
                      namespace: str) -> tuple[Fetched, list[str]]:
    requests, namespaces, errors = requests_from_files(paths, recursive, namespace)
    fetched = Fetched(single=len(requests) == 1)
    for request in requests:
        for name in request.names:
            kind = request.kind
            try:
                obj = await client.get(kind.message, name,
                                       namespace_for(kind, namespaces[(kind.name, name)]))
            except ApiError as exc:
                fetched.errors.append(exc)
                continue
            fetched.found.append(Found(kind, obj))
    return fetched, errors
