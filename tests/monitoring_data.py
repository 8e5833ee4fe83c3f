"""Scenario data for the monitoring tests, loaded the same way into the memory and the Postgres adapters.

Rows are written through the adapters' chunk repositories with a controlled ``created_at``.
PostgreSQL's row counts come from its statistics, which a writing session flushes about once
a second; ``Backend.settle`` forces the flush, then waits until the statistics count every row
(``wait_for_statistics``: a condition polled with a deadline, so a busy machine only makes it slower).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import text

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import Chunk
from semantik_chunks.ports import ChunkRepository, CollectionRepository, PartitionStatistics
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager

PARTITION_COUNT = 100
HUGE = "huge-collection"
BURST = ("burst-a", "burst-b")
MIXED_PARTITION = 12


def now() -> datetime:
    return datetime.now(UTC)


def days_ago(days: float) -> datetime:
    return now() - timedelta(days=days)


def minutes_ago(minutes: float) -> datetime:
    return now() - timedelta(minutes=minutes)


def one_collection_per_partition(prefix: str = "uniform", partition_count: int = PARTITION_COUNT) -> list[str]:
    """The first id ``{prefix}-{i}`` landing in each partition, in partition order."""
    found: dict[int, str] = {}
    for i in itertools.count():
        candidate = f"{prefix}-{i}"
        found.setdefault(partition_for(candidate, partition_count), candidate)
        if len(found) == partition_count:
            return [found[p] for p in range(partition_count)]
    raise AssertionError("unreachable")


def collection_in(partition: int, prefix: str, partition_count: int = PARTITION_COUNT) -> str:
    return next(
        f"{prefix}-{i}" for i in itertools.count() if partition_for(f"{prefix}-{i}", partition_count) == partition
    )


def chunks_of(collection_id: str, count: int, created_at: datetime, *, documents: int = 4) -> list[Chunk]:
    return [
        Chunk(
            collection_id=collection_id,
            chunk_index=i,
            content=f"chunk {i} of {collection_id}",
            document_id=f"doc-{i % documents}",
            token_count=10 + i % 7,
            created_at=created_at,
        )
        for i in range(count)
    ]


@attrs.define
class Backend:
    """One adapter family: where chunks are written and where statistics are read."""

    name: str
    chunks: ChunkRepository
    collections: CollectionRepository
    statistics: PartitionStatistics
    engine: object | None = None

    def monitoring(self) -> PartitionMonitoringService:
        return PartitionMonitoringService(self.statistics)

    def manager(self) -> PartitionManager:
        return PartitionManager(self.statistics.partition_count, self.statistics)

    async def add(self, collection_id: str, count: int, created_at: datetime) -> None:
        await self.collections.add(collection_id, collection_id.upper())
        if count:
            await self.chunks.add_many(chunks_of(collection_id, count, created_at))

    async def settle(self) -> None:
        """Make every write visible to the statistics, and refresh ``collection_chunking_stats``."""
        if self.engine is not None:
            await flush_statistics(self.engine)
            await wait_for_statistics(self.engine)
        await self.statistics.refresh_collection_stats()


# How long a test waits for a condition on the server before it fails saying which. Generous: on a
# quiet machine each condition holds at the first look; the bound only turns a bug into a failure.
DEADLINE_SECONDS = 120.0

# Tables holding rows (every leaf of chunks: a partition, or a sub-partition's part of an isolated
# collection) whose row count in the statistics (what statistics mode reads) differs from the rows there.
UNSETTLED_PARTITIONS = """
WITH exact AS (SELECT tableoid AS relid, count(*) AS n FROM chunks GROUP BY tableoid)
SELECT c.relname::text AS partition, coalesce(s.n_live_tup, 0) AS counted, coalesce(e.n, 0) AS exact
FROM pg_partition_tree('chunks'::regclass) AS t
JOIN pg_class AS c ON c.oid = t.relid
LEFT JOIN pg_stat_user_tables AS s ON s.relid = t.relid
LEFT JOIN exact AS e ON e.relid = t.relid
WHERE t.isleaf AND coalesce(s.n_live_tup, 0) <> coalesce(e.n, 0)
ORDER BY c.relname
"""
# Idle sessions an earlier test left open (an engine never disposed): ended, which flushes their
# statistics on the way out. The database is the suite's own.
END_IDLE_SESSIONS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state = 'idle'"
)
OTHER_SESSIONS = (
    "SELECT pid, coalesce(application_name, ''), state, left(query, 60) FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)
# Autovacuum's VACUUM or ANALYZE sets a partition's live-row count from what it sees; a writer's counts
# not yet flushed then land on top, counted twice. The tests' databases turn it off for the partitions.
NO_AUTOVACUUM = """
DO $$
DECLARE partition regclass;
BEGIN
    FOR partition IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'chunks'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', partition);
    END LOOP;
