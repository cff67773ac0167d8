"""``kemuctl``: the kubectl-like command line of kemu.

The group carries the global flags (``--server``/``KEMU_SERVER``, ``-n/--namespace``) and turns
client-side errors raised anywhere in a command into kubectl's ``error: ...`` and exit code 1.
"""

from __future__ import annotations

from typing import Any

import click

from kemuctl import session
from kemuctl.commands import (
    apiresources,
    apply,
    create,
    delete,
    describe,
    drain,
    get,
    labels,
    nodes,
    rollout,
    scale,
    version,
)
from kemuctl.errors import CliError


class KemuctlGroup(click.Group):
    """Prints CliErrors raised while parsing or running a command the way kubectl does."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            session.err(str(exc))
            ctx.exit(1)


@click.group(cls=KemuctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@session.root_options
def main() -> None:
    """kemuctl controls the kemu cluster emulator, the way kubectl controls Kubernetes.

    Find more information in docs/kemuctl.md.
    """


for command in (get.get, describe.describe, apply.apply, create.create, delete.delete,
                labels.label, labels.annotate, scale.scale, apiresources.api_resources,
                version.version, nodes.cordon, nodes.uncordon, nodes.taint, drain.drain,
                rollout.rollout):
    main.add_command(command)


if __name__ == "__main__":
    main()
