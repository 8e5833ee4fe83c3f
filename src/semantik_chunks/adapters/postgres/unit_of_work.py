"""The unit of work over PostgreSQL: the chunk and collection repositories on one connection, in one
transaction (cosmicpython's ``SqlAlchemyUnitOfWork``, async).

Two ways to open one:

- on the library's engine (``container.unit_of_work()``, or ``PostgresUnitOfWork(engine)``): the unit of
  work takes a connection, begins a transaction, and ``commit()`` commits it;
- on the host's own connection or session (``container.unit_of_work(connection=conn)``, or
  ``PostgresUnitOfWork.on(conn)``): the chunks are written in the host's transaction, so the host's
  document and its chunks commit or roll back together. The unit of work then works in a savepoint:
  its ``commit()`` releases the savepoint (the host's commit makes it durable), its ``rollback()`` (or
  leaving the block without ``commit()``) undoes only the library's part. It never commits, rolls back
  or closes what the host owns. When the host's connection has no transaction yet, the unit of work
  begins one and ``commit()`` commits it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, AsyncTransaction

from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count

HostConnection = AsyncConnection | AsyncSession


class PostgresUnitOfWork:
    """``async with PostgresUnitOfWork(engine) as uow: ...; await uow.commit()`` (see the module docstring)."""

    chunks: PostgresChunkRepository
    collections: PostgresCollectionRepository

    def __init__(
        self,
        engine: AsyncEngine | None,
        partition_count: int = 100,
        *,
        connection: HostConnection | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if (engine is None) == (connection is None):
            raise ConfigurationError("a unit of work needs an engine or a host's connection (one of them)")
        self._engine = engine
        self._given = connection
        self._partition_count = validate_partition_count(partition_count)
        self._clock = clock
        self._conn: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    @classmethod
    def on(cls, connection: HostConnection, partition_count: int = 100, *, clock: Clock = utc_now) -> Self:
        """A unit of work in the host's transaction, on its ``AsyncConnection`` or ``AsyncSession``."""
        return cls(None, partition_count, connection=connection, clock=clock)

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is open already")
        async with database_errors():
            if self._given is None:
                assert self._engine is not None
                self._conn = await self._engine.connect()
            elif isinstance(self._given, AsyncSession):
                self._conn = await self._given.connection()  # the session's transaction, begun if need be
            else:
                self._conn = self._given
            self.chunks = PostgresChunkRepository(self._conn, self._partition_count, clock=self._clock)
            self.collections = PostgresCollectionRepository(self._conn)
            await self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            self._transaction = None
            if self._given is None and self._conn is not None:
                await self._conn.close()
            self._conn = None

    async def _begin(self) -> None:
        conn = self._opened()
        # On the host's transaction: a savepoint, the host keeps the last word. Otherwise a transaction.
        hosted = self._given is not None and conn.in_transaction()
        self._transaction = await (conn.begin_nested() if hosted else conn.begin())

    def _opened(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work in `async with uow:`")
        return self._conn

    async def commit(self) -> None:
        self._opened()
        assert self._transaction is not None
        async with database_errors():
            await self._transaction.commit()
            await self._begin()

    async def rollback(self) -> None:
        self._opened()
        assert self._transaction is not None
        async with database_errors():
            if self._transaction.is_active:
                await self._transaction.rollback()
            await self._begin()
