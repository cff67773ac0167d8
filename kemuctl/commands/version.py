"""``kemuctl version``: the client's version and whether the kemu API answers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

import click

from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from kemuctl import session
from kemuctl.gojson import marshal_indent, to_yaml


def client_version() -> str:
    try:
        return "v" + package_version("kemu")
    except PackageNotFoundError:
        return "v0.0.0-unknown"


@click.command("version")
@click.option("--client", "client_only", is_flag=True,
              help="Show the client version only (no server required).")
@click.option("-o", "--output", default="", type=click.Choice(["", "yaml", "json"]),
              help="One of 'yaml' or 'json'.")
@session.global_options
def version(client_only: bool, output: str) -> None:
    """Print the client version and the server this client talks to."""
    config = session.settings()
    info: dict[str, Any] = {"clientVersion": {"gitVersion": client_version(), "platform": "kemu"}}

    def show() -> None:
        if output == "json":
            session.out(marshal_indent(info))
        elif output == "yaml":
            session.out(to_yaml(info), nl=False)
        else:
            session.out(f"Client Version: {info['clientVersion']['gitVersion']}")
            if "serverVersion" in info:
                server = info["serverVersion"]
                session.out(f"Server Version: {server['gitVersion']} ({server['address']}, "
                            f"API {server['api']})")

    if client_only:
        show()
        return

    async def action(client: GrpcClient) -> int:
        await client.get(core_pb2.Namespace, "default")
        info["serverVersion"] = {"gitVersion": "kemu", "api": "kemu.v1", "address": config.server}
        show()
        return 0

    session.run(action)
