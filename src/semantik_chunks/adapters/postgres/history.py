"""The partition history in PostgreSQL (table ``chunk_partition_history``, migration sc0004).

``record`` is one INSERT of every partition's sample (arrays unnested server-side) that refuses,
in the same statement, a snapshot not newer than the newest stored; ``read`` and ``prune`` walk
the primary key, which leads with ``taken_at``.

``read`` is a monitoring read (the health check's forecast, ``forecast``, ``history``): it runs with
the adapter's ``SessionTimeouts`` (``SEMANTIK_LOCK_TIMEOUT_MS`` / ``SEMANTIK_STATEMENT_TIMEOUT_MS``),
so behind a lock on the history it fails with ``DatabaseTimeoutError`` instead of waiting for ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from semantik_chunks.adapters.postgres.engine import apply_timeouts
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.domain.history import ClockWentBackwardsError, PartitionSample
from semantik_chunks.domain.model import PartitionSnapshot
from semantik_chunks.domain.timeouts import SessionTimeouts

HISTORY_TABLE = "chunk_partition_history"

RECORD = text(
    f"""
INSERT INTO {HISTORY_TABLE} (taken_at, partition_num, row_count, size_bytes, dead_rows, writes)
SELECT CAST(:taken_at AS timestamptz), s.partition_num, s.row_count, s.size_bytes, s.dead_rows, s.writes
FROM unnest(CAST(:nums AS integer[]), CAST(:rows AS bigint[]), CAST(:sizes AS bigint[]),
            CAST(:dead AS bigint[]), CAST(:writes AS bigint[]))
     AS s(partition_num, row_count, size_bytes, dead_rows, writes)
WHERE NOT EXISTS (SELECT 1 FROM {HISTORY_TABLE} WHERE taken_at >= CAST(:taken_at AS timestamptz))
"""
)
NEWEST = text(f"SELECT max(taken_at) FROM {HISTORY_TABLE}")
READ_ALL = text(
    f"""SELECT partition_num, taken_at, row_count, size_bytes, dead_rows, writes FROM {HISTORY_TABLE}
        WHERE taken_at >= :since ORDER BY taken_at, partition_num"""
)
READ_ONE = text(
    f"""SELECT partition_num, taken_at, row_count, size_bytes, dead_rows, writes FROM {HISTORY_TABLE}
        WHERE taken_at >= :since AND partition_num = :partition ORDER BY taken_at"""
)
PRUNE = text(f"DELETE FROM {HISTORY_TABLE} WHERE taken_at < :older_than")


def backwards(taken_at: datetime, newest: datetime | None) -> ClockWentBackwardsError:
    return ClockWentBackwardsError(
        f"the clock went backwards: a snapshot taken at {newest.isoformat() if newest else 'a later time'} "
        f"is stored already, this one is at {taken_at.isoformat()}; nothing was written"
    )


class PostgresPartitionHistory:
    """The ``PartitionHistory`` port over ``chunk_partition_history``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        timeouts: SessionTimeouts = SessionTimeouts(),  # noqa: B008 -- frozen, shared safely
    ) -> None:
        self._engine = engine
        self._timeouts = timeouts

    async def record(self, snapshots: Sequence[PartitionSnapshot], taken_at: datetime) -> int:
        if not snapshots:
            return 0
        params = {
            "taken_at": taken_at,
            "nums": [s.partition_num for s in snapshots],
            "rows": [s.row_count for s in snapshots],
            "sizes": [s.size_bytes for s in snapshots],
            "dead": [s.dead_rows for s in snapshots],
            "writes": [s.writes for s in snapshots],
        }
        async with database_errors(), self._engine.connect() as conn:
            try:
                await self._bound(conn)
                stored = (await conn.execute(RECORD, params)).rowcount
                await conn.commit()
            except IntegrityError as exc:  # a concurrent snapshot at the very same instant
                if not isinstance(getattr(exc.orig, "__cause__", None), asyncpg.UniqueViolationError):
                    raise
                await conn.rollback()
                stored = 0
            if stored == 0:
                await self._bound(conn)
                newest = (await conn.execute(NEWEST)).scalar_one_or_none()
                raise backwards(taken_at, newest)
        return int(stored)

    async def _bound(self, conn: AsyncConnection) -> None:
        """The library's lock and statement timeouts for the transaction ``conn`` begins now (SET LOCAL):
        a snapshot behind a held lock gives up like a read does, and the scheduled task goes on."""
        if self._timeouts.any:
            await apply_timeouts(conn, self._timeouts)

    async def read(self, since: datetime, partition_num: int | None = None) -> list[PartitionSample]:
        params: dict[str, object] = {"since": since}
        statement = READ_ALL
        if partition_num is not None:
            statement, params["partition"] = READ_ONE, partition_num
        async with database_errors(), self._engine.connect() as conn:
            if self._timeouts.any:
                async with conn.begin():  # SET LOCAL: the bounds end with this read's transaction
                    await apply_timeouts(conn, self._timeouts)
                    rows = (await conn.execute(statement, params)).all()
            else:
                rows = (await conn.execute(statement, params)).all()
        return [
            PartitionSample(num, taken, row_count, size_bytes, dead_rows, writes)
            for num, taken, row_count, size_bytes, dead_rows, writes in rows
        ]

    async def prune(self, older_than: datetime) -> int:
        async with database_errors(), self._engine.begin() as conn:
            await self._bound(conn)
            return int((await conn.execute(PRUNE, {"older_than": older_than})).rowcount)
