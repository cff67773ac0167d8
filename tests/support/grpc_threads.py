"""What gRPC's own threads in another process have done, read from /proc."""

from __future__ import annotations

from pathlib import Path

# The name gRPC gives the threads of its EventEngine pool (as /proc shows it).
EVENT_ENGINE_THREAD = "event_engine"


def event_engine_switches(pid: int) -> int:
    """Context switches so far of process ``pid``'s EventEngine threads, voluntary or not.

    With gRPC's defaults those threads carry every call's bytes, several switches a call; with
    kemu's choice of the I/O manager (launcher/grpc_io.py) they sit idle.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != EVENT_ENGINE_THREAD:
                continue
            status = (task / "status").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines()
                     if "ctxt_switches:" in line)
    return total
