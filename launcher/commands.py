"""``kemu up`` and ``kemu node ...`` (the cluster-on-this-machine commands)."""

from __future__ import annotations

from pathlib import Path

import click

from launcher import control
from launcher.options import build_timing, log_option, timing_options

DEFAULT_FOLDER = Path(".kemu/up")


@click.command()
@click.option("--nodes", type=click.IntRange(0, 1000), default=3, show_default=True,
              envvar="KEMU_NODES", help="How many kubelet processes to start.")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=DEFAULT_FOLDER,
              show_default=True, envvar="KEMU_UP_DIR", help="Data, logs and control socket.")
@click.option("--port", type=int, default=6443, show_default=True, envvar="KEMU_PORT",
              help="API port on 127.0.0.1.")
@click.option("--node-labels", default="", envvar="KEMU_NODE_LABELS",
              help="Per-node labels: 'node-1:disk=ssd,zone=a;node-2:zone=b'.")
@click.option("--labels", "common", default="", envvar="KEMU_LABELS",
              help="Labels for every node: 'k=v,k2=v2'.")
@click.option("--fresh", is_flag=True, help="Delete the folder's old state first.")
@timing_options
@log_option
def up(nodes: int, folder: Path, port: int, node_labels: str, common: str, fresh: bool,
       timing_profile: str, timing_overrides: tuple[str, ...], log_level: str) -> None:
    """Start etcd, the control plane and N nodes here; Ctrl-C stops them all."""
    from launcher.up import UpConfig, parse_labels, parse_node_labels, run_up

    build_timing(timing_profile, timing_overrides)  # fail early on bad values
    try:
        per_node, everywhere = parse_node_labels(node_labels), parse_labels(common)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    overrides = dict(o.split("=", 1) for o in timing_overrides)
    run_up(UpConfig(nodes=nodes, folder=folder, listen_port=port, timing_profile=timing_profile,
                    timing_overrides=overrides, node_labels=per_node, common_labels=everywhere,
                    fresh=fresh, log_level=log_level))


@click.group()
def node() -> None:
    """Add, stop, kill, freeze, thaw or restart node processes of a running 'kemu up'."""


def _send(folder: Path, message: dict[str, object]) -> None:
    try:
        reply = control.request(folder, message)
    except (ConnectionError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if not reply.get("ok"):
        raise click.ClickException(str(reply.get("message")))
    click.echo(reply.get("message"))


_folder_option = click.option("--dir", "folder", type=click.Path(path_type=Path),
                              default=DEFAULT_FOLDER, show_default=True, envvar="KEMU_UP_DIR")


@node.command("add")
@click.argument("name", required=False, default="")
@click.option("--labels", default="", help="k=v,k2=v2")
@click.option("--taints", default="", help="k=v:NoSchedule,k2:NoExecute")
@_folder_option
def node_add(name: str, labels: str, taints: str, folder: Path) -> None:
    """Start a new node process (named node-N if no NAME)."""
    from launcher.up import parse_labels

    _send(folder, {"op": "add", "name": name, "labels": parse_labels(labels),
                   "taints": [t for t in taints.split(",") if t]})


def _simple(op: str, help_text: str) -> None:
    @node.command(op, help=help_text)
    @click.argument("name")
    @_folder_option
    def command(name: str, folder: Path) -> None:
        _send(folder, {"op": op, "name": name})


_simple("kill", "SIGKILL the node's process: the node dies without warning.")
_simple("stop", "SIGTERM the node's process: the kubelet exits cleanly.")
_simple("freeze", "SIGSTOP the node's process: alive but silent.")
_simple("thaw", "SIGCONT a frozen node's process.")
_simple("restart", "Stop the node's process and start it again under the same name.")


@node.command("list")
@_folder_option
def node_list(folder: Path) -> None:
    """The node processes and their state."""
    _send(folder, {"op": "list"})


@click.command()
@click.option("--server", default="127.0.0.1:6443", envvar="KEMU_SERVER", show_default=True,
              help="Control plane address (the first of a comma-separated list is used).")
@click.option("--this-node", is_flag=True,
              help="Also require this host's Node (KEMU_NODE_NAME or the hostname) to be Ready.")
@click.option("--timeout", type=float, default=3.0, show_default=True)
def health(server: str, this_node: bool, timeout: float) -> None:
    """Exit 0 if the control plane serves (and, with --this-node, this node is Ready)."""
    import asyncio

    from launcher.health import check

    message = asyncio.run(check(server.split(",")[0].strip(), this_node, timeout))
    if message:
        raise click.ClickException(message)
    click.echo("ok")
