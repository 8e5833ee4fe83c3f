"""ReadOnce: one reading of the statistics per command."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.adapters.read_once import ReadOnce
from semantik_chunks.config import Settings
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import Chunk
from semantik_chunks.entrypoints.cli import runtime


class CountingStatistics(InMemoryPartitionStatistics):
    def __init__(self, database: MemoryDatabase) -> None:
        super().__init__(database)
        self.reads: Counter[str] = Counter()

    async def partition_snapshots(self, *, exact: bool = False):  # type: ignore[no-untyped-def]
        self.reads[f"snapshots exact={exact}"] += 1
        return await super().partition_snapshots(exact=exact)

    async def write_activity(self):  # type: ignore[no-untyped-def]
        self.reads["activity"] += 1
        return await super().write_activity()

    async def last_hour_writes(self):  # type: ignore[no-untyped-def]
        self.reads["last hour"] += 1
        return await super().last_hour_writes()

    async def collection_stats(self):  # type: ignore[no-untyped-def]
        self.reads["collection_stats"] += 1
        return await super().collection_stats()


async def _database_with_chunks() -> MemoryDatabase:
    database = MemoryDatabase()
    await InMemoryCollectionRepository(database).add("c1")
    when = utc_now() - timedelta(minutes=5)
    chunks = [Chunk(collection_id="c1", chunk_index=i, content="x", created_at=when) for i in range(3)]
    await InMemoryChunkRepository(database).add_many(chunks)
    return database


async def test_each_question_is_read_once() -> None:
    inner = CountingStatistics(await _database_with_chunks())
    once = ReadOnce(inner)
    first = await once.partition_snapshots()
    assert await once.partition_snapshots() == first
    await once.partition_snapshots(exact=True)
    await once.write_activity()
    await once.write_activity()
    hour = await once.last_hour_writes()
    assert await once.last_hour_writes() == hour
    # The three chunks of c1, written five minutes ago, in c1's partition; every partition listed.
    assert hour == {**dict.fromkeys(range(100), 0), partition_for("c1"): 3}
    assert inner.reads == Counter(
        {"snapshots exact=False": 1, "snapshots exact=True": 1, "activity": 1, "last hour": 1}
    )
    assert once.partition_count == 100


async def test_answers_are_copies() -> None:
    once = ReadOnce(CountingStatistics(await _database_with_chunks()))
    answer = await once.partition_snapshots()
    answer.clear()
    assert len(await once.partition_snapshots()) == 100
    hour = await once.last_hour_writes()
    hour.clear()
    assert len(await once.last_hour_writes()) == 100


async def test_a_refresh_forgets_every_answer() -> None:
    inner = CountingStatistics(await _database_with_chunks())
    once = ReadOnce(inner)
    assert await once.collection_stats() == []
    await once.refresh_collection_stats()
    (stats,) = await once.collection_stats()
    assert (stats.id, stats.total_chunks) == ("c1", 3)
    assert inner.reads["collection_stats"] == 2


async def test_a_command_container_reads_once_and_a_new_one_reads_afresh() -> None:
    container = runtime.command_container(Settings(database_url="memory://"))
    assert isinstance(container.partition_statistics(), ReadOnce)
    assert container.monitoring_service()._stats is container.partition_statistics()
    assert runtime.command_container(Settings(database_url="memory://")).partition_statistics() is not (
        container.partition_statistics()
    )
