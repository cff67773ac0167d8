"""What every command shares: the global flags, the API client, and how a command ends.

Commands are synchronous click functions; each builds a coroutine over the async
``GrpcClient`` and hands it to ``run``, which prints errors the way kubectl does and sets the
exit code.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import grpc

from kemu.api.errors import ApiError, Code
from kemu.client.grpc_client import DEFAULT_SERVER, GrpcClient
from kemuctl.errors import CliError, Unreachable, server_error, unreachable_message

F = TypeVar("F", bound=Callable[..., Any])

_SERVER_KEY = "kemuctl.server"
_NAMESPACE_KEY = "kemuctl.namespace"
DEFAULT_NAMESPACE = "default"
SERVER_ENV = "KEMU_SERVER"


@dataclass(frozen=True)
class Settings:
    server: str
    namespace: str
    namespace_explicit: bool


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value
    return store


def global_options(func: F, *, root: bool = False) -> F:
    """``-s/--server`` and ``-n/--namespace``, accepted before or after the command name."""
    func = click.option("-n", "--namespace", default=None, expose_value=False,
                        callback=_remember(_NAMESPACE_KEY),
                        help="If present, the namespace scope for this CLI request.")(func)
    func = click.option("-s", "--server", default=None, expose_value=False,
                        envvar=SERVER_ENV if root else None, callback=_remember(_SERVER_KEY),
                        help=f"The address of the kemu API server (env {SERVER_ENV}; default "
                             f"{DEFAULT_SERVER}).")(func)
    return func


def root_options(func: F) -> F:
    return global_options(func, root=True)


def settings() -> Settings:
    meta = click.get_current_context().meta
    namespace = meta.get(_NAMESPACE_KEY)
    return Settings(server=meta.get(_SERVER_KEY) or DEFAULT_SERVER,
                    namespace=namespace or DEFAULT_NAMESPACE,
                    namespace_explicit=namespace is not None)


def out(text: str = "", *, nl: bool = True) -> None:
    click.echo(text, nl=nl)


def err(text: str) -> None:
    click.echo(text, err=True)


class Failed(Exception):
    """Errors were already printed; the command exits with ``code``."""

    def __init__(self, code: int = 1):
        super().__init__(code)
        self.code = code


Action = Callable[[GrpcClient], Awaitable[int | None]]


def run(action: Action) -> None:
    """Run ``action`` with a connected client; print failures like kubectl; exit non-zero."""
    config = settings()
    code = 0
    try:
        code = asyncio.run(_with_client(config.server, action)) or 0
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (``kemuctl get pods -w | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    except Failed as failed:
        code = failed.code
    except CliError as exc:
        err(str(exc))
        code = 1
    except Unreachable:
        err(unreachable_message(config.server))
        code = 1
    except ApiError as exc:
        err(server_error(exc))
        code = 1
    if code:
        sys.exit(code)


def check_reachable(client: GrpcClient, error: ApiError) -> None:
    """Raise Unreachable when ``error`` came from a channel that never connected."""
    if error.code == Code.UNAVAILABLE and \
            client.channel.get_state(try_to_connect=False) != grpc.ChannelConnectivity.READY:
        raise Unreachable() from None


async def _with_client(server: str, action: Action) -> int | None:
    client = GrpcClient(server)
    try:
        return await action(client)
    except ApiError as exc:
        check_reachable(client, exc)
        raise
    finally:
        await client.close()
