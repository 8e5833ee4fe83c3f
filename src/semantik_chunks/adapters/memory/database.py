"""An in-memory stand-in for the database: the state both memory adapters share."""

from __future__ import annotations

import itertools

import attrs

from semantik_chunks.domain.chunks import ID_MAX, IDS_EXHAUSTED
from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.errors import IdsExhaustedError
from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.history import PartitionSample
from semantik_chunks.domain.model import Chunk, CollectionStats, IsolatedCollection


@attrs.frozen
class MemorySnapshot:
    collections: dict[str, str | None]
    partitions: dict[int, dict[tuple[int, str], Chunk]]
    collection_stats: list[CollectionStats]


@attrs.define
class MemoryDatabase:
    """Partitions keyed like the real table: partition number -> (id, collection_id) -> chunk."""

    partition_count: int = attrs.field(default=100, converter=validate_partition_count)
    clock: Clock = utc_now
    collections: dict[str, str | None] = attrs.field(factory=dict)
    partitions: dict[int, dict[tuple[int, str], Chunk]] = attrs.field(init=False)
    collection_stats: list[CollectionStats] = attrs.field(factory=list)
    # Rows written (inserted or deleted) per partition, like the database's cumulative counters.
    writes: dict[int, int] = attrs.field(factory=dict)
    # The partition history's samples, oldest first (adapters/memory/history.py).
    history: list[PartitionSample] = attrs.field(factory=list)
    # The isolated collections by id, as the reshaper recorded them (rows and bytes are counted on reading).
    isolated: dict[str, IsolatedCollection] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))

    def __attrs_post_init__(self) -> None:
        self.partitions = {p: {} for p in range(self.partition_count)}

    def next_id(self) -> int:
        value = next(self._ids)
        if value > ID_MAX:  # where PostgreSQL's bigint sequence stops
            raise IdsExhaustedError(IDS_EXHAUSTED)
        return value

    def advance_ids_past(self, used: int) -> None:
        """Like setval after explicit ids: later generated ids never collide with ``used``."""
        current = next(self._ids)
        self._ids = itertools.count(max(current, used + 1))

    def snapshot(self) -> MemorySnapshot:
        """The rows as they are now (chunks are immutable: the dicts are copied, not the chunks)."""
        return MemorySnapshot(
            dict(self.collections), {p: dict(rows) for p, rows in self.partitions.items()}, list(self.collection_stats)
        )

    def restore(self, snapshot: MemorySnapshot) -> None:
        """Back to ``snapshot``'s rows. The id counter is not rewound: like a PostgreSQL sequence, an id
        once handed out is never handed out again."""
        self.collections = dict(snapshot.collections)
        self.partitions = {p: dict(rows) for p, rows in snapshot.partitions.items()}
        self.collection_stats = list(snapshot.collection_stats)

    def all_chunks(self) -> list[Chunk]:
        return [chunk for rows in self.partitions.values() for chunk in rows.values()]
