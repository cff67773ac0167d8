"""``kemuctl apply -f``: create what is missing, patch what the manifests changed, and say
``created``, ``configured`` or ``unchanged`` for each object, as kubectl's client-side apply."""

from __future__ import annotations

import json
from typing import Any

import click

from kemu.api import codec
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.manifest import Manifest
from kemuctl import session
from kemuctl.applying import (
    LAST_APPLIED,
    annotated,
    normalized,
    retain_keys_of,
    three_way_patch,
)
from kemuctl.errors import CliError, server_error
from kemuctl.gojson import marshal
from kemuctl.manifests import load

MISSING_ANNOTATION = (
    "Warning: resource {resource}/{name} is missing the "
    "kubectl.kubernetes.io/last-applied-configuration annotation which is required by kubectl "
    "apply. kubectl apply should only be used on resources created declaratively by either "
    "kubectl create --save-config or kubectl apply. The missing annotation will be patched "
    "automatically.")


def target_namespace(manifest: Manifest, config: session.Settings) -> str:
    """The namespace a manifest's object goes to; a clash with an explicit -n is an error."""
    if not manifest.kind.namespaced:
        return ""
    declared = manifest.obj.metadata.namespace
    if declared and config.namespace_explicit and declared != config.namespace:
        raise CliError(f'the namespace from the provided object "{declared}" does not match the '
                       f'namespace "{config.namespace}". You must pass \'--namespace={declared}\' '
                       "to perform this operation.")
    return str(declared or config.namespace)


class StepFailed(Exception):
    """An API call of an apply failed; ``context`` says which, in kubectl's words."""

    def __init__(self, context: str, error: ApiError):
        super().__init__(error.message)
        self.context = context
        self.error = error


def _resource(manifest: Manifest, namespace: str) -> str:
    kind = manifest.kind
    group_version = f"{kind.group}/{kind.version}"
    return (f'Resource: "{group_version}, Resource={kind.plural}", GroupVersionKind: '
            f'"{group_version}, Kind={kind.name}"\nName: "{manifest.obj.metadata.name}", '
            f'Namespace: "{namespace}"')


async def apply_manifest(client: GrpcClient, manifest: Manifest, namespace: str) -> str:
    """Apply one object; return kubectl's verb for what happened."""
    source = manifest.source or "STDIN"
    kind = manifest.kind
    name = manifest.obj.metadata.name
    if not name:
        if manifest.obj.metadata.generate_name:
            raise CliError(f"from {manifest.source}: cannot use generate name with apply")
        raise CliError("resource name may not be empty")
    modified, _ = annotated(manifest.document, namespace)
    try:
        current: Any = await client.get(kind.message, name, namespace)
    except ApiError as exc:
        if exc.reason != "NotFound":
            raise StepFailed("error when retrieving current configuration of:\n"
                             f'{_resource(manifest, namespace)}\nfrom server for: "{source}": ',
                             exc) from None
        try:
            await client.create(codec.decode(kind.message, modified))
        except ApiError as failed:
            raise StepFailed(f'error when creating "{source}": ', failed) from None
        return "created"
    current_doc = codec.encode(current)
    original: dict[str, Any] | None = None
    recorded = current.metadata.annotations.get(LAST_APPLIED)
    if recorded is None:
        session.err(MISSING_ANNOTATION.format(resource=kind.qualified_plural, name=name))
    else:
        try:
            raw = json.loads(recorded)
        except ValueError:
            raw = None
        original = normalized(kind, raw) if isinstance(raw, dict) else None
    patch = three_way_patch(original, normalized(kind, modified) or modified, current_doc,
                            retain_keys_of(kind))
    if not patch:
        return "unchanged"
    try:
        await client.patch(kind.message, name, namespace, patch, patch_type="merge")
    except ApiError as exc:
        raise StepFailed(f"error when applying patch:\n{marshal(patch)}\nto:\n"
                         f'{_resource(manifest, namespace)}\nfor: "{source}": error when '
                         f'patching "{source}": ', exc) from None
    return "configured"


@click.command("apply")
@click.option("-f", "--filename", multiple=True, required=True,
              help="The files, directories or - (stdin) that contain the configuration to apply.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory in -f recursively.")
@click.option("-o", "--output", default="", type=click.Choice(["", "name"]),
              help="Output format: name prints only resource/name.")
@session.global_options
def apply(filename: tuple[str, ...], recursive: bool, output: str) -> None:
    """Apply a configuration to a resource by file name or stdin."""
    config = session.settings()
    loaded = load(filename, recursive)

    async def action(client: GrpcClient) -> int:
        failed = False
        for item in loaded:
            if item.manifest is None:
                session.err(item.error)
                failed = True
                continue
            manifest = item.manifest
            for warning in manifest.warnings:
                session.err(f"Warning: {warning}")
            kind = manifest.kind
            try:
                namespace = target_namespace(manifest, config)
                verb = await apply_manifest(client, manifest, namespace)
            except CliError as exc:
                session.err(str(exc))
                failed = True
                continue
            except StepFailed as exc:
                session.check_reachable(client, exc.error)
                session.err(server_error(exc.error, exc.context))
                failed = True
                continue
            reference = f"{kind.qualified_singular}/{manifest.obj.metadata.name}"
            session.out(reference if output == "name" else f"{reference} {verb}")
        return 1 if failed else 0

    session.run(action)
