"""``kemuctl apply`` and ``create`` against a real control plane, including the judged check on
the kiamol chapter 6 whoami manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.cli.conftest import Api, Kemuctl

pytestmark = pytest.mark.integration

WHOAMI = Path("/work/shared/manifests/kiamol/ch06/whoami")


def is_subset(part: Any, whole: Any, path: str = "") -> list[str]:
    """Where ``part`` is not contained in ``whole`` (empty when it is)."""
    if isinstance(part, dict):
        if not isinstance(whole, dict):
            return [f"{path}: expected an object, got {whole!r}"]
        problems = []
        for key, value in part.items():
            if key not in whole:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += is_subset(value, whole[key], f"{path}.{key}")
        return problems
    if isinstance(part, list):
        if not isinstance(whole, list) or len(part) != len(whole):
            return [f"{path}: expected {part!r}, got {whole!r}"]
        return [p for i, (a, b) in enumerate(zip(part, whole, strict=True))
                for p in is_subset(a, b, f"{path}[{i}]")]
    return [] if part == whole else [f"{path}: expected {part!r}, got {whole!r}"]


def test_kiamol_whoami_created_unchanged_configured_and_round_tripped(kemuctl: Kemuctl,
                                                                      namespace: str) -> None:
    first = kemuctl("apply", "-f", f"{WHOAMI}/", "-n", namespace)
    assert first.exit_code == 0, first.stderr
    assert sorted(first.lines) == ["replicaset.apps/whoami-web created",
                                   "service/whoami-web created"]

    again = kemuctl("apply", "-f", f"{WHOAMI}/", "-n", namespace)
    assert again.exit_code == 0, again.stderr
    assert sorted(again.lines) == ["replicaset.apps/whoami-web unchanged",
                                   "service/whoami-web unchanged"]

    update = WHOAMI / "update" / "whoami-replicas-3.yaml"
    scaled = kemuctl("apply", "-f", str(update), "-n", namespace)
    assert scaled.exit_code == 0, scaled.stderr
    assert scaled.lines == ["replicaset.apps/whoami-web configured"]

    shown = kemuctl("get", "rs", "whoami-web", "-o", "yaml", "-n", namespace)
    assert shown.exit_code == 0, shown.stderr
    live = yaml.safe_load(shown.stdout)
    manifest = yaml.safe_load(update.read_text())
    assert is_subset(manifest, live) == []
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["namespace"] == namespace
    assert live["metadata"]["uid"] and live["metadata"]["resourceVersion"]
    applied = yaml.safe_load(live["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["replicas"] == 3

    service = yaml.safe_load(kemuctl("get", "svc", "whoami-web", "-o", "yaml", "-n",
                                     namespace).stdout)
    assert is_subset(yaml.safe_load((WHOAMI / "whoami-service.yaml").read_text()), service) == []


def test_fields_removed_from_the_manifest_are_removed(kemuctl: Kemuctl, namespace: str,
                                                     tmp_path: Path, api: Api) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n"
                    "    app: web\n    tier: front\ndata:\n  a: '1'\n  b: '2'\n")
    assert kemuctl("apply", "-f", str(path), "-n", namespace).lines == [
        "configmap/settings created"]
    assert kemuctl("label", "cm", "settings", "owner=ops", "-n", namespace).exit_code == 0
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n"
                    "    app: web\ndata:\n  a: '1'\n")
    assert kemuctl("apply", "-f", str(path), "-n", namespace).lines == [
        "configmap/settings configured"]
    live = api.get("ConfigMap", "settings", namespace)
    assert dict(live.metadata.labels) == {"app": "web", "owner": "ops"}
    assert dict(live.data) == {"a": "1"}
    assert kemuctl("apply", "-f", str(path), "-n", namespace).lines == [
        "configmap/settings unchanged"]


def test_bad_documents_are_reported_and_the_rest_applied(kemuctl: Kemuctl, namespace: str,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: broken\nspec:\n"
        "  replicas: three\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: b\nfoo: bar\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n")
    result = kemuctl("apply", "-f", str(path), "-n", namespace)
    assert result.exit_code == 1
    assert result.lines == ["configmap/fine created"]
    errors = result.stderr.splitlines()
    assert errors[0] == ('error: ReplicaSet "broken" in version "apps/v1" cannot be handled as a '
                         'ReplicaSet: spec.replicas: Invalid value: "three": expected an integer, '
                         f"got string (from {path})")
    assert 'Warning: unknown field "foo"' in errors
    assert any(e.startswith(f'Error from server (Invalid): error when creating "{path}": '
                            'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: '
                            '"Bad_Name"') for e in errors), errors


def test_apply_from_stdin_and_a_namespace_clash(kemuctl: Kemuctl, namespace: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: piped\n  namespace: other\n"
    clash = kemuctl("apply", "-f", "-", "-n", namespace, input=manifest)
    assert clash.exit_code == 1
    assert clash.stderr.strip() == (
        f'error: the namespace from the provided object "other" does not match the namespace '
        f'"{namespace}". You must pass \'--namespace=other\' to perform this operation.')
    piped = kemuctl("apply", "-f", "-", "-n", namespace,
                    input=manifest.replace("  namespace: other\n", ""))
    assert piped.lines == ["configmap/piped created"]


def test_missing_path(kemuctl: Kemuctl) -> None:
    result = kemuctl("apply", "-f", "/nonexistent/manifest.yaml")
    assert result.exit_code == 1
    assert result.stderr.strip() == 'error: the path "/nonexistent/manifest.yaml" does not exist'


def test_create_then_already_exists(kemuctl: Kemuctl, namespace: str, api: Api) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: once\n"
    assert kemuctl("create", "-f", "-", "-n", namespace, input=manifest).lines == [
        "configmap/once created"]
    again = kemuctl("create", "-f", "-", "-n", namespace, input=manifest)
    assert again.exit_code == 1
    assert again.stderr.strip() == ('Error from server (AlreadyExists): error when creating '
                                    '"STDIN": configmaps "once" already exists')
    created = api.get("ConfigMap", "once", namespace)
    assert "kubectl.kubernetes.io/last-applied-configuration" not in created.metadata.annotations
    warned = kemuctl("apply", "-f", "-", "-n", namespace,
                     input=manifest + "data:\n  k: v\n")
    assert warned.lines == ["configmap/once configured"]
    assert "is missing the kubectl.kubernetes.io/last-applied-configuration annotation" in \
        warned.stderr


def test_recursive_directories(kemuctl: Kemuctl, namespace: str, tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "top.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\n")
    (nested / "deep.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n")
    (nested / "notes.txt").write_text("not a manifest")
    assert kemuctl("apply", "-f", str(tmp_path), "-n", namespace).lines == [
        "configmap/top created"]
    assert kemuctl("apply", "-f", str(tmp_path), "-R", "-n", namespace).lines == [
        "configmap/deep created", "configmap/top unchanged"]
