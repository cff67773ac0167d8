"""A zygote for kubelet processes: imported once, forked per node.

Starting a kubelet as ``python -m launcher.main kubelet`` imports Python, asyncio, gRPC,
protobuf and the kubelet anew each time — a third of a CPU-second and ~20 MiB of private memory
per node. The zygote imports all of that once, freezes it (``gc.freeze``: the collector no
longer touches those objects, so their pages stay shared), and forks one child per node on
request. Each child is still one OS process per node, with its own session, log file and
environment, running exactly what ``kemu kubelet`` runs; killing it is killing the node.

Nothing gRPC runs in the zygote before a fork (gRPC must not be started in a process that
forks); the children create their channels themselves.

Protocol (used by LocalCluster with ``kubelet_launcher="fork"``): one JSON request per line on
stdin, ``{"argv": [...], "log": "path", "env": {...}}``, answered by one line on stdout: the
child's pid, or ``error: ...``. The zygote reaps its children; it exits when stdin closes.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from typing import Any, TextIO

from launcher import grpc_io


def _preload() -> None:
    """Import what every kubelet imports, so forked children share it."""
    import uvloop  # noqa: F401

    import kemu.client.nodeagent  # noqa: F401
    import kubelet.metrics
    import kubelet.server  # noqa: F401
    import launcher.main  # noqa: F401


def _reap(signum: int, frame: Any) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict[str, Any], started: int) -> None:
    """In the forked child: become the kubelet process the request describes. Never returns.
    ``started`` is closed once the child has its own session and log, which is when the
    zygote answers with its pid."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.close(started)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request.get("env", {}))
        # The preloaded objects stay frozen: collecting them would write to every page of
        # them and undo the sharing.
        from launcher.main import main

        main.main(args=list(request["argv"]), prog_name="kemu", standalone_mode=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(requests: TextIO, replies: TextIO) -> None:
    signal.signal(signal.SIGCHLD, _reap)
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            ready, started = os.pipe()
            pid = os.fork()
        except (ValueError, OSError) as exc:
            replies.write(f"error: {exc}\n")
            replies.flush()
            continue
        if pid == 0:
            os.close(ready)
            _child(request, started)
        os.close(started)
        os.read(ready, 1)  # end of file: the child closed its end, or exited
        os.close(ready)
        replies.write(f"{pid}\n")
        replies.flush()


def main() -> None:
    grpc_io.configure()  # before _preload imports gRPC; the children keep this choice
    _preload()
    gc.collect()
    gc.freeze()
    serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
