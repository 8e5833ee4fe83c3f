"""Every query the adapter issues about a collection reads exactly one partition, as EXPLAIN shows.

The statements are captured as the adapter runs them (SQLAlchemy's ``before_cursor_execute``),
then EXPLAINed with the same parameters: what is proven is what runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from semantik_chunks import partition_for, partition_table_name
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import async_url
from semantik_chunks.domain.model import Chunk

COLLECTION = "550e8400-e29b-41d4-a716-446655440000"
LEAF = re.compile(r"^chunks_part_\d+$")

Captured = list[tuple[str, Any]]


def scanned(plan: Any) -> Iterator[str]:
    """The ``Relation Name`` of every plan node. A ModifyTable's ``Target Tables`` are not read: on
    PostgreSQL < 18 a generic plan lists every partition there even though its executor prunes them."""
    if isinstance(plan, dict):
        for key, value in plan.items():
            if key == "Relation Name":
                yield value
            elif key != "Target Tables":
                yield from scanned(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from scanned(item)


def literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str)
    return "'" + value.replace("'", "''") + "'"


async def partitions_read(engine: AsyncEngine, statement: str, parameters: Any, *, generic: bool = False) -> list[str]:
    """The distinct partitions the plan of ``statement`` scans.

    ``generic``: the plan a prepared statement would get without its parameters' values, where
    pruning happens at executor start instead of at plan time (PREPARE + EXPLAIN EXECUTE, since
    EXPLAIN plans its statement with the values it is given)."""
    async with engine.connect() as conn:
        if generic:
            await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            await conn.exec_driver_sql(f"PREPARE pruning_probe AS {statement}")
            arguments = ", ".join(literal(value) for value in parameters)
            explain = f"EXPLAIN (FORMAT JSON) EXECUTE pruning_probe({arguments})"
            plan = (await conn.exec_driver_sql(explain)).scalar_one()
            await conn.exec_driver_sql("DEALLOCATE pruning_probe")  # not transactional: the connection keeps it
        else:
            plan = (await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)).scalar_one()
        await conn.rollback()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    if generic:
        assert re.search(r'"Subplans Removed": 99\b', json.dumps(plan)), plan
    return sorted({name for name in scanned(plan) if LEAF.match(name)})


@pytest.fixture
async def repo(pg_engine: AsyncEngine) -> PostgresChunkRepository:
    await PostgresCollectionRepository(pg_engine).add(COLLECTION)
    repo = PostgresChunkRepository(pg_engine, 100)
    await repo.add_many(
        [Chunk(collection_id=COLLECTION, chunk_index=i, content="x", document_id="d") for i in range(3)]
    )
    return repo


@pytest.fixture
def captured(pg_engine: AsyncEngine) -> Iterator[Captured]:
    statements: Captured = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, parameters))

    event.listen(pg_engine.sync_engine, "before_cursor_execute", capture)
    yield statements
    event.remove(pg_engine.sync_engine, "before_cursor_execute", capture)


COLLECTION_QUERIES: dict[str, Callable[[PostgresChunkRepository], Awaitable[object]]] = {
    "list_by_collection": lambda r: r.list_by_collection(COLLECTION),
    "list_by_document": lambda r: r.list_by_document(COLLECTION, "d"),
    "get": lambda r: r.get(1, collection_id=COLLECTION),
    "count": lambda r: r.count(COLLECTION),
    "delete_document": lambda r: r.delete_document(COLLECTION, "nothing"),
    "delete_collection": lambda r: r.delete_collection(COLLECTION),
}


async def drain(chunks: AsyncIterator[Chunk]) -> None:
    async for _chunk in chunks:
        pass


# Paged reads run several statements (first page, pages after a cursor, the chunks without a document).
PAGED_QUERIES: dict[str, Callable[[PostgresChunkRepository], Awaitable[object]]] = {
    "iter_collection": lambda r: drain(r.iter_collection(COLLECTION, batch_size=2)),
    "iter_document": lambda r: drain(r.iter_document(COLLECTION, "d", batch_size=2)),
}


@pytest.mark.parametrize("generic", [False, True], ids=["custom-plan", "generic-plan"])
@pytest.mark.parametrize("method", COLLECTION_QUERIES)
async def test_each_collection_query_reads_exactly_one_partition(
    pg_engine: AsyncEngine, repo: PostgresChunkRepository, captured: Captured, method: str, generic: bool
) -> None:
    await COLLECTION_QUERIES[method](repo)
    assert len(captured) == 1, captured
    statement, parameters = captured[0]
    assert "partition_key" in statement

    read = await partitions_read(pg_engine, statement, parameters, generic=generic)

    assert read == [partition_table_name(partition_for(COLLECTION, 100), 100)]


@pytest.mark.parametrize("generic", [False, True], ids=["custom-plan", "generic-plan"])
@pytest.mark.parametrize("method", PAGED_QUERIES)
async def test_every_page_of_a_paged_read_reads_exactly_one_partition(
    pg_engine: AsyncEngine, repo: PostgresChunkRepository, captured: Captured, method: str, generic: bool
) -> None:
    await PAGED_QUERIES[method](repo)
    # Three chunks of document "d", two a page: a first page and a page after its cursor (and, for the
    # collection, the first page of the chunks without a document).
    assert len(captured) == {"iter_collection": 3, "iter_document": 2}[method], captured
    assert any("(chunk_index, id) >" in s or '(document_id COLLATE "C", chunk_index, id) >' in s for s, _ in captured)
    for statement, parameters in list(captured):  # (the EXPLAINs below are captured too)
        assert "partition_key" in statement
        read = await partitions_read(pg_engine, statement, parameters, generic=generic)
        assert read == [partition_table_name(partition_for(COLLECTION, 100), 100)]


async def test_postgresql_plans_the_adapters_statements_per_call_so_pruning_happens_at_plan_time(
    clean_pg_url: str,
) -> None:
    """The custom plans EXPLAIN shows above are the ones that run: asyncpg keeps the statements prepared,
    and PostgreSQL keeps choosing a custom plan for them (a generic one costs every partition)."""
    engine = create_async_engine(async_url(clean_pg_url), pool_size=1, max_overflow=0)
    try:
        await PostgresCollectionRepository(engine).add(COLLECTION)
        repo = PostgresChunkRepository(engine, 100)
        await repo.add_many([Chunk(collection_id=COLLECTION, chunk_index=i, content="x") for i in range(50)])
        for _ in range(10):
            for query in COLLECTION_QUERIES.values():
                await query(repo)
        async with engine.connect() as conn:
            prepared = (
                await conn.exec_driver_sql("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
            ).all()
    finally:
        await engine.dispose()
    plans = [row for row in prepared if "chunks WHERE partition_key = get_partition_key(" in row.statement]
    assert len(plans) == len(COLLECTION_QUERIES)
    for statement, generic_plans, custom_plans in plans:
        assert (generic_plans, custom_plans) == (0, 10), statement


async def test_get_without_the_collection_reads_every_partition(
    pg_engine: AsyncEngine, repo: PostgresChunkRepository, captured: Captured
) -> None:
    await repo.get(1)
    [(statement, parameters)] = captured
    assert await partitions_read(pg_engine, statement, parameters) == [partition_table_name(i) for i in range(100)]


async def test_a_query_on_collection_id_alone_reads_every_partition(pg_engine: AsyncEngine) -> None:
    read = await partitions_read(pg_engine, "SELECT * FROM chunks WHERE collection_id = $1", (COLLECTION,))
    assert read == [partition_table_name(i) for i in range(100)]
