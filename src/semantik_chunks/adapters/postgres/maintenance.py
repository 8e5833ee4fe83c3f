"""Statistics the planner and the monitoring views can believe right after a bulk change.

The statistics-mode views read ``n_live_tup`` and ``n_dead_tup``. After a bulk load or move those are
off until the next (auto)ANALYZE: a move leaves dead tuples behind and the counters lag. So whatever
bulk work the library does, it ends by analysing the partitions it touched.

Two details make the answer exact rather than almost:

- A session keeps its row counts in local memory for up to ~10 s before it flushes them to the shared
  statistics (PostgreSQL 15+). ANALYZE *sets* a partition's live and dead counts; counts a writer
  flushes after that are *added* on top, counting the same rows twice. So every writing session flushes
  before it lets go of its connection (``pg_stat_force_next_flush()``, which takes effect when the session
  goes idle, before the server answers), and ANALYZE runs after that.
- ANALYZE reads every page of a partition of up to 30,000 pages (~240 MB at the default statistics
  target), so its live count is exact there; above that it is a sample-based estimate.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from semantik_chunks.domain.hashing import partition_table_name

# pg_stat_force_next_flush() exists from PostgreSQL 15 (where statistics moved to shared memory).
FLUSH_STATISTICS = "SELECT pg_stat_force_next_flush()"
_FLUSH_FROM = (15,)


def analyze_statement(partitions: Iterable[int], partition_count: int) -> str | None:
    """``ANALYZE chunks_part_03, chunks_part_17`` for the given partitions, None for none."""
    names = [partition_table_name(p, partition_count) for p in sorted(set(partitions))]
    return f"ANALYZE {', '.join(names)}" if names else None


def _flushes(version: tuple[int | str, ...] | None) -> bool:
    return version is not None and isinstance(version[0], int) and (version[0],) >= _FLUSH_FROM


def flush_statistics(bind: Connection) -> None:
    """Make this session flush its row counts to shared memory when its current statement ends (outside a
    transaction: at once; inside one: at its commit)."""
    if _flushes(bind.dialect.server_version_info):
        bind.execute(text(FLUSH_STATISTICS))


async def flush_statistics_async(conn: AsyncConnection) -> None:
    if _flushes(conn.dialect.server_version_info):
        await conn.execute(text(FLUSH_STATISTICS))


def analyze_partitions(bind: Connection, partitions: Iterable[int], partition_count: int) -> None:
    """Flush this session's counts, then ANALYZE the partitions (outside a transaction block is best:
    in autocommit each statement commits by itself)."""
    statement = analyze_statement(partitions, partition_count)
    if statement is None:
        return
    flush_statistics(bind)
    bind.execute(text(statement))
