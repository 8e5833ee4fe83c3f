"""Online reshape and isolation on a real PostgreSQL, on a database shaped like the host's (adopted).

Every test compares the row count and an md5 over every row before and after (plus the rows writers
committed meanwhile), and checks that every row sits in its (sub-)partition. Writers and movers meet
at deterministic points (``Hooks`` and events), never after a sleep.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from semantik_chunks import partition_for, partition_table_name
from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.reshape import Hooks, PostgresTableReshaper
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.reshape import ReshapeError
from semantik_chunks.services.reshape import ReshapeService
from tests.integration import host_schema
from tests.postgres_servers import asyncpg_dsn, run_sql, with_database

EXTRA_COLUMN = "host_note"
# Every column but partition_key (which a reshape changes by design), in key order.
CHECKSUM = """
SELECT count(*), md5(string_agg(md5(ROW(id, collection_id, document_id, chunking_config_id,
       chunk_index, content, start_offset, end_offset, token_count, embedding_vector_id, metadata, created_at,
       updated_at, host_note)::text), '' ORDER BY collection_id, id))
FROM chunks
"""
MISPLACED = "SELECT count(*) FROM chunks WHERE partition_key <> abs(hashtext(collection_id) % chunk_partition_count())"
WRONG_TABLE = """
SELECT count(*) FROM chunks
WHERE tableoid::regclass::text NOT LIKE 'chunks\\_part\\_' || lpad(partition_key::text,
      greatest(2, length((chunk_partition_count() - 1)::text)), '0') || '%'
