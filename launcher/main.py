"""``kemu``: run a control plane, a kubelet, or a whole local cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from launcher.logs import configure
from launcher.options import build_timing, log_option, timing_options


@click.group()
@click.version_option(package_name="kemu")
def main() -> None:
    """kemu: a Kubernetes-style cluster whose nodes are real processes."""


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
@timing_options
@log_option
def controlplane(listen: str, etcd_endpoints: str, data_dir: Path, etcd_client_port: int,
                 etcd_unsafe_no_fsync: bool, metrics_listen: str, identity: str,
                 controllers: str, no_controllers: bool, compaction_interval: float,
                 ready_file: Path | None, timing_profile: str,
                 timing_overrides: tuple[str, ...], log_level: str) -> None:
    """Run the API server, scheduler and controllers over etcd."""
    from controlplane.config import ControlPlaneConfig, default_identity
    from controlplane.server import ControlPlane, run

    configure(log_level, "controlplane")
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

    asyncio.run(run(config, announce))


def _register() -> None:
    from launcher.commands import health, node, up

    main.add_command(up)
    main.add_command(node)
    main.add_command(health)


_register()

if __name__ == "__main__":
    main()
