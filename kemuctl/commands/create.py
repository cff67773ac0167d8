"""``kemuctl create -f``: create every object the manifests describe; ``kemuctl create job``
(``create_job``) makes a Job from a CronJob or an image."""

from __future__ import annotations

import click

from kemu.api import codec
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.applying import annotated
from kemuctl.commands.apply import target_namespace
from kemuctl.commands.create_job import create_job
from kemuctl.errors import CliError, server_error
from kemuctl.manifests import load


@click.group("create", invoke_without_command=True)
@click.option("-f", "--filename", multiple=True,
              help="The files, directories or - (stdin) that contain the configuration to create.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory in -f recursively.")
@click.option("--save-config", is_flag=True,
              help="Record the configuration in the last-applied-configuration annotation, so "
                   "that apply works on the object later.")
@click.option("-o", "--output", default="", type=click.Choice(["", "name"]),
              help="Output format: name prints only resource/name.")
@session.global_options
@click.pass_context
def create(ctx: click.Context, filename: tuple[str, ...], recursive: bool, save_config: bool,
           output: str) -> None:
    """Create a resource from a file or from stdin."""
    if ctx.invoked_subcommand is not None:
        return
    if not filename:
        raise click.UsageError("Missing option '-f' / '--filename'.")
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
            try:
                namespace = target_namespace(manifest, config)
            except CliError as exc:
                session.err(str(exc))
                failed = True
                continue
            obj = manifest.obj
            if save_config:
                modified, _ = annotated(manifest.document, namespace)
                obj = codec.decode(manifest.kind.message, modified)
            elif namespace:
                obj.metadata.namespace = namespace
            try:
                created = await client.create(obj)
            except ApiError as exc:
                session.check_reachable(client, exc)
                session.err(server_error(exc, f'error when creating "{item.source}": '))
                failed = True
                continue
            reference = f"{manifest.kind.qualified_singular}/{created.metadata.name}"
            session.out(reference if output == "name" else f"{reference} created")
        return 1 if failed else 0

    session.run(action)


create.add_command(create_job)
