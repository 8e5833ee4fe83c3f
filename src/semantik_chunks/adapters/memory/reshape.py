"""The ``TableReshaper`` port in memory: the same plans from the same counts, changes applied at once.

A reshape re-buckets every chunk into the new count's partitions; an isolation is recorded (memory
has no sub-partitions to build). There is nothing concurrent to capture in memory, so a change is
never pending.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import isolated_collections, row_size
from semantik_chunks.domain.hashing import partition_for, partition_table_name, validate_partition_count
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import (
    CollectionFootprint,
    PendingChange,
    ReshapeError,
    ReshapeOutcome,
    ReshapeProgress,
    isolated_name,
)

Progress = Callable[[ReshapeProgress], None]


class InMemoryTableReshaper:
    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database
        self._previous: int | None = None
        self._rate: float | None = None

    async def current_partition_count(self) -> int:
        return self._db.partition_count

    async def collection_footprints(self) -> list[CollectionFootprint]:
        found: dict[str, list[int]] = {}
        for number, rows in self._db.partitions.items():
            for chunk in rows.values():
                entry = found.setdefault(chunk.collection_id, [number, 0, 0])
                entry[1] += 1
                entry[2] += row_size(chunk)
        return [CollectionFootprint(cid, number, rows, size) for cid, (number, rows, size) in found.items()]

    async def collection_exists(self, collection_id: str) -> bool:
        return collection_id in self._db.collections

    async def isolated_collections(self) -> list[IsolatedCollection]:
        return isolated_collections(self._db)

    async def move_rate(self) -> float | None:
        return self._rate

    async def pending(self) -> PendingChange | None:
        return None

    async def previous_count(self) -> int | None:
        return self._previous

    async def abandon(self) -> PendingChange | None:
        return None

    async def reshape(self, target: int, progress: Progress | None = None) -> ReshapeOutcome:
        validate_partition_count(target)
        current = self._db.partition_count
        if current == target:
            return ReshapeOutcome("partitions", current, target, noop=True)
        if self._db.isolated:
            raise ReshapeError("isolated collections must be released first (`semantik-chunks isolate --undo`)")
        started = time.perf_counter()
        chunks = self._db.all_chunks()
        self._db.partition_count = target
        self._db.partitions = {p: {} for p in range(target)}
        for chunk in chunks:
            assert chunk.id is not None
            key = partition_for(chunk.collection_id, target)
            self._db.partitions[key][(chunk.id, chunk.collection_id)] = attrs.evolve(chunk, partition_key=key)
        took = time.perf_counter() - started
        self._previous = current
        if progress is not None:
            progress(ReshapeProgress("done", len(chunks), len(chunks), took))
        return ReshapeOutcome("partitions", current, target, rows_copied=len(chunks), copy_seconds=took, seconds=took)

    async def isolate(self, collection_id: str, parts: int, progress: Progress | None = None) -> ReshapeOutcome:
        count = self._db.partition_count
        number = partition_for(collection_id, count)
        name = isolated_name(partition_table_name(number, count), collection_id)
        self._db.isolated[collection_id] = IsolatedCollection(collection_id, number, name, parts)
        rows = len(self._db.partitions[number])
        return ReshapeOutcome("isolate", count, count, rows_copied=rows, collection_id=collection_id, split_parts=parts)

    async def release(self, collection_id: str, progress: Progress | None = None) -> ReshapeOutcome:
        count = self._db.partition_count
        found = self._db.isolated.pop(collection_id)
        rows = len(self._db.partitions[found.partition_num])
        return ReshapeOutcome("release", count, count, rows_copied=rows, collection_id=collection_id)