END $$
"""


async def _until(check: Callable[[], Awaitable[list[Any]]], what: str) -> None:
    """Poll ``check`` (each call a transaction of its own) until it returns nothing; fail naming what
    is left after ``DEADLINE_SECONDS``. A condition on the server, never a guess at how long it takes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_SECONDS
    pause = 0.005
    while left := await check():
        if loop.time() > deadline:
            raise AssertionError(f"after {DEADLINE_SECONDS:.0f} s, {what}: {left[:10]}")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


async def flush_statistics(engine: object) -> None:
    """Push the pending statistics of every session in ``engine``'s pool to shared memory (PostgreSQL 15+).

    ``pg_stat_force_next_flush()`` flushes a session's counts when it next goes idle, before the
    server answers ReadyForQuery: once ``commit`` returns, they are there. Every idle pooled
    connection is checked out at once, so that each session that wrote is among them."""
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    assert isinstance(engine, AsyncEngine)
    idle = max(engine.pool.checkedin(), 1)  # type: ignore[attr-defined]
    held: list[AsyncConnection] = []
    try:
        for _ in range(idle):
            held.append(await engine.connect())
        for conn in held:
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))
            await conn.commit()
    finally:
        for conn in held:
            await conn.close()


async def wait_for_statistics(engine_or_conn: object) -> None:
    """Wait until every partition's live-row count in the statistics equals its rows (see ``_until``)."""
    await _until(lambda: _fetch(engine_or_conn, UNSETTLED_PARTITIONS), "statistics still differ from the rows")


async def _fetch(engine_or_conn: object, sql: str) -> list[Any]:
    """Rows of ``sql`` in a transaction of its own, on an asyncpg connection or a SQLAlchemy engine."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    if isinstance(engine_or_conn, AsyncEngine):
        async with engine_or_conn.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(sql))]
    return [tuple(row) for row in await engine_or_conn.fetch(sql)]  # type: ignore[attr-defined]


async def reset_database(engine: object) -> None:
    """Empty chunks and collections, with statistics that show it.

    Sessions of earlier tests may still be exiting or left idle, and a session flushes its pending
    row counts when it exits (before it leaves pg_stat_activity): end the idle ones and wait until
    all are gone, or their counts would land on top of this test's rows."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert isinstance(engine, AsyncEngine)
    await _fetch(engine, END_IDLE_SESSIONS)
    await _until(lambda: _fetch(engine, OTHER_SESSIONS), "other sessions still use the database")
    async with engine.begin() as conn:
        await conn.execute(text(NO_AUTOVACUUM))
        await conn.execute(text("TRUNCATE chunks, collections RESTART IDENTITY CASCADE"))
        await conn.execute(text("SELECT refresh_collection_chunking_stats()"))
    await flush_statistics(engine)
    await wait_for_statistics(engine)


async def insert_chunks(conn: Any, collection_id: str, count: int, created_at: datetime, *, documents: int = 4) -> None:
    """Plain SQL, as a host's own writer would: partition_key from the server's get_partition_key."""
    await conn.execute(
        "INSERT INTO collections (id, name) VALUES ($1::text, upper($1::text)) ON CONFLICT (id) DO NOTHING",
        collection_id,
    )
    await conn.execute(
        """
        INSERT INTO chunks (collection_id, partition_key, chunk_index, content, document_id, token_count, created_at)
        SELECT $1::text, get_partition_key($1::text), g, 'chunk ' || g || ' of ' || $1::text,
               'doc-' || (g % $3::integer), 10 + g % 7, $2::timestamptz
        FROM generate_series(0, $4::integer - 1) AS g
        """,
        collection_id,
        created_at,
        documents,
        count,
    )


def memory_backend(partition_count: int = PARTITION_COUNT) -> Backend:
    database = MemoryDatabase(partition_count=partition_count)
    return Backend(
        "memory",
        InMemoryChunkRepository(database),
        InMemoryCollectionRepository(database),
        InMemoryPartitionStatistics(database),
    )


