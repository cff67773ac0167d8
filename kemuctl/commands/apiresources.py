"""``kemuctl api-resources``: the kinds the kemu API serves, in kubectl's layout."""

from __future__ import annotations

import click

from kemu.api import kinds
from kemuctl import session
from kemuctl.errors import CliError
from kemuctl.tabwriter import table_writer

VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


@click.command("api-resources")
@click.option("--namespaced", type=click.BOOL, default=None,
              help="true: only namespaced resources; false: only cluster-scoped ones.")
@click.option("--api-group", default=None, help="Limit to resources in this API group.")
@click.option("--sort-by", default="", help="Sort by 'name' or 'kind'.")
@click.option("-o", "--output", default="", help="Output format: wide or name.")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("--verbs", default="", help="Limit to resources that support these verbs.")
@session.global_options
def api_resources(namespaced: bool | None, api_group: str | None, sort_by: str, output: str,
                  no_headers: bool, verbs: str) -> None:
    """Print the supported API resources on the server."""
    if output not in ("", "wide", "name"):
        raise CliError(f"--output {output} is not available")
    if sort_by not in ("", "name", "kind"):
        raise CliError("--sort-by accepts only name or kind")
    wanted = {v.strip() for v in verbs.split(",") if v.strip()}
    found = [k for k in kinds.all_kinds()
             if (namespaced is None or k.namespaced == namespaced)
             and (api_group is None or k.group == api_group)
             and wanted.issubset(VERBS)]

    def key(kind: kinds.Kind) -> tuple[str, str]:
        first = {"name": kind.plural, "kind": kind.name}.get(sort_by, kind.group)
        return (first, kind.plural)

    found.sort(key=key)
    writer = table_writer()
    if not no_headers and output != "name":
        headers = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if output == "wide":
            headers.append("VERBS")
        writer.write("\t".join(headers) + "\n")
    for kind in found:
        if output == "name":
            writer.write(kind.qualified_plural + "\n")
            continue
        cells = [kind.plural, ",".join(kind.short_names), kind.api_version,
                 "true" if kind.namespaced else "false", kind.name]
        if output == "wide":
            cells.append("[" + " ".join(VERBS) + "]")
        writer.write("\t".join(cells) + "\n")
    session.out(writer.flush(), nl=False)
