"""Options several ``kemu`` subcommands share (timing profile and overrides, logging)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kemu import timing
from launcher import eventloop


def timing_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--timing", "timing_overrides", multiple=True, metavar="NAME=SECONDS",
                        help="Override one interval, e.g. node_monitor_grace_period=3 "
                             "(also KEMU_TIMING_<NAME>).")(func)
    func = click.option("--timing-profile", type=click.Choice(sorted(timing.PROFILES)),
                        default="default", show_default=True, envvar="KEMU_TIMING_PROFILE",
                        help="Kubernetes' own intervals, or the same ratios 20x faster.")(func)
    return func


def log_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--log-level", default="info", envvar="KEMU_LOG_LEVEL",
                        show_default=True,
                        type=click.Choice(["debug", "info", "warning", "error"]))(func)


def event_loop_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--event-loop", default=eventloop.DEFAULT_LOOP, envvar="KEMU_EVENT_LOOP",
                        show_default=True, type=click.Choice(eventloop.LOOPS),
                        help="The asyncio event loop the process runs on.")(func)


def build_timing(profile: str, overrides: tuple[str, ...]) -> timing.Timing:
    pairs: dict[str, str] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=SECONDS, got {item!r}", param_hint="'--timing'")
        pairs[name.strip()] = value.strip()
    try:
        return timing.load(profile, pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--timing'") from None
