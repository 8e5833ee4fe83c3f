"""In-memory partition statistics, computed from the rows the way the SQL views compute them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import attrs

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import (
    Chunk,
    CollectionCount,
    CollectionStats,
    IsolatedCollection,
    PartitionSnapshot,
    WriteActivity,
)

# A heap tuple's header and line pointer; enough for sizes to be proportional like on disk.
ROW_OVERHEAD_BYTES = 28 + 4 + 8 * 8


def row_size(chunk: Chunk) -> int:
    return ROW_OVERHEAD_BYTES + len(chunk.content.encode()) + len(json.dumps(dict(chunk.metadata)))


def isolated_collections(database: MemoryDatabase) -> list[IsolatedCollection]:
    """The isolated collections with the rows and bytes they hold now, by partition then id."""
    result = []
    for found in database.isolated.values():
        rows = [c for c in database.partitions[found.partition_num].values() if c.collection_id == found.collection_id]
        result.append(attrs.evolve(found, rows=len(rows), bytes=sum(row_size(c) for c in rows)))
    return sorted(result, key=lambda f: (f.partition_num, f.collection_id))


class InMemoryPartitionStatistics:
    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    @property
    def partition_count(self) -> int:
        return self._db.partition_count

    @property
    def database(self) -> MemoryDatabase:
        return self._db

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        # Memory has no statistics lag: both modes count exactly.
        return [
            PartitionSnapshot(
                partition_num=num,
                row_count=len(rows),
                size_bytes=sum(row_size(c) for c in rows.values()),
                newest_chunk_at=max((c.created_at for c in rows.values() if c.created_at), default=None),
                writes=self._db.writes.get(num, 0),
            )
            for num, rows in sorted(self._db.partitions.items())
        ]

    async def write_activity(self) -> list[WriteActivity]:
        now = self._db.clock()
        hour, day, week = now - timedelta(hours=1), now - timedelta(days=1), now - timedelta(weeks=1)
        result = []
        for num, rows in sorted(self._db.partitions.items()):
            stamps = [c.created_at for c in rows.values() if c.created_at is not None]
            result.append(
                WriteActivity(
                    partition_num=num,
                    last_hour=sum(1 for s in stamps if s > hour),
                    last_day=sum(1 for s in stamps if s > day),
                    last_week=sum(1 for s in stamps if s > week),
                )
            )
        return result

    async def last_hour_writes(self) -> dict[int, int]:
        hour = self._db.clock() - timedelta(hours=1)
        return {
            num: sum(1 for c in rows.values() if c.created_at is not None and c.created_at > hour)
            for num, rows in sorted(self._db.partitions.items())
        }

    def _exact_counts(self, chunks: list[Chunk]) -> list[CollectionCount]:
        tally = Counter((c.collection_id, c.partition_key) for c in chunks)
        return [
            CollectionCount(collection_id=cid, partition_num=part or 0, chunk_count=n)
            for (cid, part), n in tally.items()
        ]

    async def collection_counts(
        self, *, partition_num: int | None = None, limit: int | None = None, exact: bool = False
    ) -> list[CollectionCount]:
        if exact:
            counts = self._exact_counts(self._db.all_chunks())
        else:
            counts = [
                CollectionCount(
                    collection_id=s.id,
                    partition_num=partition_for(s.id, self._db.partition_count),
                    chunk_count=s.total_chunks,
                )
                for s in self._db.collection_stats
                if s.total_chunks > 0
            ]
        if partition_num is not None:
            counts = [c for c in counts if c.partition_num == partition_num]
        counts.sort(key=lambda c: (-c.chunk_count, c.collection_id))
        return counts[:limit] if limit is not None else counts

    async def recent_collection_counts(self, partition_num: int, limit: int) -> list[CollectionCount]:
        since = self._db.clock() - timedelta(hours=1)
        recent = [c for c in self._db.partitions[partition_num].values() if c.created_at and c.created_at > since]
        counts = sorted(self._exact_counts(recent), key=lambda c: (-c.chunk_count, c.collection_id))
        return counts[:limit]

    async def collection_stats(self) -> list[CollectionStats]:
        return list(self._db.collection_stats)

    async def analyze(self, partitions: Sequence[int]) -> None:
        """Memory's statistics are exact already."""

    async def isolated_collections(self) -> list[IsolatedCollection]:
        return isolated_collections(self._db)

    async def refresh_collection_stats(self) -> None:
        by_collection: dict[str, list[Chunk]] = {cid: [] for cid in self._db.collections}
        for chunk in self._db.all_chunks():
            by_collection.setdefault(chunk.collection_id, []).append(chunk)
        stats = []
        for cid, chunks in by_collection.items():
            tokens = [c.token_count for c in chunks if c.token_count is not None]
            stats.append(
                CollectionStats(
                    id=cid,
                    name=self._db.collections.get(cid),
                    chunked_documents=len({c.document_id for c in chunks if c.document_id is not None}),
                    total_chunks=len(chunks),
                    avg_tokens_per_chunk=sum(tokens) / len(tokens) if tokens else None,
                    last_chunk_created=max((c.created_at for c in chunks if c.created_at), default=None),
                )
            )
        self._db.collection_stats = sorted(stats, key=lambda s: s.id)
