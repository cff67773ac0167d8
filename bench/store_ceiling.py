"""Raw store ceiling: etcd writes per second from one Python process on this machine.

This is the physical limit every other figure is compared with. It measures our storage
contract's create (one etcd transaction per write, as the API server does it) sequentially and
with N concurrent writers, against a private etcd with and without fsync.

    python -m bench.store_ceiling [--writes 3000] [--concurrency 1,8,32,128]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import add_event_loop_option, load_note, run_benchmark, summary, table, write_result
from controlplane.etcd_process import EmbeddedEtcd, EtcdConfig
from controlplane.storage.etcd import EtcdStore

VALUE = b"x" * 1500  # about one serialized pod


async def _writes(store: EtcdStore, total: int, concurrency: int, tag: str) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def writer() -> None:
        for i in counter:
            started = time.perf_counter()
            await store.create(f"/bench/{tag}/{i:08d}".encode(), VALUE)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    cpu_started = time.process_time()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    # This process only (the event loop and gRPC's poller thread), not etcd: what one etcd
    # transaction costs any Python component that writes (the control plane makes ~8 per pod).
    client_cpu = time.process_time() - cpu_started
    stats = summary(latencies)
    return {"concurrency": concurrency, "writes": total, "seconds": elapsed,
            "writes_per_s": total / elapsed, "p50_ms": stats["p50"] * 1000,
            "p99_ms": stats["p99"] * 1000, "client_cpu_us_per_write": client_cpu / total * 1e6}


async def _run(writes: int, levels: list[int], fsync: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        etcd = EmbeddedEtcd(EtcdConfig(data_dir=Path(tmp), unsafe_no_fsync=not fsync))
        await etcd.start()
        store = EtcdStore([etcd.endpoint])
        try:
            await store.wait_ready(30)
            rows = []
            for level in levels:
                row = await _writes(store, writes, level, f"{fsync}-{level}")
                row["fsync"] = "on" if fsync else "off"
                rows.append(row)
            return rows
        finally:
            await store.close()
            await etcd.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,8,32,128")
    add_event_loop_option(parser)
    options = parser.parse_args()
    levels = [int(x) for x in options.concurrency.split(",")]
    load = load_note()
    rows: list[dict[str, Any]] = []
    for fsync in (True, False):
        rows += run_benchmark(_run(options.writes, levels, fsync), options.event_loop)
    print(table(rows, ["fsync", "concurrency", "writes", "writes_per_s", "p50_ms", "p99_ms",
                       "client_cpu_us_per_write"]))
    print(f"load before: {load['load1']}")
    path = write_result("store_ceiling", {"rows": rows, **load})
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
