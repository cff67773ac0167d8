"""What an etcd watch costs per write, with and without the previous values.

The API server's watch cache follows every write through one etcd watch. Asked for previous
values (``prev_kv``), etcd reads the replaced value of every key it reports and sends it along;
the cache keeps its own copy of every object, so it does not ask. This benchmark updates
``--keys`` existing keys ``--rounds`` times over (updates, as binds and status writes are) while
one watch follows them, and reports etcd's CPU and this process's CPU per write, alternating
the two kinds of watch so that both see the same machine.

    python -m bench.watch_cost [--keys 1000] [--rounds 3] [--repeat 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import add_event_loop_option, load_note, run_benchmark, table, write_result
from bench.procstat import cpu_seconds
from controlplane.etcd_process import EmbeddedEtcd, EtcdConfig
from controlplane.storage.etcd import EtcdStore

VALUE = b"x" * 1500  # about one serialized pod
PREFIX = b"/watched/"


def _key(i: int) -> bytes:
    return PREFIX + f"{i:06d}".encode()


async def _updates(store: EtcdStore, revisions: dict[bytes, int], total: int,
                   concurrency: int) -> None:
    keys = list(revisions)
    counter = iter(range(total))

    async def writer() -> None:
        for i in counter:
            key = keys[i % len(keys)]
            written = await store.update(key, VALUE, revisions[key])
            revisions[key] = written.mod_revision

    # Writers never share a key at once: key i % n is written again only after n more writes.
    await asyncio.gather(*(writer() for _ in range(min(concurrency, len(keys)))))


async def _one(store: EtcdStore, etcd_pid: int, revisions: dict[bytes, int], previous: bool,
               total: int, concurrency: int) -> dict[str, Any]:
    start = await store.current_revision()
    seen = 0
    all_seen = asyncio.Event()
    opened = asyncio.Event()

    async def follow() -> None:
        nonlocal seen
        opened.set()
        async for _ in store.watch(PREFIX, start, previous=previous):
            seen += 1
            if seen >= total:
                all_seen.set()
                return

    watching = asyncio.create_task(follow())
    await opened.wait()
    etcd_before, own_before = cpu_seconds(etcd_pid), time.process_time()
    await _updates(store, revisions, total, concurrency)
    await asyncio.wait_for(all_seen.wait(), 60)
    etcd_used, own_used = cpu_seconds(etcd_pid) - etcd_before, time.process_time() - own_before
    watching.cancel()
    return {"prev_kv": previous, "writes": total,
            "etcd_cpu_us_per_write": etcd_used / total * 1e6,
            "client_cpu_us_per_write": own_used / total * 1e6}


async def _run(keys: int, rounds: int, repeat: int, concurrency: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        etcd = EmbeddedEtcd(EtcdConfig(data_dir=Path(tmp), unsafe_no_fsync=True))
        await etcd.start()
        store = EtcdStore([etcd.endpoint])
        try:
            await store.wait_ready(30)
            assert etcd.pid is not None  # the etcd binary itself (EmbeddedEtcd starts it)
            etcd_pid = etcd.pid
            revisions: dict[bytes, int] = {}
            for i in range(keys):
                revisions[_key(i)] = (await store.create(_key(i), VALUE)).mod_revision
            rows = []
            for _ in range(repeat):
                for previous in (True, False):
                    rows.append(await _one(store, etcd_pid, revisions, previous, keys * rounds,
                                           concurrency))
            return rows
        finally:
            await store.close()
            await etcd.stop()


def _medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for previous in (True, False):
        mine = [r for r in rows if r["prev_kv"] is previous]
        out.append({"prev_kv": previous, "runs": len(mine), **{
            name: statistics.median(r[name] for r in mine)
            for name in ("etcd_cpu_us_per_write", "client_cpu_us_per_write")}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="writes per key in each run")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each kind of watch")
    parser.add_argument("--concurrency", type=int, default=8)
    add_event_loop_option(parser)
    options = parser.parse_args()
    load = load_note()
    rows = run_benchmark(_run(options.keys, options.rounds, options.repeat, options.concurrency),
                         options.event_loop)
    columns = ["prev_kv", "writes", "etcd_cpu_us_per_write", "client_cpu_us_per_write"]
    print(table(rows, columns))
    medians = _medians(rows)
    print("\nmedians")
    print(table(medians, ["prev_kv", "runs", *columns[2:]]))
    print(f"load before: {load['load1']}")
    path = write_result("watch_cost", {"rows": rows, "medians": medians, **load})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
