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

from semantik_chunks.adapters.postgres import local_keys, maintenance
from semantik_chunks.adapters.postgres.engine import apply_timeouts
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.monitoring_sql import ISOLATED_QUERY, STATS_MATVIEW
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.model import (
    CollectionCount,
    CollectionStats,
    IsolatedCollection,
    PartitionSnapshot,
    WriteActivity,
)
from semantik_chunks.domain.timeouts import SessionTimeouts

# A partition on another server has its figures from that server's own statistics (monitoring_sql); while
# that server does not answer, ``reachable`` is false, its figures 0 and ``unreachable_reason`` says why.
_SNAPSHOTS = """
SELECT s.partition_num, s.chunk_count AS row_count, s.size_bytes, s.dead_rows, s.created_at, s.writes,
       s.server, CASE WHEN s.reachable THEN NULL ELSE coalesce(s.unreachable_reason, 'unreachable') END
FROM partition_stats AS s ORDER BY s.partition_num
"""
# Exact counts of the partitions that can be read: a partition whose server is down keeps its 0 (the
# list of readable ones prunes the scan at executor start, before any foreign scan connects).
_EXACT_COUNTS_OF = """
SELECT partition_key, count(*) AS n FROM chunks {where} GROUP BY partition_key
"""
_UNREADABLE = "SELECT partition_num FROM chunk_partition_catalog WHERE NOT reachable"
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
# "relation ... does not exist": partition_isolated_collections before migration sc0006
_UNDEFINED_TABLE = "42P01"
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
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        unpopulated_is_empty: bool = False,
        missing_is_empty: bool = False,
    ) -> Sequence[Any]:
        """Rows of one read, bounded by the adapter's ``SessionTimeouts`` (set for this read only).

        ``unpopulated_is_empty``: a never-filled ``collection_chunking_stats`` gives no rows;
        ``missing_is_empty``: a relation that does not exist (yet) gives no rows."""
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
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if (unpopulated_is_empty and sqlstate == _NOT_POPULATED) or (
                    missing_is_empty and sqlstate == _UNDEFINED_TABLE
                ):
                    return []
                raise

    async def _fetch_collection_stats(self, sql: str, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        """Rows of ``collection_chunking_stats``; none while it has never been filled."""
        return await self._fetch(sql, params, unpopulated_is_empty=True)

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        rows = await self._fetch(_SNAPSHOTS)
        if len(rows) != self._partition_count:
            raise ConfigurationError(
                f"the database's chunks table has {len(rows)} partitions, this library was configured for "
                f"{self._partition_count} (CHUNK_PARTITION_COUNT)"
            )
        snapshots = [PartitionSnapshot(*row) for row in rows]
        if not exact:
            return snapshots
        readable = [s.partition_num for s in snapshots if s.unreachable is None]
        if len(readable) == len(snapshots):
            counted = await self._fetch(_EXACT_COUNTS_OF.format(where=""))
        else:
            where = "WHERE partition_key = ANY(CAST(:readable AS integer[]))"
            counted = await self._fetch(_EXACT_COUNTS_OF.format(where=where), {"readable": readable})
        counts = {row.partition_key: row.n for row in counted}
        return [
            s if s.unreachable is not None else attrs.evolve(s, row_count=counts.get(s.partition_num, 0))
            for s in snapshots
        ]

    async def write_activity(self) -> list[WriteActivity]:
        rows = await self._fetch(_ACTIVITY)
        return [WriteActivity(partition_num, hour, day, week) for partition_num, hour, day, week in rows]

    async def last_hour_writes(self) -> dict[int, int]:
        written = dict.fromkeys(range(self._partition_count), 0)
        if await self._fetch(local_keys.FOREIGN_PARTITIONS):
            # _HOUR_WRITES scans chunks itself, so it would read a partition on another server through its
            # foreign table, and fail while that server is down: then the view, which reads those
            # partitions from their servers' own statistics (docs/scale-out.md).
            written.update((a.partition_num, a.last_hour) for a in await self.write_activity())
        else:
            written.update((partition, count) for partition, count in await self._fetch(_HOUR_WRITES))
        return written

    async def collection_counts(
        self, *, partition_num: int | None = None, limit: int | None = None, exact: bool = False
    ) -> list[CollectionCount]:
        params: dict[str, Any] = {"partition": partition_num, "limit": limit}
        one_partition = partition_num is not None
        if exact:
            # Filtering on the partition key lets the planner read that one partition only; the partitions
            # of a server that does not answer are left out (never scanned), as in partition_snapshots.
            unreadable = await self._unreadable()
            if one_partition and partition_num in unreadable:
                return []
            if one_partition:
                where = "WHERE partition_key = :partition"
            elif unreadable:
                where = "WHERE partition_key = ANY(CAST(:readable AS integer[]))"
                params["readable"] = [p for p in range(self._partition_count) if p not in unreadable]
            else:
                where = ""
            rows = await self._fetch(_EXACT_COUNTS.format(where=where), params)
        else:
            partition_filter = "AND partition_num = :partition" if one_partition else ""
            rows = await self._fetch_collection_stats(_STATS_COUNTS.format(partition_filter=partition_filter), params)
        # Unpacked by position: the check reads every collection, and a row's attributes by name cost
        # about 1.6 µs a row more (2,000 collections: 3.9 ms against 0.7 ms, side by side; issue 14).
        return [CollectionCount(collection_id, partition, count) for collection_id, partition, count in rows]

    async def _unreadable(self) -> set[int]:
        """Partitions on a server that does not answer (one question to each server holding partitions)."""
        rows = await self._fetch(_UNREADABLE)
        return {row[0] for row in rows}

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

    async def isolated_collections(self) -> list[IsolatedCollection]:
        """The view ``partition_isolated_collections`` (sc0006; none on a database migrated before it)."""
        rows = await self._fetch(ISOLATED_QUERY, missing_is_empty=True)
        return [
            IsolatedCollection(cid, int(num), sub, int(parts), int(count), int(size))
            for cid, num, sub, parts, count, size in rows
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
