"""One behaviour suite, every adapter: each contract test runs once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import attrs
import pytest

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.unit_of_work import MemoryUnitOfWork
from semantik_chunks.ports import ChunkRepository, CollectionRepository, UnitOfWork

PARTITION_COUNT = 100


@attrs.frozen
class Repositories:
    chunks: ChunkRepository
    collections: CollectionRepository
    unit_of_work: Callable[[], UnitOfWork]  # a new unit of work over the same storage


@pytest.fixture(params=["memory", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The backend's database URL (an emptied, migrated database), or None for memory.

    Sync on purpose: the Postgres fixtures run blocking setup that must not run inside the event loop.
    """
    if request.param == "postgres":
        return str(request.getfixturevalue("clean_pg_url"))
    return None


@pytest.fixture
async def repos(backend: str | None) -> AsyncIterator[Repositories]:
    if backend is None:
        database = MemoryDatabase(partition_count=PARTITION_COUNT)
        yield Repositories(
            InMemoryChunkRepository(database),
            InMemoryCollectionRepository(database),
            lambda: MemoryUnitOfWork(database),
        )
        return
    from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.unit_of_work import PostgresUnitOfWork

    engine = create_engine(backend)
    try:
        yield Repositories(
            PostgresChunkRepository(engine, PARTITION_COUNT),
            PostgresCollectionRepository(engine),
            lambda: PostgresUnitOfWork(engine, PARTITION_COUNT),
        )
    finally:
        await engine.dispose()
