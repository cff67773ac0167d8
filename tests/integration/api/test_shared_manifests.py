"""Every manifest of the shared corpus (the books' own examples) through the real API server.

Each file is loaded with ``kemu.manifest.load_paths`` and each object created with
``dry_run=True``: it must pass server-side defaulting and validation and store nothing. The few
files kemu cannot accept are listed with the exact reason they are rejected.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import ManifestError, load_paths
from kemu.v1 import core_pb2
from tests.support.manifests import SHARED

pytestmark = pytest.mark.integration

MANIFESTS = SHARED
NAMESPACE = "corpus"
FILES = sorted(str(Path(p).relative_to(MANIFESTS))
               for p in glob.glob(str(MANIFESTS / "**" / "*.y*ml"), recursive=True))


def _unmodelled(kind: str, version: str) -> str:
    return f'no matches for kind "{kind}" in version "{version}"'


# Files rejected on purpose, with where and why.
REJECTED_BY_LOADER = {
    "kia2/Chapter16/kind-multi-node.yaml": _unmodelled("Cluster", "kind.x-k8s.io/v1alpha4"),
    "kuar/8-1-simple-ingress.yaml": _unmodelled("Ingress", "networking.k8s.io/v1"),
    "kuar/8-2-host-ingress.yaml": _unmodelled("Ingress", "networking.k8s.io/v1"),
    "kuar/8-3-path-ingress.yaml": _unmodelled("Ingress", "networking.k8s.io/v1"),
    "kuar/8-4-tls-secret.yaml": _unmodelled("Secret", "v1"),
    "kuar/8-5-tls-ingress.yaml": _unmodelled("Ingress", "networking.k8s.io/v1"),
}
# A template meant to be filled in with sed before use: Kubernetes rejects it as it stands.
TEMPLATE_NAME = "aggregate-responses-2020-__MONTH__"
REJECTED_BY_SERVER = {
    "kia2/Chapter18/job.aggregate-responses-2020.tmpl.yaml": (
        "metadata.name",
        f'Job.batch "{TEMPLATE_NAME}" is invalid: [metadata.name: Invalid value: '
        f'"{TEMPLATE_NAME}": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character"),
}


@pytest.fixture
async def namespace(client: GrpcClient) -> str:
    ns = core_pb2.Namespace()
    ns.metadata.name = NAMESPACE
    try:
        await client.create(ns)
    except ApiError as exc:
        if exc.code != Code.ALREADY_EXISTS:
            raise
    return NAMESPACE


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 100, "the shared manifests are missing"
    for name in [*REJECTED_BY_LOADER, *REJECTED_BY_SERVER]:
        assert name in FILES, name


@pytest.mark.parametrize("name", FILES)
async def test_shared_manifest(name: str, client: GrpcClient, namespace: str) -> None:
    path = str(MANIFESTS / name)
    if name in REJECTED_BY_LOADER:
        with pytest.raises(ManifestError) as refused:
            load_paths([path])
        assert REJECTED_BY_LOADER[name] in str(refused.value)
        return
    manifests = load_paths([path])
    assert manifests
    for manifest in manifests:
        assert manifest.warnings == [], manifest.warnings
        obj = manifest.obj
        if manifest.kind.namespaced:
            obj.metadata.namespace = namespace
        if name in REJECTED_BY_SERVER:
            field, message = REJECTED_BY_SERVER[name]
            with pytest.raises(ApiError) as refused:
                await client.create(obj, dry_run=True)
            assert refused.value.code == Code.INVALID_ARGUMENT
            assert field in refused.value.fields
            assert str(refused.value).startswith(message), str(refused.value)
        else:
            created = await client.create(obj, dry_run=True)
            assert created.metadata.uid and created.metadata.creation_timestamp
            assert created.metadata.namespace == (namespace if manifest.kind.namespaced else "")
        with pytest.raises(ApiError) as missing:
            await client.get(type(obj), obj.metadata.name, obj.metadata.namespace)
        assert missing.value.code == Code.NOT_FOUND, "a dry run stored the object"
