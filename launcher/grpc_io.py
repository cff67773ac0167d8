"""Which of gRPC's two I/O paths kemu's processes use.

grpcio 1.85 moves the bytes of every call through its EventEngine by default: a pool of its own
threads does the socket work and hands each completion over to the thread that polls the
completion queue for asyncio. With three of gRPC's experiments turned off (the EventEngine's
client, listener and other endpoints) the older I/O manager does that work on the threads that
start a call and poll for its completion, with fewer hand-overs between threads. On this
project's 2-core machine a unary call served and answered in one process took about a fifth
less CPU that way, and the control plane and the kubelets 5-9 % less per pod in a pod burst
(docs/benchmarks.md, seventh round).

gRPC reads ``GRPC_EXPERIMENTS`` when it is first imported, so ``configure`` must run before any
``import grpc`` in the process (processes forked from the kubelet zygote keep the zygote's
choice). A value already in the environment, even an empty one (gRPC's own defaults), is kept.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("kemu.grpc")

ENVIRONMENT_VARIABLE = "GRPC_EXPERIMENTS"
IOMGR = "-event_engine_client,-event_engine_listener,-event_engine_for_all_other_endpoints"

# GRPC_EXPERIMENTS as gRPC will read it, when ``configure`` ran before gRPC was imported.
_chosen: str | None = None


def configure() -> None:
    """Choose the I/O manager unless the environment chose already; too late once gRPC is in."""
    global _chosen
    if "grpc" in sys.modules:
        return
    _chosen = os.environ.setdefault(ENVIRONMENT_VARIABLE, IOMGR)


def describe() -> str:
    if _chosen is None:
        return "as gRPC was imported (before kemu could choose)"
    if _chosen == IOMGR:
        return "I/O manager"
    if not _chosen.strip():
        return "EventEngine (gRPC's defaults)"
    return f"{ENVIRONMENT_VARIABLE}={_chosen}"


def announce() -> None:
    log.info("gRPC I/O: %s", describe())