"""
HOST_CONTRACT_OBJECTS = (
    "partition_health_summary",
    "partition_chunk_distribution",
    "partition_size_distribution",
    "partition_hot_spots",
    "partition_stats",
    "partition_health",
)


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(fetch(url, sql, *args))


def checksum(url: str) -> tuple[int, str]:
    [record] = rows(url, CHECKSUM)
    return int(record[0]), str(record[1])


@pytest.fixture(scope="module")
def host_template(make_database: Callable[[], str]) -> str:
    """The host's database, adopted by the library, with a column and an index of the host's own."""
    url = make_database()
    asyncio.run(
        host_schema.build_host_database(
            asyncpg_dsn(url), collections=40, documents_per_collection=6, chunks_per_document=10
        )
    )
    migrate.upgrade(url, 100)
    run_sql(
        url,
        f"ALTER TABLE chunks ADD COLUMN {EXTRA_COLUMN} text DEFAULT 'kept'",
        f"CREATE INDEX ix_chunks_{EXTRA_COLUMN} ON chunks ({EXTRA_COLUMN})",
        f"UPDATE chunks SET {EXTRA_COLUMN} = 'note ' || id WHERE id % 5 = 0",
    )
    return url


@pytest.fixture
def db(pg_server_url: str, host_template: str) -> Iterator[str]:
    name = f"semantik_reshape_{uuid.uuid4().hex[:12]}"
    run_sql(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{make_url(host_template).database}"')
    yield with_database(pg_server_url, name)
    run_sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service(url: str, hooks: Hooks | None = None, batch_size: int = 50) -> tuple[ReshapeService, Any]:
    engine = create_engine(url)
    return ReshapeService(PostgresTableReshaper(engine, batch_size=batch_size, hooks=hooks)), engine


def run_service(url: str, work: Callable[[ReshapeService], Any], **kwargs: Any) -> Any:
    async def go() -> Any:
        svc, engine = service(url, **kwargs)
        try:
            return await work(svc)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def leftovers(url: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            url,
            "SELECT relname FROM pg_class WHERE relname LIKE 'rs\\_%' OR relname LIKE 'semantik_chunks_reshape_log'",
        )
    ]


def partition_names(url: str) -> list[str]:
    return [
        r[0]
        for r in rows(
            url,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'chunks'::regclass ORDER BY 1",
        )
    ]


def assert_shape(url: str, count: int) -> None:
    """The table, the routing, the CHECK and every monitoring object answer for ``count`` partitions."""
    assert partition_names(url) == [partition_table_name(i, count) for i in range(count)]
    assert rows(url, "SELECT chunk_partition_count()")[0][0] == count
    assert rows(url, MISPLACED)[0][0] == 0
    assert rows(url, WRONG_TABLE)[0][0] == 0
    for view in HOST_CONTRACT_OBJECTS:
        assert rows(url, f"SELECT count(*) FROM {view}")[0][0] == count, view
    [summary] = rows(url, "SELECT count(DISTINCT partition_num), sum(chunk_count) FROM partition_stats")
    assert summary[0] == count
    assert rows(url, "SELECT count(*) FROM analyze_partition_skew()")[0][0] == 3
    assert rows(url, "SELECT partitions_used > 0 FROM partition_distribution")[0][0] is True
    rows(url, "SELECT refresh_collection_chunking_stats()")
    [(collections, stats_rows)] = rows(
        url, "SELECT (SELECT count(*) FROM collections), (SELECT count(*) FROM collection_chunking_stats)"
    )
    assert collections == stats_rows
    wrong = rows(
        url, "SELECT count(*) FROM collection_chunking_stats WHERE partition_num <> get_partition_key(id::text)"
    )
    assert wrong[0][0] == 0
    name = rows(url, "SELECT get_partition_for_collection('abc')")[0][0]
    assert name == partition_table_name(partition_for("abc", count), count)
    # The primary key and the host's foreign keys, on every partition since sc0007 (docs/scale-out.md):
    # each partition (an isolated one's too, recursing into its sub-partitions) declares exactly the
    # stored definitions, named after it.
    assert_keys_on_every_partition(url)
    first = partition_table_name(0, count)
    indexes = {
        r[0] for r in rows(url, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass", first)
    }
    assert f"idx_{first}_collection" in indexes
    assert f"idx_{first}_created_brin" in indexes
    parent_indexes = {
        r[0] for r in rows(url, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'chunks'::regclass")
    }
    assert {"ix_chunks_collection_id", f"ix_chunks_{EXTRA_COLUMN}"} <= parent_indexes
    assert rows(url, "SELECT pg_get_serial_sequence('chunks', 'id') IS NOT NULL")[0][0] is True
    assert leftovers(url) == []


KEYS = "SELECT suffix, kind::text, definition FROM semantik_chunks_partition_keys ORDER BY position"
PARTITION_KEYS = """
SELECT c.conrelid::regclass::text, c.conname, c.contype::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_inherits i ON i.inhrelid = c.conrelid
WHERE i.inhparent = 'chunks'::regclass AND c.contype IN ('p', 'u', 'f') AND c.conparentid = 0
"""


def assert_keys_on_every_partition(url: str) -> None:
    stored = [(r[0], r[1], r[2]) for r in rows(url, KEYS)]
    assert {suffix for suffix, _kind, _definition in stored} == {
        "pkey",
        "collection_id_fkey",
        "chunking_config_id_fkey",
    }
    assert (
        rows(url, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND contype IN ('p','f')")[0][
            0
        ]
        == 0
    )
    found: dict[str, set[tuple[str, str, str]]] = {}
    for table, name, kind, definition in rows(url, PARTITION_KEYS):
        found.setdefault(table, set()).add((name, kind, definition))
    for part in partition_names(url):
        expected = {(f"{part}_{suffix}"[:63], kind, definition) for suffix, kind, definition in stored}
        assert found.get(part) == expected, part


class Writer(threading.Thread):
    """An application process started before the change: a repository that computed its keys for 100
    partitions, and a plain-SQL writer using ``get_partition_key()``; both write batch after batch until
    told to stop, and record every id they committed and every failure."""

    def __init__(self, url: str, collections: list[str]) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.collections = collections
        self.batches = 0
        self.failures: list[BaseException] = []
        self.committed: list[tuple[int, str]] = []
        self.counts_seen: list[int] = []
        self.reads_ok = True
        self.warmed_up = threading.Event()  # 3 batches done before the swap
        self.swapped = threading.Event()  # set by the mover's after_swap hook
        self.done_after_swap = 0
        self.finished = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        engine = create_engine(self.url)
        repo = PostgresChunkRepository(engine, 100)
        conn = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            while self.done_after_swap < 3:
                swapped_before = self.swapped.is_set()
                n = self.batches
                batch = [
                    Chunk(collection_id=c, chunk_index=10_000 + n, content=f"writer {n} {c}", document_id=f"w-{n}")
                    for c in self.collections
                ]
                try:
                    stored = await repo.add_many(batch)
                    self.committed += [(s.id, s.collection_id) for s in stored if s.id is not None]
                    for c in self.collections:
                        new_id = await conn.fetchval(
                            "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
                            "VALUES ($1::text, get_partition_key($1::text), $2, 'plain sql') RETURNING id",
                            c,
                            20_000 + n,
                        )
                        self.committed.append((int(new_id), c))
                    listed = await repo.list_by_collection(self.collections[0])
                    mine = {i for i, c in self.committed if c == self.collections[0]}
                    self.reads_ok = self.reads_ok and mine <= {x.id for x in listed}
                except Exception as exc:  # every failure is recorded and asserted on
                    self.failures.append(exc)
                self.counts_seen.append(repo.partition_count)
                self.batches += 1
                if self.batches >= 3:
                    self.warmed_up.set()
                if swapped_before:
                    self.done_after_swap += 1
        finally:
            await conn.close()
            await engine.dispose()
            self.finished.set()


def hooks_for(writer: Writer) -> Hooks:
    def before_swap() -> None:
        assert writer.warmed_up.wait(120), "the writer did not write before the swap"

    return Hooks(before_swap=before_swap, after_swap=writer.swapped.set)


def test_reshape_with_a_writer_across_the_swap_keeps_every_row_and_every_batch(db: str) -> None:
    before = checksum(db)
    collections = [r[0] for r in rows(db, "SELECT id FROM collections ORDER BY id LIMIT 12")]
    planned = run_service(db, lambda s: s.plan_partitions(200))
    writer = Writer(db, collections)
    writer.start()
    outcome = run_service(db, lambda s: s.reshape(200), hooks=hooks_for(writer))
    assert writer.finished.wait(120)
    writer.join()

    assert writer.failures == []
    assert outcome.to_count == 200 and outcome.rows_copied >= before[0]
    assert writer.counts_seen[0] == 100 and writer.counts_seen[-1] == 200  # learned the new count, no restart
    assert writer.reads_ok
    committed = dict(writer.committed)
    found = rows(db, "SELECT id, collection_id FROM chunks WHERE id = ANY($1::bigint[])", list(committed))
    assert {(r[0], r[1]) for r in found} == set(writer.committed)
    # The rows that were there before are unchanged, byte for byte.
    ids = [i for i, _ in writer.committed]
    kept = rows(
        db,
        CHECKSUM.replace("FROM chunks", "FROM chunks WHERE NOT (id = ANY($1::bigint[]))"),
        ids,
    )[0]
    assert (int(kept[0]), kept[1]) == before
    assert_shape(db, 200)
    # The plan's per-partition prediction (for the rows there when it was made) is exact.
    actual = {
        r[0]: r[1]
        for r in rows(
            db,
            "SELECT partition_key, count(*) FROM chunks WHERE NOT (id = ANY($1::bigint[])) GROUP BY 1",
            ids,
        )
    }
    assert {p.partition_num: p.rows_after for p in planned.partitions if p.rows_after} == actual

    # A second run does nothing; --undo goes back to 100 partitions with every row.
    assert run_service(db, lambda s: s.reshape(200)).noop
    after = checksum(db)
    undone = run_service(db, lambda s: s.undo_reshape())
    assert undone.to_count == 100
    assert checksum(db) == after
    assert_shape(db, 100)


KILLED_RUN = """
import asyncio, sys, threading
from semantik_chunks.adapters.postgres.reshape import Hooks, PostgresTableReshaper
from semantik_chunks.services.reshape import ReshapeService

