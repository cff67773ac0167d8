"""CPU and memory of processes, read from /proc: what a benchmark reports next to its timings.

RSS counts shared pages (the Python interpreter, grpc's library) once per process; USS (the
private pages) is what one more process of the same kind really costs, and PSS splits the shared
pages among their sharers. Linux only; on other systems every figure reads 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Memory:
    rss_kib: int = 0
    pss_kib: int = 0
    uss_kib: int = 0

    def __add__(self, other: Memory) -> Memory:
        return Memory(self.rss_kib + other.rss_kib, self.pss_kib + other.pss_kib,
                      self.uss_kib + other.uss_kib)

    def as_mib(self) -> dict[str, float]:
        return {"rss_mib": self.rss_kib / 1024, "pss_mib": self.pss_kib / 1024,
                "uss_mib": self.uss_kib / 1024}


def memory(pid: int) -> Memory:
    """RSS, PSS and USS of one process (zeros if it is gone)."""
    fields: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return Memory()
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0])
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(fields.get("Rss", 0), fields.get("Pss", 0), private)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (0.0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may hold spaces: the fields start after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def available_memory_mib() -> float:
    """MemAvailable of the machine."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class CpuMeter:
    """CPU used by a set of processes between ``start`` and ``stop``, as cores busy."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def start(self) -> None:
        import time

        self._wall = time.monotonic()
        self._start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def seconds(self) -> dict[str, float]:
        """Per process: the CPU seconds it used since ``start``."""
        return {name: cpu_seconds(pid) - self._start.get(name, 0.0)
                for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        """Per process: the average number of cores it kept busy since ``start``."""
        import time

        wall = max(1e-9, time.monotonic() - self._wall)
        return {name: used / wall for name, used in self.seconds().items()}
