"""``kemuctl describe``: detailed descriptions with related events, for objects named exactly,
by name prefix, by selector, or all of a kind."""

from __future__ import annotations

import click

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.describe.catalog import describe_object
from kemuctl.errors import CliError, server_error
from kemuctl.fetch import Found, fetch_files, list_kind, namespace_for
from kemuctl.resources import parse_args


@click.command("describe")
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", default="", help="Selector (label query) to filter on.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Describe across all namespaces.")
@click.option("-f", "--filename", multiple=True, help="Files identifying the resources.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory in -f recursively.")
@click.option("--show-events", type=click.BOOL, default=True, is_flag=False, flag_value=True,
              help="If true, display events related to the described object.")
@session.global_options
def describe(args: tuple[str, ...], selector: str, all_namespaces: bool,
             filename: tuple[str, ...], recursive: bool, show_events: bool) -> None:
    """Show details of a specific resource or group of resources."""
    config = session.settings()
    if not args and not filename:
        raise CliError("You must specify the type of resource to describe. Use \"kemuctl "
                       "api-resources\" for a complete list of supported resources.")
    requests = parse_args(args) if args else []
    scope = "" if all_namespaces else config.namespace

    async def action(client: GrpcClient) -> int:
        errors: list[ApiError] = []
        found: list[Found] = []
        if filename:
            fetched, problems = await fetch_files(client, filename, recursive, config.namespace)
            for problem in problems:
                session.err(problem)
            found, errors = fetched.found, fetched.errors
        for request in requests:
            kind = request.kind
            if not request.names:
                for obj in await list_kind(client, kind, scope, label_selector=selector):
                    found.append(Found(kind, obj))
                continue
            for name in request.names:
                try:
                    obj = await client.get(kind.message, name, namespace_for(kind,
                                                                               config.namespace))
                    found.append(Found(kind, obj))
                    continue
                except ApiError as exc:
                    if exc.reason != "NotFound":
                        raise
                    missing = exc
                matches = [o for o in await list_kind(client, kind, config.namespace)
                           if o.metadata.name.startswith(name)]
                if not matches:
                    errors.append(missing)
                found.extend(Found(kind, o) for o in matches)
        texts = [await describe_object(client, item.kind, item.obj, show_events)
                 for item in found]
        if texts:
            session.out("\n\n".join(texts), nl=False)
        elif not errors:
            namespaced = not all_namespaces and all(r.kind.namespaced for r in requests)
            session.err(f"No resources found in {config.namespace} namespace." if namespaced
                        else "No resources found")
        for error in errors:
            session.err(server_error(error))
        return 1 if errors else 0

    session.run(action)
