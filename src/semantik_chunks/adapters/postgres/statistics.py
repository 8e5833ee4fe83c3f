"""Partition statistics from PostgreSQL: catalog statistics by default, exact counts on request.

``exact=False`` reads the monitoring views of migration sc0003: row counts from
``pg_stat_user_tables.n_live_tup`` (which lags writes by up to a second or so, and is reset
by a crash until the next ANALYZE), sizes from ``pg_total_relation_size``; its cost does
not grow with the table. ``exact=True`` counts rows with ``count(*) ... GROUP BY``, which
reads every row (or every row of one partition when asked about one).

Every read runs with ``lock_timeout`` and ``statement_timeout`` (``SessionTimeouts``, from the
settings ``SEMANTIK_LOCK_TIMEOUT_MS`` / ``SEMANTIK_STATEMENT_TIMEOUT_MS``), so that behind a held lock
a health check fails with ``DatabaseTimeoutError`` instead of waiting for the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import maintenance
from semantik_chunks.adapters.postgres.engine import apply_timeouts
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.monitoring_sql import STATS_MATVIEW
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.model import CollectionCount, CollectionStats, PartitionSnapshot, WriteActivity
from semantik_chunks.domain.timeouts import SessionTimeouts

# Rows written to a partition since its statistics began (the counters of pg_stat_user_tables).
_WRITES = """coalesce(
    pg_stat_get_tuples_inserted(to_regclass(quote_ident(s.partition_name)))
    + pg_stat_get_tuples_updated(to_regclass(quote_ident(s.partition_name)))
    + pg_stat_get_tuples_deleted(to_regclass(quote_ident(s.partition_name))), 0) AS writes"""
_SNAPSHOTS = f"""
SELECT s.partition_num, s.chunk_count AS row_count, s.size_bytes, s.dead_rows, s.created_at, {_WRITES}
FROM partition_stats AS s ORDER BY s.partition_num
"""
_EXACT_SNAPSHOTS = f"""
WITH counted AS (SELECT partition_key, count(*) AS n FROM chunks GROUP BY partition_key)
SELECT s.partition_num, coalesce(counted.n, 0) AS row_count, s.size_bytes, s.dead_rows, s.created_at, {_WRITES}
FROM partition_stats AS s LEFT JOIN counted ON counted.partition_key = s.partition_num
ORDER BY s.partition_num
"""
_ACTIVITY = """
SELECT partition_num, chunks_last_hour, chunks_last_day, chunks_last_week
FROM partition_hot_spots ORDER BY partition_num
"""
# Last hour's writes alone, by the window partition_hot_spots uses for chunks_last_hour: the health check
# needs nothing else, and this reads ~1/168 of the rows the view counts for its week (issue 14, 5M chunks and
# 20,000 writes a week: 2.6 ms against 11.4 ms for write_activity, alternated in one run; docs/performance.md).
# One line: pg_stat_statements records it as sent, with the constant as $1 (LIBRARY_STATEMENTS).
_HOUR_WRITES = (
    "SELECT partition_key, count(*) FROM chunks "
    "WHERE created_at > chunks_written_since('1 hour') GROUP BY partition_key"
)
# The library's own statements that name chunks and read every partition by design (as the monitoring views
# do, whose reads do not name chunks), as pg_stat_statements records them: `semantik-chunks queries` leaves
# them out of its report (adapters/postgres/statements.py).
LIBRARY_STATEMENTS = (_HOUR_WRITES.replace("'1 hour'", "$1"),)
# "materialized view ... has not been populated"
_NOT_POPULATED = "55000"
# COLLATE "C" orders ids by code point, as Python (and the memory adapter) does.
_STATS_COUNTS = f"""
SELECT id AS collection_id, partition_num, total_chunks AS chunk_count
FROM {STATS_MATVIEW}
WHERE total_chunks > 0 {{partition_filter}}
ORDER BY total_chunks DESC, id COLLATE "C"
LIMIT :limit
"""
_EXACT_COUNTS = """
SELECT collection_id, partition_key AS partition_num, count(*) AS chunk_count
FROM chunks {where}
GROUP BY collection_id, partition_key
ORDER BY chunk_count DESC, collection_id COLLATE "C"
LIMIT :limit
"""
_RECENT_COUNTS = """
SELECT collection_id, partition_key AS partition_num, count(*) AS chunk_count
FROM chunks
WHERE partition_key = :partition AND created_at > now() - interval '1 hour'
GROUP BY collection_id, partition_key
ORDER BY chunk_count DESC, collection_id COLLATE "C"
LIMIT :limit
"""
_COLLECTION_STATS = f"""
SELECT id, name, chunked_documents, total_chunks, avg_tokens_per_chunk, last_chunk_created
FROM {STATS_MATVIEW} ORDER BY id COLLATE "C"
"""


class PostgresPartitionStatistics:
    """The ``PartitionStatistics`` port over the monitoring views (migration sc0003)."""

    def __init__(
        self,
        engine: AsyncEngine,
        partition_count: int,
        *,
        timeouts: SessionTimeouts = SessionTimeouts(),  # noqa: B008 -- frozen, shared safely
    ) -> None:
        self._engine = engine
        self._partition_count = validate_partition_count(partition_count)
        self._timeouts = timeouts

    @property
    def partition_count(self) -> int:
        return self._partition_count

    async def _fetch(
        self, sql: str, params: Mapping[str, Any] | None = None, *, unpopulated_is_empty: bool = False
    ) -> Sequence[Any]:
        """Rows of one read, bounded by the adapter's ``SessionTimeouts`` (set for this read only).

        ``unpopulated_is_empty``: a never-filled ``collection_chunking_stats`` gives no rows."""
        async with database_errors(), self._engine.connect() as conn:
            try:
                if not self._timeouts.any:
                    # In autocommit, a read costs one round trip instead of three (BEGIN, query, ROLLBACK).
                    conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                    return (await conn.execute(text(sql), dict(params or {}))).all()
                async with conn.begin():
                    await apply_timeouts(conn, self._timeouts)
                    return (await conn.execute(text(sql), dict(params or {}))).all()
            except DBAPIError as exc:
                if unpopulated_is_empty and getattr(exc.orig, "sqlstate", None) == _NOT_POPULATED:
                    return []
                raise

    async def _fetch_collection_stats(self, sql: str, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        """Rows of ``collection_chunking_stats``; none while it has never been filled."""
        return await self._fetch(sql, params, unpopulated_is_empty=True)

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        rows = await self._fetch(_EXACT_SNAPSHOTS if exact else _SNAPSHOTS)
        if len(rows) != self._partition_count:
            raise ConfigurationError(
                f"the database's chunks table has {len(rows)} partitions, this library was configured for "
                f"{self._partition_count} (CHUNK_PARTITION_COUNT)"
            )
        return [
            PartitionSnapshot(partition_num, row_count, size_bytes, dead_rows, newest, writes)
            for partition_num, row_count, size_bytes, dead_rows, newest, writes in rows
        ]

    async def write_activity(self) -> list[WriteActivity]:
        rows = await self._fetch(_ACTIVITY)
        return [WriteActivity(partition_num, hour, day, week) for partition_num, hour, day, week in rows]

    async def last_hour_writes(self) -> dict[int, int]:
        written = dict.fromkeys(range(self._partition_count), 0)
        written.update((partition, count) for partition, count in await self._fetch(_HOUR_WRITES))
        return written

    async def collection_counts(
        self, *, partition_num: int | None = None, limit: int | None = None, exact: bool = False
    ) -> list[CollectionCount]:
        params = {"partition": partition_num, "limit": limit}
        one_partition = partition_num is not None
        if exact:
            # Filtering on the partition key lets the planner read that one partition only.
            where = "WHERE partition_key = :partition" if one_partition else ""
            rows = await self._fetch(_EXACT_COUNTS.format(where=where), params)
        else:
            partition_filter = "AND partition_num = :partition" if one_partition else ""
            rows = await self._fetch_collection_stats(_STATS_COUNTS.format(partition_filter=partition_filter), params)
        # Unpacked by position: the check reads every collection, and a row's attributes by name cost
        # about 1.6 µs a row more (2,000 collections: 3.9 ms against 0.7 ms, side by side; issue 14).
        return [CollectionCount(collection_id, partition, count) for collection_id, partition, count in rows]

    async def recent_collection_counts(self, partition_num: int, limit: int) -> list[CollectionCount]:
        rows = await self._fetch(_RECENT_COUNTS, {"partition": partition_num, "limit": limit})
        return [
            CollectionCount(
                collection_id=row.collection_id, partition_num=row.partition_num, chunk_count=row.chunk_count
            )
            for row in rows
        ]

    async def collection_stats(self) -> list[CollectionStats]:
        """The rows of ``collection_chunking_stats``; none while it has never been filled."""
        rows = await self._fetch_collection_stats(_COLLECTION_STATS)
        return [
            CollectionStats(
                id=row.id,
                name=row.name,
                chunked_documents=row.chunked_documents,
                total_chunks=row.total_chunks,
                avg_tokens_per_chunk=float(row.avg_tokens_per_chunk) if row.avg_tokens_per_chunk is not None else None,
                last_chunk_created=row.last_chunk_created,
            )
            for row in rows
        ]

    async def analyze(self, partitions: Sequence[int]) -> None:
        """ANALYZE the partitions (docs: ``maintenance``). Writers of this library flush their row counts
        when they commit, so counts flushed later cannot land on top of what ANALYZE sets."""
        async with database_errors(), self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.run_sync(maintenance.analyze_partitions, partitions, self._partition_count)

    async def refresh_collection_stats(self) -> None:
        # Behind a lock it gives up like the reads; once running it may take as long as the table needs.
        async with database_errors(), self._engine.begin() as conn:
            await apply_timeouts(conn, attrs.evolve(self._timeouts, statement_timeout_ms=0))
            await conn.execute(text("SELECT refresh_collection_chunking_stats()"))
