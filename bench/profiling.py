"""Sampling profiles of running processes with py-spy, summarised as text.

A benchmark run with ``--profile`` attaches ``py-spy record`` to the control plane (and one
kubelet) for the measured interval and writes collapsed stacks to bench/results/; ``top``
prints where the samples fell, by function itself and by function including callees. py-spy is
a development tool, not a dependency: install it into the venv (``pip install py-spy``).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """``py-spy record`` of one process into a collapsed-stack file, until ``stop``."""

    def __init__(self, pid: int, output: Path, rate: int = 50):
        self.pid = pid
        self.output = output
        self.rate = rate
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        binary = py_spy()
        if binary is None:
            print("py-spy is not installed; no profile taken", file=sys.stderr)
            return False
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--format", "raw", "--nonblocking", "--function",
             "--rate", str(self.rate), "--output", str(self.output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return True

    def stop(self) -> Path | None:
        if self._process is None:
            return None
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        return self.output if self.output.exists() else None


def top(collapsed: Path, limit: int = 25, idle: tuple[str, ...] = ("select", "epoll_wait",
                                                                     "_run_once")) -> str:
    """The functions holding most samples: self time and inclusive time, in percent."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        # An event loop waiting in select() is idle, not work.
        if any(word in frames[-1] for word in idle[:2]):
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "no busy samples"
    lines = [f"busy samples: {total}", "", "self %   function"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in own.most_common(limit)]
    lines += ["", "incl %   function"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in inclusive.most_common(limit)]
    return "\n".join(lines)


def main() -> None:
    """``python -m bench.profiling FILE``: summarise a collapsed-stack profile."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--limit", type=int, default=30)
    options = parser.parse_args()
    print(top(options.file, options.limit))


if __name__ == "__main__":
    main()
