"""``kemuctl api-resources``, ``version`` and ``get all``."""

from __future__ import annotations

import json

import pytest

from tests.integration.cli.conftest import Api, Kemuctl

pytestmark = pytest.mark.integration


def test_api_resources(kemuctl: Kemuctl) -> None:
    result = kemuctl("api-resources")
    assert result.lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = result.rows()
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["leases", "coordination.k8s.io/v1", "true", "Lease"] in rows
    groups = [r[-3] if len(r) == 4 else r[2] for r in rows]
    assert groups.index("v1") < groups.index("apps/v1") < groups.index("batch/v1")
    cluster = kemuctl("api-resources", "--namespaced=false", "-o", "name")
    assert cluster.lines == ["namespaces", "nodes"]


def test_version(kemuctl: Kemuctl, api: Api) -> None:
    client = kemuctl("version", "--client")
    assert client.lines == ["Client Version: v0.1.0"]
    both = kemuctl("version")
    assert both.lines[0] == "Client Version: v0.1.0"
    assert both.lines[1].startswith(f"Server Version: kemu ({api.address}, API kemu.v1)")
    document = json.loads(kemuctl("version", "-o", "json").stdout)
    assert document["clientVersion"]["gitVersion"] == "v0.1.0"
    assert document["serverVersion"]["address"] == api.address


def test_get_all(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    api.create("Pod", {"metadata": {"name": "solo", "namespace": namespace},
                       "spec": {"containers": [{"name": "c", "image": "x"}]}})
    api.create("Service", {"metadata": {"name": "front", "namespace": namespace},
                           "spec": {"ports": [{"port": 80}]}})
    result = kemuctl("get", "all", "-n", namespace)
    assert result.exit_code == 0, result.stderr
    assert result.lines[1].split()[0] == "pod/solo"
    blank = result.lines.index("")
    assert result.lines[blank + 1].split()[:2] == ["NAME", "TYPE"]
    assert result.lines[blank + 2].split()[:2] == ["service/front", "ClusterIP"]
    assert len(result.lines) == blank + 3
