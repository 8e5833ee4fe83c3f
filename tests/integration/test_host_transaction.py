"""The host's transaction: a document the host writes and its chunks commit or roll back together, on the
host's own connection or ORM session; the container builds the unit of work for either."""

from __future__ import annotations

import pytest
from sqlalchemy import String, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from semantik_chunks.adapters.postgres.unit_of_work import PostgresUnitOfWork
from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.errors import ConfigurationError, InvalidChunkError
from semantik_chunks.domain.model import Chunk

COLLECTION = "host-collection"


class Base(DeclarativeBase):
    pass


class Document(Base):
    """The host's own table."""

    __tablename__ = "host_documents"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    title: Mapped[str] = mapped_column(String)


def chunks_of(document_id: str, n: int = 3) -> list[Chunk]:
    return [Chunk(collection_id=COLLECTION, document_id=document_id, chunk_index=i, content=f"{i}") for i in range(n)]


@pytest.fixture
async def engine(pg_engine: AsyncEngine) -> AsyncEngine:
    async with pg_engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS host_documents"))
        await conn.run_sync(Base.metadata.create_all)
        await conn.execute(text("INSERT INTO collections (id) VALUES (:id)"), {"id": COLLECTION})
    return pg_engine


async def stored(engine: AsyncEngine) -> tuple[list[str], int]:
    async with engine.connect() as conn:
        documents = list((await conn.execute(text("SELECT id FROM host_documents ORDER BY id"))).scalars())
        count = (await conn.execute(text("SELECT count(*) FROM chunks"))).scalar_one()
    return documents, count


async def test_the_hosts_commit_keeps_the_document_and_its_chunks(engine: AsyncEngine) -> None:
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("INSERT INTO host_documents VALUES ('d1', 'one')"))
        async with PostgresUnitOfWork.on(conn) as uow:
            await uow.chunks.add_many(chunks_of("d1"))
            await uow.commit()  # releases the savepoint; the host's commit below makes it durable
        assert await stored(engine) == ([], 0)  # not committed yet: nobody else sees either
    assert await stored(engine) == (["d1"], 3)


async def test_the_hosts_rollback_loses_the_chunks_with_the_document(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(text("INSERT INTO host_documents VALUES ('d1', 'one')"))
        async with PostgresUnitOfWork.on(conn) as uow:
            await uow.chunks.add_many(chunks_of("d1"))
            await uow.commit()
        await transaction.rollback()
    assert await stored(engine) == ([], 0)


async def test_the_unit_of_works_rollback_undoes_only_the_librarys_part(engine: AsyncEngine) -> None:
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("INSERT INTO host_documents VALUES ('d1', 'one')"))
        async with PostgresUnitOfWork.on(conn) as uow:
            await uow.chunks.add_many(chunks_of("d1"))
            # A bad batch fails in its own savepoint: the host's transaction is still usable.
            with pytest.raises(InvalidChunkError, match="does not exist"):
                await uow.chunks.add_many([Chunk(collection_id="missing", chunk_index=0, content="x")])
            # Leaving without commit: the chunks go, the host's document stays in its transaction.
        await conn.execute(text("INSERT INTO host_documents VALUES ('d2', 'two')"))
    assert await stored(engine) == (["d1", "d2"], 0)


async def test_a_host_session_and_the_container(engine: AsyncEngine, clean_pg_url: str) -> None:
    container = bootstrap(Settings(database_url=clean_pg_url))
    container.engine.override(engine)  # the host's engine: never disposed by the library
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async with sessions() as session, session.begin():
        session.add(Document(id="kept", title="with chunks"))
        async with container.unit_of_work(connection=session) as uow:
            await uow.chunks.add_many(chunks_of("kept"))
            await uow.commit()
    assert await stored(engine) == (["kept"], 3)

    async with sessions() as session:  # the session begins its transaction by itself
        session.add(Document(id="lost", title="rolled back"))
        async with container.unit_of_work(connection=session) as uow:
            await uow.chunks.add_many(chunks_of("lost"))
            await uow.commit()
        await session.rollback()
    assert await stored(engine) == (["kept"], 3)

    # On the container's engine, the unit of work owns its transaction.
    async with container.unit_of_work() as uow:
        await uow.chunks.add_many(chunks_of("own"))
        await uow.commit()
    assert await container.chunk_repository().count(COLLECTION) == 6

    await dispose(container)
    assert await stored(engine) == (["kept"], 6)  # the host's engine still works


async def test_a_host_connection_without_a_transaction_gets_one_that_commit_commits(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert not conn.in_transaction()
        async with PostgresUnitOfWork.on(conn) as uow:
            await uow.chunks.add_many(chunks_of("d"))
            await uow.commit()
        assert not conn.closed  # the host's connection is the host's to close
    assert await stored(engine) == ([], 3)


def test_memory_has_no_host_connection() -> None:
    container = bootstrap(Settings(database_url="memory://"))
    with pytest.raises(ConfigurationError, match="memory:// has no connections"):
        container.unit_of_work(connection=object())
