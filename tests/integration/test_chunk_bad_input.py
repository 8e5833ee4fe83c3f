"""Bad input meets a clear domain error; the batch is atomic; the connection goes on working.

The engine here has a single connection, so "still usable" means the very connection that
saw the error.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import attrs
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import async_url, create_engine
from semantik_chunks.adapters.postgres.schema import PARTITION_CHECK
from semantik_chunks.domain.errors import (
    DatabaseUnavailableError,
    DuplicateChunkError,
    InvalidChunkError,
    SchemaMissingError,
)
from semantik_chunks.domain.model import Chunk
from tests.postgres_servers import asyncpg_dsn

COLLECTION = "collection-a"


@pytest.fixture
async def engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(async_url(clean_pg_url), pool_size=1, max_overflow=0)
    await PostgresCollectionRepository(engine).add(COLLECTION)
    yield engine
    await engine.dispose()


@pytest.fixture
def repo(engine: AsyncEngine) -> PostgresChunkRepository:
    return PostgresChunkRepository(engine, 100)


def chunk(index: int = 0, **fields: object) -> Chunk:
    return attrs.evolve(Chunk(collection_id=COLLECTION, chunk_index=index, content=f"chunk {index}"), **fields)


async def assert_nothing_written_and_usable(repo: PostgresChunkRepository, before: int) -> None:
    assert await repo.count() == before
    [saved] = await repo.add_many([chunk(1000)])
    assert saved.id is not None
    assert await repo.get(saved.id, collection_id=COLLECTION) == saved


async def test_a_wrong_partition_key_is_refused_before_anything_is_sent(repo: PostgresChunkRepository) -> None:
    wrong = (partition_for(COLLECTION, 100) + 1) % 100
    with pytest.raises(InvalidChunkError, match=rf"chunk #1 .*partition_key={wrong} is wrong.*belongs in partition"):
        await repo.add_many([chunk(0), chunk(1, partition_key=wrong)])
    await assert_nothing_written_and_usable(repo, 0)


async def test_nul_in_content_is_refused(repo: PostgresChunkRepository) -> None:
    with pytest.raises(InvalidChunkError, match=r"chunk #2 .*content.*NUL"):
        await repo.add_many([chunk(0), chunk(1), chunk(2, content="before\x00after")])
    await assert_nothing_written_and_usable(repo, 0)


async def test_a_collection_id_postgresql_cannot_store_is_refused(
    repo: PostgresChunkRepository, engine: AsyncEngine
) -> None:
    with pytest.raises(InvalidChunkError, match=r"chunk #1 .*collection_id.*lone surrogate"):
        await repo.add_many([chunk(0), chunk(1, collection_id="broken-\udc80")])
    with pytest.raises(InvalidChunkError, match=r"collection id .*lone surrogate"):
        await PostgresCollectionRepository(engine).add("broken-\udc80")
    assert await repo.list_by_collection(COLLECTION) == []
    await assert_nothing_written_and_usable(repo, 0)


async def test_a_duplicate_id_in_the_batch_is_refused(repo: PostgresChunkRepository) -> None:
    with pytest.raises(DuplicateChunkError, match=r"chunk id 7 .* appears twice"):
        await repo.add_many([chunk(0, id=7), chunk(1, id=7)])
    await assert_nothing_written_and_usable(repo, 0)


async def test_an_id_already_stored_is_refused_by_the_database_and_named(repo: PostgresChunkRepository) -> None:
    await repo.add_many([chunk(0, id=7)])
    with pytest.raises(
        DuplicateChunkError, match=r"chunk #2: chunk id 7 of collection 'collection-a' is already stored"
    ):
        await repo.add_many([chunk(1), chunk(2), chunk(3, id=7)])
    await assert_nothing_written_and_usable(repo, 1)


async def test_an_unknown_collection_is_refused_by_the_foreign_key_and_named(repo: PostgresChunkRepository) -> None:
    with pytest.raises(InvalidChunkError, match=r"chunk #1: collection 'nowhere' does not exist in collections"):
        await repo.add_many([chunk(0), chunk(1, collection_id="nowhere")])
    await assert_nothing_written_and_usable(repo, 0)


def collection_routed_differently(fewer: int) -> str:
    """A collection whose partition under ``fewer`` partitions differs from the one under 100."""
    return next(f"c-{i}" for i in itertools.count() if partition_for(f"c-{i}", fewer) != partition_for(f"c-{i}", 100))


@pytest.mark.parametrize("partition_count", [50, 200], ids=["fewer-than-the-database", "more-than-the-database"])
async def test_a_repository_configured_for_another_partition_count_adopts_the_databases(
    engine: AsyncEngine, repo: PostgresChunkRepository, partition_count: int
) -> None:
    """The database refuses the key (CHECK, or no partition for it); the repository reads
    chunk_partition_count(), adopts it and retries the batch once (how a process started before an
    online reshape keeps writing: docs/reshape.md)."""
    if partition_count < 100:
        collection_id = collection_routed_differently(partition_count)
    else:  # a key of 100 or more has no partition at all
        collection_id = next(f"c-{i}" for i in itertools.count() if partition_for(f"c-{i}", partition_count) >= 100)
    await PostgresCollectionRepository(engine).add(collection_id)
    misconfigured = PostgresChunkRepository(engine, partition_count)
    [stored] = await misconfigured.add_many([Chunk(collection_id=collection_id, chunk_index=0, content="x")])
    assert misconfigured.partition_count == 100
    assert stored.partition_key == partition_for(collection_id, 100)
    assert [c.id for c in await repo.list_by_collection(collection_id)] == [stored.id]


async def test_plain_sql_with_a_wrong_partition_key_fails_on_the_check(clean_pg_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(clean_pg_url))
    try:
        await conn.execute("INSERT INTO collections (id) VALUES ($1)", COLLECTION)
        right = partition_for(COLLECTION, 100)
        insert = "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) VALUES ($1, $2, 0, 'x')"
        with pytest.raises(asyncpg.CheckViolationError) as wrong_key:
            await conn.execute(insert, COLLECTION, (right + 1) % 100)
        assert wrong_key.value.constraint_name == PARTITION_CHECK
        with pytest.raises(asyncpg.CheckViolationError, match="no partition"):
            await conn.execute(insert, COLLECTION, 100)
        await conn.execute(insert, COLLECTION, right)
        assert await conn.fetchval("SELECT count(*) FROM chunks") == 1
    finally:
        await conn.close()


@pytest.fixture
def unmigrated_url(make_database: Callable[[], str]) -> str:
    return make_database()


async def test_a_database_without_the_schema_names_the_fix(unmigrated_url: str) -> None:
    engine = create_engine(unmigrated_url)
    try:
        repo = PostgresChunkRepository(engine, 100)
        with pytest.raises(SchemaMissingError, match="semantik-chunks migrate"):
            await repo.add_many([chunk(0)])
        with pytest.raises(SchemaMissingError):
            await repo.count()
    finally:
        await engine.dispose()


async def test_an_unreachable_database_is_a_domain_error_not_a_driver_trace(tmp_path: Path) -> None:
    engine = create_engine(f"postgresql://postgres@/postgres?host={tmp_path}")  # no server listens there
    try:
        with pytest.raises(DatabaseUnavailableError, match="unreachable"):
            await PostgresChunkRepository(engine, 100).count(COLLECTION)
    finally:
        await engine.dispose()


async def test_a_host_engine_in_autocommit_mode_keeps_batches_atomic(clean_pg_url: str) -> None:
    engine = create_async_engine(async_url(clean_pg_url), isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        await PostgresCollectionRepository(engine).add(COLLECTION)
        repo = PostgresChunkRepository(engine, 100)
        await repo.add_many([chunk(0, id=3)])
        with pytest.raises(DuplicateChunkError, match="chunk #2: chunk id 3"):
            await repo.add_many([chunk(1), chunk(2), chunk(3, id=3)])
        with pytest.raises(InvalidChunkError, match="chunk #1: collection 'nowhere'"):
            await repo.add_many([chunk(4), chunk(5, collection_id="nowhere")])
        await assert_nothing_written_and_usable(repo, 1)
    finally:
        await engine.dispose()
