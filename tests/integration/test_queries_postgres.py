"""Statements on chunks judged on a real PostgreSQL with pg_stat_statements: plans, never execution.

Not collected where the server ships no pg_stat_statements (pgserver's 16; see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics
from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.hashing import partition_for, partition_table_name
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.pruning import PruningReport, pruning_report
from tests.postgres_servers import asyncpg_dsn, run_sql
from tests.unit.test_cli_support import run_cli

N = 100
COLLECTION = "550e8400-e29b-41d4-a716-446655440000"
KEY = partition_for(COLLECTION, N)

# statement -> (arguments, partitions its plan reads)
WORKLOAD: dict[str, tuple[tuple[Any, ...], int]] = {
    "SELECT id FROM chunks WHERE collection_id = $1": ((COLLECTION,), N),
    "SELECT id FROM chunks WHERE collection_id = $1 AND partition_key = $2": ((COLLECTION, KEY), 1),
    "SELECT id FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1)": ((COLLECTION,), 1),
    "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1)": ((COLLECTION,), 1),
    "DELETE FROM chunks WHERE collection_id = $1 AND document_id = $2": ((COLLECTION, "d"), N),
    "UPDATE chunks SET content = $1 WHERE collection_id = $2 AND partition_key = $3": (("y", COLLECTION, KEY), 1),
    "UPDATE chunks SET token_count = $1 WHERE collection_id = $2": ((3, COLLECTION), N),
    "SELECT id FROM chunks_part_07 WHERE collection_id = $1": ((COLLECTION,), 1),
}


@pytest.fixture
async def engine(statements_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(statements_pg_url)
    await PostgresStatementStatistics(engine, N).reset()
    yield engine
    await engine.dispose()


async def run(url: str, statements: dict[str, tuple[tuple[Any, ...], int]], times: int = 1) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement, (arguments, _) in statements.items():
            for _ in range(times):
                await conn.fetch(statement, *arguments)
    finally:
        await conn.close()


async def execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def report_of(engine: AsyncEngine, **options: Any) -> PruningReport:
    return pruning_report(await PostgresStatementStatistics(engine, N, **options).chunk_statements(), N)


@pytest.mark.parametrize("replica", [True, False], ids=["replica", "real-table"])
async def test_each_statement_is_judged_by_the_partitions_its_plan_reads(
    engine: AsyncEngine, statements_pg_url: str, replica: bool
) -> None:
    """The same answers planned against the replica (the default) and against the real table."""
    await run(statements_pg_url, WORKLOAD, times=2)
    port = PostgresStatementStatistics(engine, N, replica=replica)
    plans = {p.stats.query: p for p in await port.chunk_statements()}
    assert {q: p.partitions_read for q, p in plans.items() if q in WORKLOAD} == {
        q: reads for q, (_, reads) in WORKLOAD.items()
    }
    assert all(plans[q].stats.calls == 2 for q in WORKLOAD)


async def test_constants_are_normalised_to_parameters_and_still_prune(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    await execute(
        statements_pg_url,
        f"SELECT id FROM chunks WHERE partition_key = {KEY} AND collection_id = '{COLLECTION}'",
        f"SELECT id FROM chunks WHERE collection_id = '{COLLECTION}'",
        "SELECT count(*) FROM chunks WHERE created_at > now() - interval '1 hour'",
    )
    plans = {p.stats.query: p for p in await PostgresStatementStatistics(engine, N).chunk_statements()}
    assert plans["SELECT id FROM chunks WHERE partition_key = $1 AND collection_id = $2"].partitions_read == 1
    assert plans["SELECT id FROM chunks WHERE collection_id = $1"].partitions_read == N
    # pg_stat_statements writes ``interval '1 hour'`` as ``interval $1``; it is planned all the same.
    [typed] = [p for q, p in plans.items() if q and "created_at" in q]
    assert typed.partitions_read == N, typed


async def test_the_report_lists_the_host_query_with_its_fix(engine: AsyncEngine, statements_pg_url: str) -> None:
    await run(statements_pg_url, WORKLOAD)
    report = await report_of(engine)
    host = next(s for s in report.unpruned if s.query == "SELECT id FROM chunks WHERE collection_id = $1")
    assert host.reads_every_partition
    assert host.fix.startswith("add `AND partition_key = get_partition_key($1)`")
    assert {s.query for s in report.unpruned} == {q for q, (_, reads) in WORKLOAD.items() if reads > 1}


def test_the_librarys_own_reads_all_prune(statements_pg_url: str) -> None:
    """The library's read paths, then ``semantik-chunks queries`` on the same server: nothing reads more than one."""

    async def library_reads() -> None:
        container = bootstrap(Settings(database_url=statements_pg_url))
        try:
            collections, chunks = container.collection_repository(), container.chunk_repository()
            await collections.add(COLLECTION)
            await chunks.add_many(
                [Chunk(collection_id=COLLECTION, chunk_index=i, content="x", document_id="d") for i in range(5)]
            )
            await container.statement_statistics().reset()
            for _ in range(3):
                await chunks.list_by_collection(COLLECTION)
                await chunks.list_by_document(COLLECTION, "d")
                await chunks.get(1, collection_id=COLLECTION)
                await chunks.count(COLLECTION)
                await collections.exists(COLLECTION)
                service = container.monitoring_service()
                await service.check_partition_health()
                await service.get_hot_partitions()
                await service.get_rebalancing_recommendations()
                await service.get_partition_statistics(KEY)
            await chunks.delete_document(COLLECTION, "d")
            await chunks.delete_collection(COLLECTION)
        finally:
            await dispose(container)

    asyncio.run(library_reads())
    result = run_cli("queries", "--format", "json", db_url=statements_pg_url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["unpruned"] == []
    assert document["not_analysed"] == []
    assert document["analysed"] >= 6  # the reads above, each planned


def test_the_command_alerts_when_statements_reading_every_partition_take_the_time(statements_pg_url: str) -> None:
    async def host_reads() -> None:
        engine = create_engine(statements_pg_url)
        try:
            await PostgresStatementStatistics(engine, N).reset()
        finally:
            await engine.dispose()
        await run(statements_pg_url, {"SELECT id FROM chunks WHERE collection_id = $1": ((COLLECTION,), N)}, times=5)

    asyncio.run(host_reads())
    table = run_cli("queries", db_url=statements_pg_url)
    assert table.exit_code == 1, table.output
    assert "[WARNING] pruning: 1 statements on chunks read every partition and take 100%" in " ".join(
        table.stdout.split()
    )
    document = json.loads(run_cli("queries", "--format", "json", db_url=statements_pg_url).stdout)
    assert document["alerts"][0]["cause"] == "pruning"
    assert document["unpruned"][0]["calls"] == 5


@pytest.fixture
def fake_source(statements_pg_url: str) -> Iterator[str]:
    """A table shaped like pg_stat_statements holding texts it could hold, and some it never should."""
    texts = [
        "SELECT id FROM chunks WHERE collection_id = $1 AND partition_ke",  # truncated
        "SELEC id FROM chunks WHERE collection_id = $1",  # unparseable
        "SELECT id FROM chunks JOIN no_such_table USING (id)",
        "SELECT id FROM chunks WHERE id = $1; DROP TABLE collections",
        "SELECT id FROM chunks WHERE collection_id = $1 AND id = $2",
        "VACUUM chunks",
    ]
    run_sql(
        statements_pg_url,
        "DROP TABLE IF EXISTS fake_statements",
        "CREATE TABLE fake_statements (dbid oid, queryid bigint, query text, calls bigint, total_exec_time float8, "
        "rows bigint)",
        *(
            "INSERT INTO fake_statements SELECT oid, "
            f"{i}, $q${text}$q$, 1, 1.0, 0 FROM pg_database WHERE datname = current_database()"
            for i, text in enumerate(texts)
        ),
    )
    yield "fake_statements"
    run_sql(statements_pg_url, "DROP TABLE fake_statements")


async def test_damaged_texts_are_not_analysed_with_the_reason_never_a_crash(
    engine: AsyncEngine, fake_source: str, statements_pg_url: str
) -> None:
    report = await report_of(engine, source=fake_source)
    reasons = {s.query: s.reason for s in report.not_analysed}
    assert (
        'column "partition_ke" does not exist'
        in reasons["SELECT id FROM chunks WHERE collection_id = $1 AND partition_ke"]
    )
    assert "utility statement (SELEC)" in reasons["SELEC id FROM chunks WHERE collection_id = $1"]
    assert "no_such_table" in reasons["SELECT id FROM chunks JOIN no_such_table USING (id)"]
    assert (
        reasons["SELECT id FROM chunks WHERE id = $1; DROP TABLE collections"] == "more than one statement in one text"
    )
    assert "utility statement (VACUUM)" in reasons["VACUUM chunks"]
    # The one sound text among them is still analysed.
    [sound] = report.unpruned
    assert (sound.query, sound.partitions_read) == ("SELECT id FROM chunks WHERE collection_id = $1 AND id = $2", N)
    conn = await asyncpg.connect(asyncpg_dsn(statements_pg_url))
    try:
        assert await conn.fetchval("SELECT to_regclass('collections') IS NOT NULL")
    finally:
        await conn.close()


# Statements of a few plan shapes (domain.pruning.plan_shape), valid or not, in the order they are read.
SHAPES: dict[str, int | str] = {
    "SELECT no_such_column FROM chunks WHERE collection_id = $1": 'column "no_such_column" does not exist',
    "SELECT id FROM chunks WHERE collection_id = $1": N,
    "SELECT id, content FROM chunks WHERE collection_id = $1": N,
    "SELECT id, nope FROM chunks WHERE collection_id = $1": 'column "nope" does not exist',
    "SELECT id FROM chunks WHERE collection_id = $1 AND partition_key = $2": 1,
    "SELECT content, metadata FROM chunks WHERE collection_id = $1 AND partition_key = $2": 1,
    "UPDATE chunks SET token_count = token_count WHERE collection_id = $1 RETURNING id": N,
    "UPDATE chunks SET start_offset = start_offset WHERE collection_id = $1 RETURNING content": N,
    "UPDATE chunks SET start_offset = no_such_column WHERE collection_id = $1 RETURNING id": (
        'column "no_such_column" does not exist'
    ),
    "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) RETURNING id": 1,
    "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1) RETURNING *": 1,
}


@pytest.mark.parametrize("replica", [True, False], ids=["replica", "real-table"])
async def test_statements_of_one_plan_shape_share_its_answer_and_each_is_still_checked(
    engine: AsyncEngine, statements_pg_url: str, replica: bool
) -> None:
    """One statement of a shape is planned, the others only prepared: each invalid one says why (the first
    of its shape too, and the next is then planned), each valid one reads what its shape reads."""
    await asyncio.to_thread(
        run_sql,
        statements_pg_url,
        "DROP TABLE IF EXISTS shaped_statements",
        "CREATE TABLE shaped_statements (dbid oid, queryid bigint, query text, calls bigint, "
        "total_exec_time float8, rows bigint)",
        *(
            "INSERT INTO shaped_statements SELECT oid, "
            f"{i}, $q${text}$q$, 1, 1.0, 0 FROM pg_database WHERE datname = current_database()"
            for i, text in enumerate(SHAPES)
        ),
    )
    try:
        port = PostgresStatementStatistics(engine, N, source="shaped_statements", replica=replica, batch_size=4)
        plans = {p.stats.query: p for p in await port.chunk_statements()}
    finally:
        await asyncio.to_thread(run_sql, statements_pg_url, "DROP TABLE shaped_statements")
    assert set(plans) == set(SHAPES)
    for query, expected in SHAPES.items():
        if isinstance(expected, int):
            assert (plans[query].partitions_read, plans[query].problem) == (expected, None), query
        else:
            assert plans[query].partitions_read is None, query
            assert expected in (plans[query].problem or ""), (query, plans[query].problem)


async def test_on_the_real_table_planning_takes_only_planning_locks_and_waits_no_longer_than_the_lock_timeout(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    """A writer holds EXCLUSIVE on chunks (it blocks writers, not readers): SELECTs are still planned
    (ACCESS SHARE), the DELETE (ROW EXCLUSIVE) gives up after the lock timeout and says so."""
    select = "SELECT id FROM chunks WHERE collection_id = $1"
    delete = "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1)"
    await run(statements_pg_url, {select: WORKLOAD[select], delete: WORKLOAD[delete]})
    holder = await asyncpg.connect(asyncpg_dsn(statements_pg_url))
    try:
        await holder.execute("BEGIN; LOCK TABLE chunks IN EXCLUSIVE MODE")
        port = PostgresStatementStatistics(engine, N, lock_timeout_seconds=0.2, replica=False)
        plans = {p.stats.query: p for p in await port.chunk_statements()}
        still_locked = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = 'chunks'::regclass AND granted AND pid = pg_backend_pid()"
        )
    finally:
        await holder.close()
    assert still_locked == 1
    assert plans[select].partitions_read == N
    assert plans[delete].partitions_read is None
    assert "lock timeout (0.2 s" in (plans[delete].problem or "")


async def test_the_replica_plans_writes_without_a_write_lock_on_the_table(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    """While a writer holds EXCLUSIVE on chunks, statements naming ``chunks`` are planned on the replica,
    DELETE included; one naming ``public.chunks`` is planned on the real table and waits at most the
    lock timeout."""
    select = "SELECT id FROM chunks WHERE collection_id = $1"
    delete = "DELETE FROM chunks WHERE collection_id = $1 AND partition_key = get_partition_key($1)"
    qualified = "DELETE FROM public.chunks WHERE collection_id = $1"
    await run(
        statements_pg_url,
        {select: WORKLOAD[select], delete: WORKLOAD[delete], qualified: ((COLLECTION,), N)},
    )
    holder = await asyncpg.connect(asyncpg_dsn(statements_pg_url))
    try:
        await holder.execute("BEGIN; LOCK TABLE chunks IN EXCLUSIVE MODE")
        port = PostgresStatementStatistics(engine, N, lock_timeout_seconds=0.2)
        plans = {p.stats.query: p for p in await port.chunk_statements()}
    finally:
        await holder.close()
    assert (plans[select].partitions_read, plans[delete].partitions_read) == (N, 1)
    assert plans[qualified].partitions_read is None
    assert "lock timeout (0.2 s" in (plans[qualified].problem or "")


async def test_under_an_access_exclusive_lock_nothing_is_planned_and_nothing_waits_long(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    await run(statements_pg_url, WORKLOAD)
    holder = await asyncpg.connect(asyncpg_dsn(statements_pg_url))
    try:
        await holder.execute("BEGIN; LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE")
        port = PostgresStatementStatistics(engine, N, lock_timeout_seconds=0.2)
        plans = {p.stats.query: p for p in await port.chunk_statements()}
    finally:
        await holder.close()
    for query in WORKLOAD:
        assert plans[query].partitions_read is None, query
        assert "not granted within the lock timeout" in (plans[query].problem or ""), query


async def test_a_statement_the_replica_cannot_plan_is_planned_on_the_real_table(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    """ON CONFLICT needs the unique index the replica lacks: the real table answers. (Since sc0007 the
    primary key is on each partition, not on chunks: an upsert names the collection's partition.)"""
    upsert = (
        f"INSERT INTO {partition_table_name(KEY, N)} (id, collection_id, partition_key, chunk_index, content) "
        "VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (id, collection_id, partition_key) DO UPDATE SET content = excluded.content"
    )
    await execute(statements_pg_url, f"INSERT INTO collections (id) VALUES ('{COLLECTION}') ON CONFLICT DO NOTHING")
    await run(statements_pg_url, {upsert: ((10**9, COLLECTION, KEY, 0, "x"), 0)})
    plans = {p.stats.query: p for p in await PostgresStatementStatistics(engine, N).chunk_statements()}
    assert plans[upsert].problem is None
    assert plans[upsert].partitions_read == 1  # it names one partition: pruned by construction


async def test_analysis_leaves_no_prepared_statement_and_no_lock_behind(
    engine: AsyncEngine, statements_pg_url: str
) -> None:
    await run(statements_pg_url, WORKLOAD)
    port = PostgresStatementStatistics(engine, N)
    await port.chunk_statements()
    async with engine.connect() as conn:  # the pool's one connection, the one that planned
        prepared = (await conn.exec_driver_sql("SELECT name FROM pg_prepared_statements WHERE from_sql")).all()
        locks = (
            await conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'chunks%'"
            )
        ).scalar_one()
    assert prepared == []
    assert locks == 0


def test_without_pg_stat_statements_queries_exits_3_and_health_still_works(pg_url: str) -> None:
    result = run_cli("queries", db_url=pg_url)
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert "CREATE EXTENSION pg_stat_statements" in line
    assert run_cli("health", db_url=pg_url).exit_code in (0, 1, 4)  # a verdict, never 3 (could not check)


async def test_repository_reads_through_the_pool_prune(engine: AsyncEngine, statements_pg_url: str) -> None:
    """The partition-pruned repository, exercised directly (not via the CLI) over the same engine."""
    await PostgresCollectionRepository(engine).add(COLLECTION)
    repo = PostgresChunkRepository(engine, N)
    await PostgresStatementStatistics(engine, N).reset()
    await repo.list_by_collection(COLLECTION)
    await repo.count(COLLECTION)
    report = await report_of(engine)
    assert report.unpruned == ()
    assert report.pruned >= 2
