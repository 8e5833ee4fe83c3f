"""The statement statistics port, once per backend: PostgreSQL (pg_stat_statements, real plans) and memory.

A workload runs statements: on PostgreSQL they are executed with parameters (so pg_stat_statements
sees ``$n``) and planned by the adapter; in memory they are recorded with what their plans read.
Not collected for PostgreSQL where the server ships no pg_stat_statements (see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import asyncpg
import pytest

from semantik_chunks.adapters.memory.statements import InMemoryStatementStatistics
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.pruning import StatementPlan, StatementStatisticsUnavailableError
from semantik_chunks.ports import StatementStatistics
from tests.postgres_servers import asyncpg_dsn

PARTITIONS = 100
COLLECTION = "550e8400-e29b-41d4-a716-446655440000"
KEY = partition_for(COLLECTION, PARTITIONS)

EVERY = "SELECT id FROM chunks WHERE collection_id = $1"
ONE = "SELECT id FROM chunks WHERE collection_id = $1 AND partition_key = $2"
OTHER = "SELECT id FROM collections WHERE id = $1"
# What the memory backend is told the plans read (PostgreSQL finds it out).
READS = {EVERY: PARTITIONS, ONE: 1, OTHER: 0}
ARGS: dict[str, tuple[Any, ...]] = {EVERY: (COLLECTION,), ONE: (COLLECTION, KEY), OTHER: (COLLECTION,)}


class Workload(Protocol):
    port: StatementStatistics

    async def run(self, statement: str, times: int = 1) -> None: ...


class PostgresWorkload:
    def __init__(self, port: StatementStatistics, conn: asyncpg.Connection) -> None:
        self.port = port
        self._conn = conn

    async def run(self, statement: str, times: int = 1) -> None:
        for _ in range(times):
            await self._conn.fetch(statement, *ARGS[statement])


class MemoryWorkload:
    def __init__(self, port: InMemoryStatementStatistics) -> None:
        self.port = port
        self._memory = port

    async def run(self, statement: str, times: int = 1) -> None:
        self._memory.record(statement, partitions_read=READS[statement], calls=times, total_time_ms=0.01 * times)


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    if request.param == "postgres":
        return str(request.getfixturevalue("statements_pg_url"))
    return None


@pytest.fixture
async def workload(backend: str | None) -> AsyncIterator[Workload]:
    if backend is None:
        yield MemoryWorkload(InMemoryStatementStatistics(PARTITIONS))
        return
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics

    engine = create_engine(backend)
    conn = await asyncpg.connect(asyncpg_dsn(backend))
    try:
        port = PostgresStatementStatistics(engine, PARTITIONS)
        await port.reset()
        yield PostgresWorkload(port, conn)
    finally:
        await conn.close()
        await engine.dispose()


def by_text(plans: list[StatementPlan]) -> dict[str, StatementPlan]:
    return {p.stats.query or "": p for p in plans}


async def test_a_statement_on_collection_id_alone_reads_every_partition(workload: Workload) -> None:
    await workload.run(EVERY, times=3)
    plan = by_text(await workload.port.chunk_statements())[EVERY]
    assert plan.partitions_read == PARTITIONS
    assert plan.problem is None
    assert plan.stats.calls == 3
    assert plan.stats.total_time_ms > 0
    assert plan.stats.mean_time_ms == pytest.approx(plan.stats.total_time_ms / 3)


async def test_a_statement_with_the_partition_key_reads_one(workload: Workload) -> None:
    await workload.run(ONE, times=2)
    plan = by_text(await workload.port.chunk_statements())[ONE]
    assert (plan.partitions_read, plan.stats.calls) == (1, 2)


async def test_statements_that_do_not_name_chunks_are_left_out(workload: Workload) -> None:
    await workload.run(OTHER)
    await workload.run(ONE)
    assert set(by_text(await workload.port.chunk_statements())) == {ONE}


async def test_reset_forgets_the_statements(workload: Workload) -> None:
    await workload.run(EVERY)
    await workload.port.reset()
    assert by_text(await workload.port.chunk_statements()) == {}
    await workload.run(ONE)
    assert set(by_text(await workload.port.chunk_statements())) == {ONE}


async def test_calls_of_one_text_add_up(workload: Workload) -> None:
    await workload.run(EVERY, times=2)
    await workload.run(EVERY, times=3)
    assert by_text(await workload.port.chunk_statements())[EVERY].stats.calls == 5


async def test_the_partition_count_is_the_configured_one(workload: Workload) -> None:
    assert workload.port.partition_count == PARTITIONS


@pytest.fixture
def bare_url(backend: str | None, make_database: Any) -> str | None:
    """For PostgreSQL, a database without the extension (sync: creating it blocks)."""
    return None if backend is None else str(make_database())


async def test_without_statement_statistics_the_port_says_how_to_enable_them(bare_url: str | None) -> None:
    if bare_url is None:
        port: StatementStatistics = InMemoryStatementStatistics(PARTITIONS, available=False)
        with pytest.raises(StatementStatisticsUnavailableError, match="shared_preload_libraries"):
            await port.chunk_statements()
        return
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics

    engine = create_engine(bare_url)
    try:
        with pytest.raises(StatementStatisticsUnavailableError, match="CREATE EXTENSION pg_stat_statements"):
            await PostgresStatementStatistics(engine, PARTITIONS).chunk_statements()
    finally:
        await engine.dispose()
