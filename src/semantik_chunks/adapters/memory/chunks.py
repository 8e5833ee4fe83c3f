"""In-memory chunk and collection repositories with the semantics of the Postgres adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import attrs

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain.chunks import (
    DEFAULT_BATCH_SIZE,
    check_batch_size,
    check_collection_id,
    prepare_batch,
    reading_order,
    storable_chunk_id,
)
from semantik_chunks.domain.errors import DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.hashing import partition_for, postgres_text
from semantik_chunks.domain.model import Chunk

_sort_key = reading_order  # PostgreSQL sorts NULLs last in ascending order


class InMemoryChunkRepository:
    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    @property
    def partition_count(self) -> int:
        return self._db.partition_count

    def _partition(self, collection_id: str) -> dict[tuple[int, str], Chunk]:
        return self._db.partitions[partition_for(collection_id, self._db.partition_count)]

    async def add_many(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        prepared = prepare_batch(chunks, self._db.partition_count, self._db.clock())
        for position, chunk in enumerate(prepared):
            if chunk.collection_id not in self._db.collections:
                raise InvalidChunkError(
                    f"chunk #{position}: collection {chunk.collection_id!r} does not exist in collections"
                )
            if chunk.id is not None and (chunk.id, chunk.collection_id) in self._partition(chunk.collection_id):
                raise DuplicateChunkError(
                    f"chunk #{position}: chunk id {chunk.id} of collection {chunk.collection_id!r} is already stored"
                )
        # Nothing is written until the whole batch has passed every check.
        # Advance past the batch's own explicit ids first, so that no generated id can take one of them.
        explicit = [c.id for c in prepared if c.id is not None]
        if explicit:
            self._db.advance_ids_past(max(explicit))
        stored = [c if c.id is not None else attrs.evolve(c, id=self._db.next_id()) for c in prepared]
        for chunk in stored:
            assert chunk.id is not None and chunk.partition_key is not None
            self._db.partitions[chunk.partition_key][(chunk.id, chunk.collection_id)] = chunk
            self._db.writes[chunk.partition_key] = self._db.writes.get(chunk.partition_key, 0) + 1
        return stored

    async def get(self, chunk_id: int, *, collection_id: str | None = None) -> Chunk | None:
        if not storable_chunk_id(chunk_id):
            return None  # True == 1 in Python, but no stored id is a bool
        if collection_id is not None:
            return self._partition(collection_id).get((chunk_id, collection_id))
        matches = [c for c in self._db.all_chunks() if c.id == chunk_id]
        return min(matches, key=lambda c: c.collection_id) if matches else None

    async def list_by_collection(self, collection_id: str) -> list[Chunk]:
        rows = self._partition(collection_id).values()
        return sorted((c for c in rows if c.collection_id == collection_id), key=_sort_key)

    async def list_by_document(self, collection_id: str, document_id: str) -> list[Chunk]:
        rows = self._partition(collection_id).values()
        found = (c for c in rows if c.collection_id == collection_id and c.document_id == document_id)
        return sorted(found, key=_sort_key)

    async def _pages(
        self, collection_id: str, document_id: str | None, everything: bool, batch_size: int
    ) -> AsyncIterator[Chunk]:
        """The Postgres adapter's keyset pages: each page is the ``batch_size`` rows after the last one
        returned, looked up afresh (so writes and deletes between pages behave as they do there)."""
        size = check_batch_size(batch_size)
        after: tuple[bool, str, int, int] | None = None
        while True:
            rows = self._partition(collection_id).values()
            page = sorted(
                (
                    c
                    for c in rows
                    if c.collection_id == collection_id
                    and (everything or c.document_id == document_id)
                    and (after is None or _sort_key(c) > after)
                ),
                key=_sort_key,
            )[:size]
            for chunk in page:
                yield chunk
            if len(page) < size:
                return
            after = _sort_key(page[-1])

    def iter_collection(self, collection_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> AsyncIterator[Chunk]:
        return self._pages(collection_id, None, True, batch_size)

    def iter_document(
        self, collection_id: str, document_id: str, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> AsyncIterator[Chunk]:
        return self._pages(collection_id, document_id, False, batch_size)

    async def delete_collection(self, collection_id: str) -> int:
        partition = self._partition(collection_id)
        doomed = [key for key, c in partition.items() if c.collection_id == collection_id]
        for key in doomed:
            del partition[key]
        self._count_deletes(collection_id, len(doomed))
        return len(doomed)

    async def delete_document(self, collection_id: str, document_id: str) -> int:
        partition = self._partition(collection_id)
        doomed = [
            key for key, c in partition.items() if c.collection_id == collection_id and c.document_id == document_id
        ]
        for key in doomed:
            del partition[key]
        self._count_deletes(collection_id, len(doomed))
        return len(doomed)

    def _count_deletes(self, collection_id: str, deleted: int) -> None:
        num = partition_for(collection_id, self._db.partition_count)
        self._db.writes[num] = self._db.writes.get(num, 0) + deleted

    async def count(self, collection_id: str | None = None) -> int:
        if collection_id is None:
            return sum(len(rows) for rows in self._db.partitions.values())
        return len(await self.list_by_collection(collection_id))


class InMemoryCollectionRepository:
    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    async def add(self, collection_id: str, name: str | None = None) -> None:
        check_collection_id(collection_id)
        if name is not None:
            try:
                postgres_text(name)
            except (TypeError, ValueError) as exc:
                raise InvalidChunkError(f"collection name {name!r}: {exc}") from None
        self._db.collections.setdefault(collection_id, name)

    async def exists(self, collection_id: str) -> bool:
        return collection_id in self._db.collections