@asynccontextmanager
async def postgres_backend(url: str, partition_count: int = PARTITION_COUNT) -> AsyncIterator[Backend]:
    from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics

    engine = create_engine(url)
    try:
        await reset_database(engine)
        yield Backend(
            "postgres",
            PostgresChunkRepository(engine, partition_count),
            PostgresCollectionRepository(engine),
            PostgresPartitionStatistics(engine, partition_count),
            engine,
        )
    finally:
        await engine.dispose()


# --- the scenarios -------------------------------------------------------------------------------------------


async def load_empty(backend: Backend) -> None:
    await backend.settle()


async def load_uniform(backend: Backend, per_collection: int = 20) -> None:
    """One collection per partition, all of the same size, written three days ago."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, per_collection, days_ago(3))
    await backend.add("no-chunks-yet", 0, now())
    await backend.settle()


async def load_huge(backend: Backend) -> None:
    """The uniform table plus one collection three times the size of all the others together."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 10, days_ago(3))
    await backend.add(HUGE, 3000, days_ago(2))
    await backend.settle()


async def load_burst(backend: Backend) -> None:
    """The uniform table written long ago, some writes hours ago, and a burst from two collections now."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 10, days_ago(30))
    for collection_id in one_collection_per_partition("earlier")[:10]:
        await backend.add(collection_id, 5, now() - timedelta(hours=5))
    for collection_id in BURST:
        await backend.add(collection_id, 700, minutes_ago(10))
    await backend.settle()


MIXED_WRITERS = tuple(collection_in(MIXED_PARTITION, f"mixed-{i}") for i in range(3))


async def load_mixed_burst(backend: Backend) -> None:
    """The uniform table written long ago, and a burst from three collections sharing one partition."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 10, days_ago(30))
    for collection_id in MIXED_WRITERS:
        await backend.add(collection_id, 400, minutes_ago(10))
    await backend.settle()


GIANT = "giant-collection"


async def load_giant(backend: Backend) -> None:
    """Issue 14's report: one collection holding 94.4 % of all chunks (17,000 of 18,000)."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 10, days_ago(3))
    await backend.add(GIANT, 17_000, days_ago(1))
    await backend.settle()


LARGE_BY_CHANCE = (*(collection_in(40, f"large-{i}") for i in range(2)), collection_in(41, "large"))


async def load_large_by_chance(backend: Backend) -> None:
    """A few collections larger than a fair share (15 chunks against 10.45), two sharing partition 40:
    what random placement does to a heavy tail, within every budget."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 10, days_ago(3))
    for collection_id in LARGE_BY_CHANCE:
        await backend.add(collection_id, 15, days_ago(2))
    await backend.settle()


FAULT_PARTITION = 23
FAULT_COLLECTIONS = tuple(collection_in(FAULT_PARTITION, f"fault-{i}") for i in range(8))


async def load_hash_fault(backend: Backend) -> None:
    """400 equal collections, four per partition, and eight more in partition 23: twelve collections in
    one partition where chance puts four give or take two (skew 1.94, chance's 3 sigma 1.48)."""
    for prefix in ("a", "b", "c", "d"):
        for collection_id in one_collection_per_partition(f"spread-{prefix}"):
            await backend.add(collection_id, 5, days_ago(3))
    for collection_id in FAULT_COLLECTIONS:
        await backend.add(collection_id, 5, days_ago(3))
    await backend.settle()


WRITE_BURST_PARTITIONS = (5, 30, 55, 60, 77, 91)
WRITE_BURST = tuple(collection_in(p, f"writer-{i}") for p in WRITE_BURST_PARTITIONS for i in range(3))


async def load_write_burst(backend: Backend) -> None:
    """1,080 writes in the last ten minutes from three collections in each of six partitions (a sixth of
    the hour each, no collection more than a third of any), on a table of 6,000 chunks written long ago."""
    for collection_id in one_collection_per_partition():
        await backend.add(collection_id, 60, days_ago(30))
    for collection_id in WRITE_BURST:
        await backend.add(collection_id, 60, minutes_ago(10))
    await backend.settle()


SCENARIOS = {
    "empty": load_empty,
    "uniform": load_uniform,
    "huge": load_huge,
    "burst": load_burst,
    "mixed_burst": load_mixed_burst,
    "giant": load_giant,
    "large_by_chance": load_large_by_chance,
    "hash_fault": load_hash_fault,
    "write_burst": load_write_burst,
}
