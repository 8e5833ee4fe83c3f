"""The unit of work over the in-memory adapters: a rollback puts the rows back as they were.

There is no isolation: writes are seen by everyone at once, and a rollback also undoes what others
wrote since the unit of work began (or last committed). It is for tests and ``memory://``, one writer
at a time; what it proves is the contract (commit keeps, rollback and leaving without commit discard).
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase, MemorySnapshot
from semantik_chunks.domain.errors import ConfigurationError


class MemoryUnitOfWork:
    """``async with MemoryUnitOfWork(database) as uow: ...; await uow.commit()``"""

    def __init__(self, database: MemoryDatabase, *, connection: object = None) -> None:
        if connection is not None:
            raise ConfigurationError(
                "memory:// has no connections: a unit of work on a host connection needs PostgreSQL"
            )
        self._db = database
        self.chunks = InMemoryChunkRepository(database)
        self.collections = InMemoryCollectionRepository(database)
        self._committed: MemorySnapshot | None = None

    async def __aenter__(self) -> Self:
        if self._committed is not None:
            raise RuntimeError("this unit of work is open already")
        self._committed = self._db.snapshot()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()  # what was committed stays; the rest goes
        self._committed = None

    def _opened(self) -> MemorySnapshot:
        if self._committed is None:
            raise RuntimeError("use the unit of work in `async with uow:`")
        return self._committed

    async def commit(self) -> None:
        self._opened()
        self._committed = self._db.snapshot()

    async def rollback(self) -> None:
        self._db.restore(self._opened())
