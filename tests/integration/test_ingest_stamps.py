"""Who stamps ``created_at``/``updated_at`` of a COPY batch: the server's ``DEFAULT now()`` or the clock.

A repository on an engine with the default clock leaves both columns out of the COPY when no chunk of the
batch brings a timestamp and the table's columns default to ``now()`` (asyncpg's timestamp encoding was a
third of the client's work per row): the chunks it returns carry the transaction's ``now()``, which is
what the server stores. Anything else (a clock given by the caller, a table with other defaults) keeps
stamping every row from the clock. In every case what ``add_many`` returns is what is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.domain.model import Chunk

COLLECTION = "stamps"
LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture
async def engine(pg_engine: AsyncEngine) -> AsyncEngine:
    await PostgresCollectionRepository(pg_engine).add(COLLECTION)
    return pg_engine


def batch(size: int = 3) -> list[Chunk]:
    return [Chunk(collection_id=COLLECTION, chunk_index=i, content=f"chunk {i}") for i in range(size)]


async def stored(repo: PostgresChunkRepository) -> list[Chunk]:
    return await repo.list_by_collection(COLLECTION)


STAMPED_BY_NOW = (
    """CREATE FUNCTION test_stamped_by_now() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.created_at IS DISTINCT FROM now() OR NEW.updated_at IS DISTINCT FROM now() THEN
            RAISE EXCEPTION 'stamped % / %, not now() %', NEW.created_at, NEW.updated_at, now();
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER test_stamped_by_now BEFORE INSERT ON chunks FOR EACH ROW EXECUTE FUNCTION test_stamped_by_now()",
)


async def test_a_batch_without_timestamps_gets_the_transactions_now_as_stored(engine: AsyncEngine) -> None:
    """The trigger refuses a row not stamped with the transaction's now(): the clock, read by Python before
    the transaction began, would not match it to the microsecond."""
    async with engine.begin() as conn:
        for statement in STAMPED_BY_NOW:
            await conn.execute(text(statement))
    try:
        repo = PostgresChunkRepository(engine, 100)
        before = datetime.now(UTC)
        saved = await repo.add_many(batch())
        after = datetime.now(UTC)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_stamped_by_now ON chunks"))
            await conn.execute(text("DROP FUNCTION test_stamped_by_now()"))
    before = datetime.now(UTC)
    assert await stored(repo) == saved
    assert len({c.created_at for c in saved}) == 1  # one transaction, one now()
    [stamp] = {c.created_at for c in saved}
    assert stamp is not None and before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)
    assert all(c.updated_at == c.created_at for c in saved)


async def test_a_table_whose_timestamps_default_to_something_else_is_stamped_from_the_clock(
    engine: AsyncEngine,
) -> None:
    """Were the columns left out here, the server would store 2001 while add_many returned today."""
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE chunks ALTER COLUMN created_at SET DEFAULT '2001-02-03 04:05:06+00'"))
    try:
        repo = PostgresChunkRepository(engine, 100)
        before = datetime.now(UTC)
        saved = await repo.add_many(batch())
        assert await stored(repo) == saved
        assert all(c.created_at is not None and c.created_at >= before - timedelta(seconds=1) for c in saved)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE chunks ALTER COLUMN created_at SET DEFAULT now()"))


async def test_a_clock_given_to_the_repository_stamps_every_row(engine: AsyncEngine) -> None:
    repo = PostgresChunkRepository(engine, 100, clock=lambda: LONG_AGO)
    saved = await repo.add_many(batch())
    assert await stored(repo) == saved
    assert {(c.created_at, c.updated_at) for c in saved} == {(LONG_AGO, LONG_AGO)}


async def test_a_batch_where_one_chunk_brings_its_timestamp_is_stamped_from_the_clock(engine: AsyncEngine) -> None:
    repo = PostgresChunkRepository(engine, 100)
    chunks = batch()
    chunks[2] = Chunk(collection_id=COLLECTION, chunk_index=2, content="old", updated_at=LONG_AGO)
    saved = await repo.add_many(chunks)
    assert await stored(repo) == saved
    assert saved[2].updated_at == LONG_AGO and saved[2].created_at != LONG_AGO
    assert saved[0].created_at == saved[1].created_at == saved[0].updated_at
