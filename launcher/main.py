"""``kemu``: run a control plane, a kubelet, or a whole local cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from launcher import collector, eventloop, grpc_io
from launcher.logs import configure
from launcher.options import build_timing, event_loop_option, log_option, timing_options

T = TypeVar("T")


@click.group()
@click.version_option(package_name="kemu")
def main() -> None:
    """kemu: a Kubernetes-style cluster whose nodes are real processes."""
    # Every subcommand imports gRPC only once it runs, after this.
    grpc_io.configure()


@main.command()
@click.option("--listen", default="127.0.0.1:6443", envvar="KEMU_LISTEN", show_default=True,
              help="Address the API serves gRPC on (port 0 picks a free one).")
@click.option("--etcd-endpoints", default="", envvar="KEMU_ETCD_ENDPOINTS",
              help="Comma-separated etcd client URLs; empty starts a private etcd.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path(".kemu/controlplane"),
              envvar="KEMU_DATA_DIR", show_default=True,
              help="Where the private etcd keeps its data.")
@click.option("--etcd-client-port", type=int, default=0, envvar="KEMU_ETCD_CLIENT_PORT",
              help="Client port of the private etcd (0: remembered or free).")
@click.option("--etcd-unsafe-no-fsync", is_flag=True, envvar="KEMU_ETCD_UNSAFE_NO_FSYNC",
              help="Private etcd skips fsync (fast, loses data on power loss; tests only).")
@click.option("--metrics-listen", default="", envvar="KEMU_METRICS_LISTEN",
              help="host:port for Prometheus metrics (empty: off).")
@click.option("--identity", default="", envvar="KEMU_IDENTITY",
              help="Name in leader election (default: hostname_pid).")
@click.option("--controllers", default="*", envvar="KEMU_CONTROLLERS", show_default=True,
              help="Controllers to run: '*', names, or '-name' to leave one out.")
@click.option("--no-controllers", is_flag=True, envvar="KEMU_NO_CONTROLLERS",
              help="Serve the API only.")
@click.option("--compaction-interval", type=float, default=300.0,
              envvar="KEMU_COMPACTION_INTERVAL", show_default=True,
              help="Seconds of etcd history kept before compaction.")
@click.option("--ready-file", type=click.Path(path_type=Path), default=None,
              envvar="KEMU_READY_FILE", help="Write the serving address here once ready.")
@click.option("--gc-threshold", type=click.IntRange(min=1),
              default=collector.CONTROLPLANE_THRESHOLD, envvar="KEMU_GC_THRESHOLD",
              show_default=True,
              help="Allocations between collections of the garbage collector's youngest "
                   f"generation (Python's default: {collector.PYTHON_THRESHOLD}).")
@timing_options
@log_option
@event_loop_option
def controlplane(listen: str, etcd_endpoints: str, data_dir: Path, etcd_client_port: int,
                 etcd_unsafe_no_fsync: bool, metrics_listen: str, identity: str,
                 controllers: str, no_controllers: bool, compaction_interval: float,
                 ready_file: Path | None, gc_threshold: int, timing_profile: str,
                 timing_overrides: tuple[str, ...], log_level: str, event_loop: str) -> None:
    """Run the API server, scheduler and controllers over etcd."""
    from controlplane.config import ControlPlaneConfig, default_identity
    from controlplane.server import ControlPlane, run

    configure(log_level, "controlplane")
    grpc_io.announce()
    collector.set_young_threshold(gc_threshold)
    config = ControlPlaneConfig(
        listen=listen,
        etcd_endpoints=[e.strip() for e in etcd_endpoints.split(",") if e.strip()],
        data_dir=data_dir, etcd_client_port=etcd_client_port,
        etcd_unsafe_no_fsync=etcd_unsafe_no_fsync,
        timing=build_timing(timing_profile, timing_overrides), metrics_listen=metrics_listen,
        identity=identity or default_identity(), run_controllers=not no_controllers,
        controllers=[c.strip() for c in controllers.split(",") if c.strip()],
        compaction_interval=compaction_interval)

    def announce(plane: ControlPlane) -> None:
        click.echo(f"kemu control plane serving on {plane.address}", err=True)
        if ready_file:
            ready_file.write_text(plane.address)

    eventloop.run(run(config, announce), event_loop)


@main.command()
@click.option("--node-name", default="", envvar="KEMU_NODE_NAME",
              help="Name of the Node (default: the host name).")
@click.option("--server", "servers", default="127.0.0.1:6443", envvar="KEMU_SERVER",
              show_default=True,
              help="Control plane address(es), host:port[,host:port...]; the kubelet fails "
                   "over between them.")
@click.option("--labels", default="", envvar="KEMU_LABELS", metavar="K=V,...",
              help="Labels of a newly registered Node (besides kubernetes.io/hostname, os, arch).")
@click.option("--taints", default="", envvar="KEMU_TAINTS", metavar="KEY[=VALUE]:EFFECT,...",
              help="Taints of a newly registered Node (like --register-with-taints).")
@click.option("--capacity", default="", envvar="KEMU_CAPACITY", metavar="NAME=QUANTITY,...",
              help="Node capacity over the defaults cpu=4,memory=8Gi,pods=110,"
                   "ephemeral-storage=100Gi.")
@click.option("--node-ip", default="", envvar="KEMU_NODE_IP",
              help="InternalIP to report (default: a fake one derived from the pod CIDR).")
@click.option("--metrics-listen", default="", envvar="KEMU_METRICS_LISTEN",
              help="host:port for Prometheus metrics (empty: off).")
@timing_options
@log_option
@event_loop_option
def kubelet(node_name: str, servers: str, labels: str, taints: str, capacity: str, node_ip: str,
            metrics_listen: str, timing_profile: str, timing_overrides: tuple[str, ...],
            log_level: str, event_loop: str) -> None:
    """Run one emulated node: register it, heartbeat, and run its pods in the fake runtime."""
    from kemu.client.nodeagent import parse_servers
    from kubelet import config as kubelet_config

    def checked(what: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except ValueError as exc:
            message = str(exc).removeprefix(f"{what.lstrip('-')}: ")
            raise click.BadParameter(message, param_hint=f"'{what}'") from None

    name = checked("--node-name", lambda: kubelet_config.check_node_name(
        node_name or kubelet_config.default_node_name()))
    config = kubelet_config.KubeletConfig(
        node_name=name,
        servers=checked("--server", lambda: parse_servers(servers)),
        labels=checked("--labels", lambda: kubelet_config.parse_labels(labels)),
        taints=checked("--taints", lambda: kubelet_config.parse_taints(taints)),
        capacity=checked("--capacity", lambda: kubelet_config.parse_capacity(capacity)),
        node_ip=checked("--node-ip", lambda: _ip(node_ip)),
        timing=build_timing(timing_profile, timing_overrides),
        metrics_listen=metrics_listen)
    configure(log_level, f"kubelet[{name}]")
    grpc_io.announce()
    from kemu.api.errors import ApiError
    from kubelet.server import run

    try:
        eventloop.run(run(config), event_loop)
    except ApiError as exc:
        raise click.ClickException(f"node {name} was refused: {exc}") from None


def _ip(text: str) -> str:
    if not text:
        return ""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def _register() -> None:
    from launcher.commands import health, node, up

    main.add_command(up)
    main.add_command(node)
    main.add_command(health)


_register()

if __name__ == "__main__":
    main()
