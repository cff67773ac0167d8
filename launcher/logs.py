"""Process-wide logging set-up shared by every ``kemu`` subcommand."""

from __future__ import annotations

import logging
import os


def configure(level: str, component: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {component} %(name)s: %(message)s",
    )
    # gRPC's C core is chatty about fork and polling; keep it to errors.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
