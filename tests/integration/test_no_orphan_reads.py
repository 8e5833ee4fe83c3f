"""When one of the health check's concurrent reads fails, the others are cancelled and awaited: no read
of the library's engine outlives the check, ``active`` or ``idle in transaction`` on the server.

Two sessions of the test hold ACCESS EXCLUSIVE locks. One on ``collection_chunking_stats`` (a REFRESH): the
collection counts wait for it and give up after the 300 ms lock timeout, the one read that fails.
One on ``chunk_partition_history``: the forecast's read of the history is given no bounds here
(``NO_TIMEOUTS``, as ``SEMANTIK_*_TIMEOUT_MS=0`` would), so it is certainly still waiting when the other
read fails, whatever the timing; it is the sibling that ``asyncio.gather`` left running (``active``
below) and a ``TaskGroup`` cancels. The test asserts while
both locks are still held: nothing is waited for, and ``pytest.mark.timeout`` turns a hang into a
failure."""

from __future__ import annotations

import asyncpg
import pytest
from dependency_injector import providers

from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory
from semantik_chunks.adapters.postgres.monitoring_sql import STATS_MATVIEW
from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.errors import DatabaseTimeoutError
from semantik_chunks.domain.model import CheckOutcome
from semantik_chunks.domain.timeouts import NO_TIMEOUTS
from tests.postgres_servers import asyncpg_dsn

pytestmark = pytest.mark.timeout(300)

HISTORY_TABLE = "chunk_partition_history"


async def lock(url: str, statement: str) -> asyncpg.Connection:
    """A session in a transaction that ran ``statement`` (and holds its locks) until it is closed."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await conn.execute("BEGIN")
    await conn.execute(statement)
    return conn


async def busy_sessions(url: str, holders: list[asyncpg.Connection]) -> list[tuple[str, str]]:
    """``(state, query)`` of every client session of the database that is neither idle nor the test's own."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND NOT (pid = ANY($1::int[])) "
            "AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')",
            [holder.get_server_pid() for holder in holders],
        )
        return [(row["state"], row["query"]) for row in rows]
    finally:
        await conn.close()


async def test_a_failed_read_cancels_its_siblings_and_its_error_reaches_the_caller(clean_pg_url: str) -> None:
    container = bootstrap(
        Settings(partition_count=100, database_url=clean_pg_url, lock_timeout_ms=300, statement_timeout_ms=0)
    )
    container.partition_history.override(
        providers.Singleton(PostgresPartitionHistory, container.engine, timeouts=NO_TIMEOUTS)
    )
    holders = [
        # LOCK TABLE refuses a materialized view; a REFRESH takes ACCESS EXCLUSIVE on it too.
        await lock(clean_pg_url, f"REFRESH MATERIALIZED VIEW {STATS_MATVIEW}"),
        await lock(clean_pg_url, f"LOCK TABLE {HISTORY_TABLE} IN ACCESS EXCLUSIVE MODE"),
    ]
    try:
        service = container.monitoring_service()
        with pytest.raises(DatabaseTimeoutError) as raised:  # the reads' own error, not an ExceptionGroup
            await service.get_rebalancing_recommendations()
        result = await service.check_partition_health()
        left = await busy_sessions(clean_pg_url, holders)
    finally:
        for holder in holders:
            await holder.close()
        await dispose(container)
    assert result.status is CheckOutcome.FAILED
    assert result.error == str(raised.value)  # the domain error's own words, not "unhandled errors in a TaskGroup"
    assert "did not answer in time" in str(result.error)
    assert left == [], left  # the forecast's read was cancelled and ended, not left waiting on the history
