"""The in-memory adapters behave like the Postgres ones: routing, atomic batches, ids, order, counts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from semantik_chunks import partition_for
from semantik_chunks.adapters.memory.alerts import CollectingAlertSink
from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import ROW_OVERHEAD_BYTES, InMemoryPartitionStatistics, row_size
from semantik_chunks.domain.errors import DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.model import Alert, AlertCause, AlertLevel, Chunk, CollectionCount, PartitionHealthStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make(partition_count: int = 100, collections: tuple[str, ...] = ("a", "b")) -> MemoryDatabase:
    db = MemoryDatabase(partition_count=partition_count, clock=Clock())
    for cid in collections:
        db.collections[cid] = f"name of {cid}"
    return db


def chunk(collection_id: str = "a", chunk_index: int = 0, **fields: Any) -> Chunk:
    return Chunk(collection_id=collection_id, chunk_index=chunk_index, content=fields.pop("content", "text"), **fields)


def same_partition_pair(partition_count: int) -> tuple[str, str]:
    """Two collection ids that hash to the same partition."""
    seen: dict[int, str] = {}
    for i in itertools.count():
        cid = f"collection-{i}"
        p = partition_for(cid, partition_count)
        if p in seen:
            return seen[p], cid
        seen[p] = cid
    raise AssertionError("unreachable")


# -- the database ---------------------------------------------------------------------------


def test_memory_database_has_every_partition() -> None:
    assert sorted(MemoryDatabase().partitions) == list(range(100))
    assert sorted(MemoryDatabase(partition_count=7).partitions) == list(range(7))
    with pytest.raises(ValueError, match="between 1 and 1024"):
        MemoryDatabase(partition_count=0)


def test_ids_count_up_and_skip_past_explicit_ones() -> None:
    db = MemoryDatabase()
    assert [db.next_id(), db.next_id()] == [1, 2]
    db.advance_ids_past(10)
    assert db.next_id() == 11
    db.advance_ids_past(5)  # never backwards
    assert db.next_id() > 11


# -- chunk repository ---------------------------------------------------------------------------


async def test_add_many_routes_by_partition_for_and_fills_fields() -> None:
    db = make()
    repo = InMemoryChunkRepository(db)
    stored = await repo.add_many([chunk("a", 0), chunk("b", 0)])
    assert [c.partition_key for c in stored] == [partition_for("a"), partition_for("b")]
    assert [c.id for c in stored] == [1, 2]
    assert all(c.created_at == NOW and c.updated_at == NOW for c in stored)
    for c in stored:
        assert db.partitions[partition_for(c.collection_id)][(c.id, c.collection_id)] == c  # type: ignore[index]
    assert repo.partition_count == 100


async def test_routing_follows_the_configured_partition_count() -> None:
    db = make(partition_count=7)
    (stored,) = await InMemoryChunkRepository(db).add_many([chunk("a")])
    assert stored.partition_key == partition_for("a", 7)
    assert len(db.partitions[partition_for("a", 7)]) == 1


async def test_wrong_partition_key_is_rejected_naming_the_chunk() -> None:
    repo = InMemoryChunkRepository(make())
    wrong = (partition_for("b") + 1) % 100
    with pytest.raises(InvalidChunkError, match=rf"chunk #1 \(collection_id='b'.*partition_key={wrong} is wrong"):
        await repo.add_many([chunk("a"), chunk("b", partition_key=wrong)])
    assert await repo.count() == 0


async def test_right_partition_key_is_accepted() -> None:
    repo = InMemoryChunkRepository(make())
    (stored,) = await repo.add_many([chunk("a", partition_key=partition_for("a"))])
    assert stored.partition_key == partition_for("a")


async def test_unknown_collection_is_rejected_and_nothing_written() -> None:
    repo = InMemoryChunkRepository(make())
    with pytest.raises(InvalidChunkError, match=r"chunk #2: collection 'nope' does not exist"):
        await repo.add_many([chunk("a"), chunk("b"), chunk("nope")])
    assert await repo.count() == 0


async def test_a_bad_chunk_anywhere_writes_nothing() -> None:
    db = make()
    repo = InMemoryChunkRepository(db)
    await repo.add_many([chunk("a", 0)])
    before = [dict(p) for p in db.partitions.values()]
    for bad in (chunk("a", 1, content=None), chunk("b", 1, content="nul\x00"), chunk("a", 2, id=1)):
        with pytest.raises((InvalidChunkError, DuplicateChunkError)):
            await repo.add_many([chunk("a", 5), chunk("b", 6), bad])
        assert [dict(p) for p in db.partitions.values()] == before
    assert await repo.count() == 1
    (next_one,) = await repo.add_many([chunk("a", 3)])
    assert next_one.id == 2  # a rejected batch took no ids


async def test_ids_increase_across_batches() -> None:
    repo = InMemoryChunkRepository(make())
    ids: list[int] = []
    for size in (3, 1, 4):
        ids += [c.id for c in await repo.add_many([chunk("a", i) for i in range(size)])]  # type: ignore[misc]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_explicit_ids_are_kept_and_later_ids_pass_them() -> None:
    repo = InMemoryChunkRepository(make())
    (explicit,) = await repo.add_many([chunk("a", id=50)])
    assert explicit.id == 50
    (generated,) = await repo.add_many([chunk("a", 1)])
    assert generated.id == 51


async def test_generated_and_explicit_ids_in_one_batch_never_collide() -> None:
    repo = InMemoryChunkRepository(make())
    stored = await repo.add_many([chunk("a", 0), chunk("a", 1, id=1), chunk("a", 2)])
    assert len({c.id for c in stored}) == 3
    assert stored[1].id == 1
    assert await repo.count("a") == 3


async def test_a_stored_id_given_again_is_a_duplicate() -> None:
    repo = InMemoryChunkRepository(make())
    (first,) = await repo.add_many([chunk("a")])
    with pytest.raises(DuplicateChunkError, match=f"chunk #0: chunk id {first.id} of collection 'a' is already stored"):
        await repo.add_many([chunk("a", 9, id=first.id)])
    (other,) = await repo.add_many([chunk("b", 9, id=first.id)])  # same id, other collection: fine
    assert other.id == first.id


async def test_get() -> None:
    repo = InMemoryChunkRepository(make())
    a, _ = await repo.add_many([chunk("a"), chunk("b")])
    assert await repo.get(a.id) == a  # type: ignore[arg-type]
    assert await repo.get(a.id, collection_id="a") == a  # type: ignore[arg-type]
    assert await repo.get(a.id, collection_id="b") is None  # type: ignore[arg-type]
    assert await repo.get(999) is None
    (b_with_a_id,) = await repo.add_many([chunk("b", 1, id=a.id)])
    assert await repo.get(a.id) == a  # type: ignore[arg-type]  # the smallest collection_id wins
    assert await repo.get(a.id, collection_id="b") == b_with_a_id  # type: ignore[arg-type]


async def test_list_by_collection_orders_by_document_index_id_with_nulls_last() -> None:
    first, second = same_partition_pair(2)
    repo = InMemoryChunkRepository(make(partition_count=2, collections=(first, second)))
    await repo.add_many(
        [
            chunk(first, 1, document_id="d2"),
            chunk(first, 0, document_id=None),
            chunk(second, 0, document_id="d1"),  # same partition, other collection
            chunk(first, 2, document_id="d1"),
            chunk(first, 0, document_id="d2"),
            chunk(first, 0, document_id="d1"),
            chunk(first, 0, document_id="d1"),  # same index: id breaks the tie
        ]
    )
    listed = await repo.list_by_collection(first)
    assert [(c.document_id, c.chunk_index) for c in listed] == [
        ("d1", 0),
        ("d1", 0),
        ("d1", 2),
        ("d2", 0),
        ("d2", 1),
        (None, 0),
    ]
    assert listed[0].id < listed[1].id  # type: ignore[operator]
    assert {c.collection_id for c in listed} == {first}
    assert await repo.list_by_collection("unknown") == []


async def test_list_by_document() -> None:
    repo = InMemoryChunkRepository(make())
    await repo.add_many(
        [chunk("a", 2, document_id="d"), chunk("a", 0, document_id="d"), chunk("a", 1, document_id="e")]
    )
    await repo.add_many([chunk("b", 0, document_id="d"), chunk("a", 1, document_id="d")])
    listed = await repo.list_by_document("a", "d")
    assert [c.chunk_index for c in listed] == [0, 1, 2]
    assert {(c.collection_id, c.document_id) for c in listed} == {("a", "d")}
    assert await repo.list_by_document("a", "missing") == []


async def test_deletes_and_counts() -> None:
    first, second = same_partition_pair(3)
    repo = InMemoryChunkRepository(make(partition_count=3, collections=(first, second)))
    await repo.add_many([chunk(first, i, document_id=f"d{i % 2}") for i in range(5)])
    await repo.add_many([chunk(second, i, document_id="d0") for i in range(3)])
    assert (await repo.count(), await repo.count(first), await repo.count(second)) == (8, 5, 3)
    assert await repo.delete_document(first, "d0") == 3
    assert await repo.delete_document(first, "d0") == 0
    assert (await repo.count(first), await repo.count(second)) == (2, 3)  # the other collection's d0 is kept
    assert await repo.delete_collection(second) == 3
    assert await repo.delete_collection(second) == 0
    assert (await repo.count(), await repo.count(first), await repo.count(second)) == (2, 2, 0)
    assert await repo.count("never-seen") == 0


# -- collection repository ------------------------------------------------------------------------


async def test_collection_repository() -> None:
    db = make(collections=())
    collections = InMemoryCollectionRepository(db)
    assert await collections.exists("x") is False
    await collections.add("x", "first name")
    await collections.add("x", "second name")  # adding again changes nothing
    assert await collections.exists("x") is True
    assert db.collections == {"x": "first name"}
    with pytest.raises(InvalidChunkError, match="NUL"):
        await collections.add("bad\x00")
    with pytest.raises(InvalidChunkError, match="must be a str, got int"):
        await collections.add(42)  # type: ignore[arg-type]
    await InMemoryChunkRepository(db).add_many([chunk("x")])


# -- statistics ----------------------------------------------------------------------------------


async def _loaded() -> tuple[MemoryDatabase, InMemoryChunkRepository, InMemoryPartitionStatistics]:
    db = make(partition_count=4, collections=("a", "b", "c", "empty"))
    repo = InMemoryChunkRepository(db)
    ages = [timedelta(minutes=30), timedelta(hours=2), timedelta(days=3), timedelta(weeks=2)]
    await repo.add_many(
        [chunk("a", i, document_id=f"d{i % 2}", token_count=10 * i, created_at=NOW - ages[i % 4]) for i in range(8)]
    )
    await repo.add_many([chunk("b", i, content="x" * 100) for i in range(3)])
    await repo.add_many([chunk("c", 0, metadata={"k": "v"})])
    return db, repo, InMemoryPartitionStatistics(db)


async def test_partition_snapshots() -> None:
    db, _, stats = await _loaded()
    snaps = await stats.partition_snapshots()
    assert [s.partition_num for s in snaps] == [0, 1, 2, 3]
    assert stats.partition_count == 4
    for snap in snaps:
        rows = db.partitions[snap.partition_num].values()
        assert snap.row_count == len(rows)
        assert snap.size_bytes == sum(row_size(c) for c in rows)
        assert snap.dead_rows == 0
        expected_newest = max((c.created_at for c in rows if c.created_at), default=None)
        assert snap.newest_chunk_at == expected_newest
    assert sum(s.row_count for s in snaps) == 12
    assert await stats.partition_snapshots(exact=True) == snaps


def test_row_size_grows_with_content_and_metadata() -> None:
    base = row_size(chunk(content=""))
    assert base == ROW_OVERHEAD_BYTES + len("{}")
    assert row_size(chunk(content="é" * 10)) == base + 20
    assert row_size(chunk(content="", metadata={"k": 1})) > base


async def test_write_activity_windows() -> None:
    _, _, stats = await _loaded()
    activity = {a.partition_num: a for a in await stats.write_activity()}
    assert sorted(activity) == [0, 1, 2, 3]
    a = activity[partition_for("a", 4)]
    # "a" has two chunks each 30 min, 2 h, 3 days and 2 weeks old; b and c were written "now"
    others = 4 if partition_for("b", 4) == partition_for("a", 4) else 0
    others += 1 if partition_for("c", 4) == partition_for("a", 4) else 0
    assert (a.last_hour, a.last_day, a.last_week) == (2 + others, 4 + others, 6 + others)
    assert sum(x.last_hour for x in activity.values()) == 2 + 3 + 1


async def test_exact_collection_counts() -> None:
    _, _, stats = await _loaded()
    counts = await stats.collection_counts(exact=True)
    assert counts == [
        CollectionCount("a", partition_for("a", 4), 8),
        CollectionCount("b", partition_for("b", 4), 3),
        CollectionCount("c", partition_for("c", 4), 1),
    ]
    assert await stats.collection_counts(exact=True, limit=1) == counts[:1]
    in_b = await stats.collection_counts(exact=True, partition_num=partition_for("b", 4))
    assert all(c.partition_num == partition_for("b", 4) for c in in_b)
    assert CollectionCount("b", partition_for("b", 4), 3) in in_b


async def test_statistics_collection_counts_are_as_fresh_as_the_last_refresh() -> None:
    _, repo, stats = await _loaded()
    assert await stats.collection_stats() == []
    assert await stats.collection_counts() == []  # never refreshed
    await stats.refresh_collection_stats()
    assert await stats.collection_counts() == await stats.collection_counts(exact=True)
    await repo.add_many([chunk("b", 10)])
    assert [c.chunk_count for c in await stats.collection_counts() if c.collection_id == "b"] == [3]
    await stats.refresh_collection_stats()
    assert [c.chunk_count for c in await stats.collection_counts() if c.collection_id == "b"] == [4]


async def test_refresh_collection_stats_rows() -> None:
    _, _, stats = await _loaded()
    await stats.refresh_collection_stats()
    rows = {s.id: s for s in await stats.collection_stats()}
    assert sorted(rows) == ["a", "b", "c", "empty"]  # collections without chunks included
    a = rows["a"]
    assert (a.name, a.chunked_documents, a.total_chunks) == ("name of a", 2, 8)
    assert a.avg_tokens_per_chunk == pytest.approx(35.0)
    assert a.last_chunk_created == NOW - timedelta(minutes=30)
    empty = rows["empty"]
    assert (empty.total_chunks, empty.avg_tokens_per_chunk, empty.last_chunk_created) == (0, None, None)
    assert rows["b"].chunked_documents == 0


async def test_recent_collection_counts() -> None:
    db, _, stats = await _loaded()
    part = partition_for("a", 4)
    recent = await stats.recent_collection_counts(part, limit=5)
    assert CollectionCount("a", part, 2) in recent
    assert [c.chunk_count for c in recent] == sorted((c.chunk_count for c in recent), reverse=True)
    assert len(await stats.recent_collection_counts(part, limit=1)) == 1
    db.clock.now = NOW + timedelta(hours=2)  # type: ignore[attr-defined]
    assert await stats.recent_collection_counts(part, limit=5) == []


async def test_collecting_alert_sink_keeps_what_it_is_sent() -> None:
    sink = CollectingAlertSink()
    alerts = [
        Alert(AlertLevel.INFO, "m", "a", cause=AlertCause.PLACEMENT),
        Alert(AlertLevel.CRITICAL, "n", "b", (1,), cause=AlertCause.CAPACITY),
    ]
    await sink.send(alerts[:1], overall=PartitionHealthStatus.HEALTHY)
    await sink.send(alerts[1:], overall=None)
    assert sink.sent == alerts
    assert sink.verdicts == [PartitionHealthStatus.HEALTHY, None]