url, where = sys.argv[1], sys.argv[2]

def stop_here(*_args):
    print("STOPPED", flush=True)
    threading.Event().wait()  # until SIGKILL

hooks = Hooks(after_batch=(lambda n: stop_here() if n == 3 else None) if where == "copy" else None,
              before_swap=stop_here if where == "swap" else None)
asyncio.run(ReshapeService(PostgresTableReshaper(url, batch_size=50, hooks=hooks)).reshape(128))
"""


@pytest.mark.parametrize("where", ["copy", "swap"])
def test_a_run_killed_with_sigkill_is_finished_by_a_rerun(db: str, tmp_path: Path, where: str) -> None:
    before = checksum(db)
    script = tmp_path / "killed_run.py"
    script.write_text(KILLED_RUN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script), db, where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "STOPPED", child.stderr.read() if child.stderr else line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL

    # The table is untouched; the change is pending; another change is refused until it is finished.
    assert checksum(db) == before
    assert partition_names(db) == [partition_table_name(i, 100) for i in range(100)]
    pending = run_service(db, lambda s: s.pending())
    assert pending is not None and pending.describe() == "reshape --partitions 128"
    with pytest.raises(ReshapeError, match="unfinished `reshape --partitions 128`"):
        run_service(db, lambda s: s.reshape(200))

    outcome = run_service(db, lambda s: s.reshape(128))
    assert outcome.resumed
    assert checksum(db) == before
    assert_shape(db, 128)
    assert run_service(db, lambda s: s.reshape(128)).noop


def test_an_unfinished_reshape_can_be_abandoned(db: str, tmp_path: Path) -> None:
    before = checksum(db)

    def stop(n: int) -> None:
        if n == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_service(db, lambda s: s.reshape(150), hooks=Hooks(after_batch=stop))
    assert run_service(db, lambda s: s.pending()) is not None
    outcome = run_service(db, lambda s: s.undo_reshape())
    assert outcome.kind == "abandon"
    assert run_service(db, lambda s: s.pending()) is None
    assert checksum(db) == before
    assert_shape(db, 100)
    triggers = rows(db, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'semantik_chunks_reshape%'")
    assert triggers[0][0] == 0


def largest_collection(url: str) -> str:
    return str(rows(url, "SELECT collection_id FROM chunks GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")[0][0])


def scanned(url: str, sql: str) -> set[str]:
    plan = "\n".join(r[0] for r in rows(url, f"EXPLAIN (COSTS OFF) {sql}"))
    # The tables read (a Bitmap Index Scan names an index, its Bitmap Heap Scan the table).
    return set(
        re.findall(r"(?:Seq Scan|Heap Scan|Index Scan using \S+|Index Only Scan using \S+) on (chunks_part_\w+)", plan)
    )


def test_isolating_a_collection_with_a_writer_prunes_to_its_own_parts_and_undo_restores(db: str) -> None:
    target = largest_collection(db)
    number = partition_for(target, 100)
    part = partition_table_name(number, 100)
    neighbour = next(f"neighbour-{i}" for i in range(100_000) if partition_for(f"neighbour-{i}", 100) == number)
    run_sql(
        db,
        "INSERT INTO collections (id, name, owner_id, vector_store_name, embedding_model) "
        f"VALUES ('{neighbour}', 'n', 1, 'v', 'm')",
        "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
        f"SELECT '{neighbour}', {number}, i, 'neighbour' FROM generate_series(1, 30) AS i",
    )
    neighbours = [neighbour]
    before = checksum(db)
    planned = run_service(db, lambda s: s.plan_isolation(target, 4))
    assert planned.partition_num == number and planned.split_parts == 4
    writer = Writer(db, [target, *neighbours[:1]])
    writer.start()
    outcome = run_service(db, lambda s: s.isolate(target, 4), hooks=hooks_for(writer))
    assert writer.finished.wait(120)
    writer.join()
    assert writer.failures == [] and writer.reads_ok
    assert outcome.kind == "isolate" and outcome.split_parts == 4

    found = rows(
        db, "SELECT id, collection_id FROM chunks WHERE id = ANY($1::bigint[])", [i for i, _ in writer.committed]
    )
    assert {(r[0], r[1]) for r in found} == set(writer.committed)
    ids = [i for i, _ in writer.committed]
    kept = rows(db, CHECKSUM.replace("FROM chunks", "FROM chunks WHERE NOT (id = ANY($1::bigint[]))"), ids)[0]
    assert (int(kept[0]), kept[1]) == before

    # Its rows are in its own four parts, its neighbours' in the DEFAULT sub-partition.
    placed = {
        r[0]: r[1]
        for r in rows(
            db,
            "SELECT tableoid::regclass::text, bool_and(collection_id = $1) FROM chunks "
            "WHERE partition_key = $2 GROUP BY 1",
            target,
            number,
        )
    }
    own = sorted(name for name in placed if name != f"{part}_default")
    assert len(own) == 4 and all(placed[name] for name in own)
    assert placed.get(f"{part}_default", False) is False
    # EXPLAIN: a query for the collection reads its parts only; for a neighbour, the DEFAULT one.
    assert scanned(db, f"SELECT * FROM chunks WHERE partition_key = {number} AND collection_id = '{target}'") == set(
        own
    )
    if neighbours:
        assert scanned(
            db, f"SELECT * FROM chunks WHERE partition_key = {number} AND collection_id = '{neighbours[0]}'"
        ) == {f"{part}_default"}
    # Monitoring: one row per top-level partition; the isolated collection in a view of its own.
    assert_shape(db, 100)
    asyncio.run(_flush(db))
    [isolated] = rows(db, "SELECT collection_id, partition_num, parts, rows FROM partition_isolated_collections")
    assert (isolated[0], isolated[1], isolated[2]) == (target, number, 4)
    listed = run_service(db, lambda s: s.isolated())
    assert [(i.collection_id, i.parts) for i in listed] == [(target, 4)]

    with pytest.raises(ReshapeError, match="isolated already"):
        run_service(db, lambda s: s.isolate(target, 2))
    with pytest.raises(ReshapeError, match="isolated"):
        run_service(db, lambda s: s.reshape(200))

    after = checksum(db)
    released = run_service(db, lambda s: s.release(target))
    assert released.kind == "release"
    assert checksum(db) == after
    assert rows(db, "SELECT count(*) FROM partition_isolated_collections")[0][0] == 0
    assert rows(db, "SELECT relkind::text FROM pg_class WHERE relname = $1", part)[0][0] == "r"
    assert_shape(db, 100)


async def _flush(url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.reshape(0), "between 1 and 1024"),
        (lambda s: s.reshape(1025), "between 1 and 1024"),
        (lambda s: s.reshape(100), "already has 100 partitions"),
        (lambda s: s.plan_partitions(100), "already has 100 partitions"),
        (lambda s: s.isolate("no-such-collection"), "does not exist"),
        (lambda s: s.isolate(host_schema.collection_id(1), 1), "between 2 and 64"),
        (lambda s: s.release(host_schema.collection_id(1)), "not isolated"),
        (lambda s: s.undo_reshape(), "never reshaped"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    db: str, change: Callable[[ReshapeService], Any], message: str
) -> None:
    before = checksum(db)
    with pytest.raises(ReshapeError, match=message):
        run_service(db, change)
    assert checksum(db) == before
    assert partition_names(db) == [partition_table_name(i, 100) for i in range(100)]
    assert leftovers(db) == []
    assert run_service(db, lambda s: s.pending()) is None
