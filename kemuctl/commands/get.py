"""``kemuctl get``: list or fetch objects and print them as kubectl does, optionally watching."""

from __future__ import annotations

import click

from kemu.api.errors import not_found_error
from kemu.client.grpc_client import GrpcClient
from kemuctl import session
from kemuctl.errors import CliError, server_error
from kemuctl.fetch import Fetched, Found, fetch, fetch_files, namespace_for, sort_key
from kemuctl.printers.output import OutputFormat, check_template, document, parse_output
from kemuctl.printers.render import Renderer
from kemuctl.printers.sorting import sort_documents
from kemuctl.printers.table import TableOptions
from kemuctl.resources import Request, parse_args

MISSING_TYPE = ('You must specify the type of resource to get. Use "kemuctl api-resources" for a '
                "complete list of supported resources.\n\nerror: Required resource not "
                "specified.\nSee 'kemuctl get -h' for help and examples")


def _label_columns(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k.strip() for v in values for k in v.split(",") if k.strip())


@click.command("get")
@click.argument("args", nargs=-1)
@click.option("-o", "--output", default="", help="Output format: json, yaml, name, wide, "
              "jsonpath=..., jsonpath-file=..., custom-columns=..., custom-columns-file=...")
@click.option("-l", "--selector", default="", help="Selector (label query) to filter on.")
@click.option("--field-selector", default="", help="Selector (field query) to filter on.")
@click.option("-A", "--all-namespaces", is_flag=True,
              help="List the requested object(s) across all namespaces.")
@click.option("--show-labels", is_flag=True, help="Show all labels as the last column.")
@click.option("-L", "--label-columns", multiple=True,
              help="Labels to present as columns (comma-separated or repeated).")
@click.option("-w", "--watch", is_flag=True, help="After listing/getting, watch for changes.")
@click.option("--watch-only", is_flag=True, help="Watch for changes without listing first.")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("--sort-by", default="", help="Sort list types using this JSONPath expression.")
@click.option("--show-kind", is_flag=True, help="List the resource type for the objects.")
@click.option("--ignore-not-found", is_flag=True,
              help="If the requested object does not exist the command will return exit code 0.")
@click.option("-f", "--filename", multiple=True, help="Files identifying the resources to get.")
@click.option("-R", "--recursive", is_flag=True, help="Process the directory in -f recursively.")
@session.global_options
def get(args: tuple[str, ...], output: str, selector: str, field_selector: str,
        all_namespaces: bool, show_labels: bool, label_columns: tuple[str, ...], watch: bool,
        watch_only: bool, no_headers: bool, sort_by: str, show_kind: bool,
        ignore_not_found: bool, filename: tuple[str, ...], recursive: bool) -> None:
    """Display one or many resources."""
    config = session.settings()
    fmt = parse_output(output)
    check_template(fmt)
    if show_labels and not fmt.human:
        raise CliError(f"--show-labels option cannot be used with {output} printer")
    if not args and not filename:
        session.err(MISSING_TYPE)
        raise click.exceptions.Exit(1)
    requests = parse_args(args) if args else []
    options = TableOptions(wide=fmt.wide, with_namespace=all_namespaces, show_labels=show_labels,
                           label_columns=_label_columns(label_columns))
    renderer = Renderer(fmt, options, no_headers=no_headers)

    async def action(client: GrpcClient) -> int:
        if watch or watch_only:
            if sort_by:
                session.err("warning: --watch or --watch-only requested, --sort-by will be "
                            "ignored")
            return await _watch(client, requests, renderer, config.namespace, all_namespaces,
                                selector, field_selector, watch_only)
        if filename:
            fetched, problems = await fetch_files(client, filename, recursive, config.namespace)
        else:
            fetched = await fetch(client, requests, namespace=config.namespace,
                                  all_namespaces=all_namespaces, label_selector=selector,
                                  field_selector=field_selector)
            problems = []
        return _print(fetched, problems, renderer, fmt, sort_by, show_kind, ignore_not_found,
                      config.namespace, all_namespaces, requests)

    session.run(action)


def _print(fetched: Fetched, problems: list[str], renderer: Renderer, fmt: OutputFormat,
           sort_by: str, show_kind: bool, ignore_not_found: bool, namespace: str,
           all_namespaces: bool, requests: list[Request]) -> int:
    found = fetched.found
    if sort_by:
        found = sort_documents(found, [document(f.obj) for f in found], sort_by)
    kinds_found = {f.kind.name for f in found}
    text = renderer.everything(found, fetched.single, show_kind or len(kinds_found) > 1)
    session.out(text, nl=False)
    errors = [e for e in fetched.errors if not (ignore_not_found and e.reason == "NotFound")]
    if not text and fmt.human and not errors and not problems and not ignore_not_found:
        namespaced = not all_namespaces and all(r.kind.namespaced for r in requests)
        session.err(f"No resources found in {namespace} namespace." if namespaced
                    else "No resources found")
    for problem in problems:
        session.err(problem)
    for error in errors:
        session.err(server_error(error))
    return 1 if errors or problems else 0


async def _watch(client: GrpcClient, requests: list[Request], renderer: Renderer, namespace: str,
                 all_namespaces: bool, selector: str, field_selector: str,
                 watch_only: bool) -> int:
    if len(requests) != 1:
        raise CliError("you may only specify a single resource type")
    request = requests[0]
    kind = request.kind
    if len(request.names) > 1:
        raise CliError("watch is only supported on individual resources and resource "
                       "collections - more than 1 resource was found")
    if request.names:
        if selector or field_selector:
            raise CliError("selectors and the all flag cannot be used when passing "
                           "resource/name arguments")
        field_selector = f"metadata.name={request.names[0]}"
    scope = "" if all_namespaces else namespace_for(kind, namespace)
    listed = await client.list(kind.message, scope, label_selector=selector,
                               field_selector=field_selector)
    if request.names and not listed.items:
        raise not_found_error(kind.qualified_plural, request.names[0])
    if not watch_only:
        initial = [Found(kind, o) for o in sorted(listed.items, key=sort_key)]
        session.out(renderer.watch_rows(initial), nl=False)
    async for event in client.watch(kind.message, scope, label_selector=selector,
                                    field_selector=field_selector,
                                    resource_version=listed.resource_version):
        if event.object is None:
            continue
        session.out(renderer.watch_rows([Found(kind, event.object)]), nl=False)
    return 0
