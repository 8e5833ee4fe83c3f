"""The synthetic workload: its shape, its determinism, and that loading again only adds."""

from __future__ import annotations

import gc
import itertools
import random
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.model import Chunk
from semantik_chunks.services.demo import (
    BURST_WINDOW,
    CHUNK_BYTES,
    HISTORY,
    MAX_CHUNKS_PER_DOCUMENT,
    ChunkGenerator,
    DemoWorkload,
    apportion,
    batched,
    collection_ids,
    plan_workload,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "weights"),
    [
        (100, [1.0, 1.0, 1.0]),
        (10, [5.0, 1.0]),
        (3, [1.0, 1.0, 1.0, 1.0, 1.0]),
        (0, [2.0]),
        (1_000_003, [0.1, 7.3, 2.2]),
    ],
)
def test_apportion_splits_exactly(total: int, weights: list[float]) -> None:
    parts = apportion(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    assert all(p >= 0 for p in parts)
    if total >= len(weights):
        assert min(parts) >= 1


def test_apportion_follows_the_weights() -> None:
    assert apportion(1000, [3.0, 1.0]) == [750, 250]


def test_plan_is_heavy_tailed_and_sums_to_the_chunks() -> None:
    plan = plan_workload(seed=11, generation=0, collections=400, chunks=1_000_000)
    sizes = sorted((c.chunk_count for c in plan), reverse=True)
    assert sum(sizes) == 1_000_000
    assert len({c.collection_id for c in plan}) == 400
    # A few huge, many small: the top 5 % hold far more than their number's share.
    assert sum(sizes[:20]) > 0.3 * 1_000_000
    assert sizes[0] > 20 * statistics.median(sizes)


def test_two_of_the_largest_collections_are_being_ingested() -> None:
    plan = plan_workload(seed=5, generation=0, collections=200, chunks=100_000)
    ingesting = [c for c in plan if c.ingesting]
    assert len(ingesting) == 2
    tenth_largest = sorted((c.chunk_count for c in plan), reverse=True)[19]
    assert all(c.chunk_count >= tenth_largest for c in ingesting)


def test_a_plan_is_fixed_by_seed_and_generation() -> None:
    assert plan_workload(3, 0, 50, 10_000) == plan_workload(3, 0, 50, 10_000)
    assert plan_workload(3, 0, 50, 10_000) != plan_workload(4, 0, 50, 10_000)
    first, second = plan_workload(3, 0, 50, 10_000), plan_workload(3, 1, 50, 10_000)
    assert not {c.collection_id for c in first} & {c.collection_id for c in second}


def test_the_first_collection_id_marks_the_generation() -> None:
    plan = plan_workload(9, 2, 10, 100)
    assert plan[0].collection_id == next(collection_ids(9, 2))


@pytest.mark.parametrize(("collections", "chunks"), [(0, 10), (5, -1)])
def test_plan_rejects_impossible_sizes(collections: int, chunks: int) -> None:
    with pytest.raises(ValueError, match="must"):
        plan_workload(1, 0, collections, chunks)


def _generate(seed: int = 1, collections: int = 60, chunks: int = 20_000) -> tuple[list[Chunk], ChunkGenerator]:
    plan = plan_workload(seed, 0, collections, chunks)
    generator = ChunkGenerator(random.Random(seed), NOW)
    return list(generator.chunks(plan)), generator


def test_chunks_look_like_chunked_documents() -> None:
    chunks, generator = _generate()
    assert len(chunks) == 20_000
    by_document: dict[str | None, list[Chunk]] = {}
    for chunk in chunks:
        by_document.setdefault(chunk.document_id, []).append(chunk)
        assert CHUNK_BYTES[0] <= len(chunk.content) < CHUNK_BYTES[1]
        assert chunk.token_count == len(chunk.content) // 4
        assert chunk.end_offset == (chunk.start_offset or 0) + len(chunk.content)
        assert chunk.id is None
        assert chunk.partition_key is None
    assert generator.documents == len(by_document)
    for document in by_document.values():
        assert [c.chunk_index for c in document] == list(range(len(document)))
        assert document[0].start_offset == 0
        assert all(a.end_offset == b.start_offset for a, b in itertools.pairwise(document))
        assert len({c.collection_id for c in document}) == 1
        assert len({c.created_at for c in document}) == 1
        assert len(document) <= MAX_CHUNKS_PER_DOCUMENT
    assert 300 - 15 < statistics.mean(len(c.content) for c in chunks) < 300 + 15
    assert 5 < len(chunks) / len(by_document) < 20


def test_chunks_were_written_over_the_last_week_with_a_recent_burst() -> None:
    plan = plan_workload(4, 0, 60, 50_000)
    chunks = list(ChunkGenerator(random.Random(4), NOW).chunks(plan))
    stamps = [c.created_at for c in chunks if c.created_at is not None]
    assert len(stamps) == len(chunks)
    assert all(NOW - HISTORY <= s < NOW for s in stamps)
    last_hour = [c for c in chunks if c.created_at and c.created_at > NOW - timedelta(hours=1)]
    # The burst: far more than the 1/168 of a week that an even spread gives the last hour.
    assert len(last_hour) > 5 * len(chunks) / 168
    writers = Counter(c.collection_id for c in last_hour)
    assert sum(n for _, n in writers.most_common(2)) > 0.5 * len(last_hour)
    early, late = BURST_WINDOW
    for ingesting in (c.collection_id for c in plan if c.ingesting):
        own = [c.created_at for c in chunks if c.collection_id == ingesting and c.created_at]
        in_burst = [s for s in own if NOW - late <= s <= NOW - early]
        assert len(in_burst) > 0.4 * len(own)


def test_batches_cover_every_chunk_once() -> None:
    chunks, _ = _generate(chunks=1_001)
    batches = list(batched(iter(chunks), 250))
    assert [len(b) for b in batches] == [250, 250, 250, 250, 1]
    assert [c for b in batches for c in b] == chunks


@pytest.fixture
def container() -> Container:
    return bootstrap(Settings(database_url="memory://"))


async def test_load_stores_the_plan_and_refreshes_the_statistics(container: Container) -> None:
    progress: list[int] = []
    summary = await container.demo_workload().load(
        seed=8, collections=30, chunks=5_000, batch_size=700, on_progress=progress.append
    )
    assert summary.chunks == 5_000
    assert await container.chunk_repository().count() == 5_000
    assert progress == sorted(progress)
    assert progress[-1] == 5_000
    stats = await container.partition_statistics().collection_stats()
    assert {s.id for s in stats} == {c.collection_id for c in summary.collections}
    assert sum(s.total_chunks for s in stats) == 5_000
    assert sum(s.chunked_documents for s in stats) == summary.documents
    assert summary.largest is not None
    assert summary.largest.chunk_count == max(s.total_chunks for s in stats)


async def test_loading_again_adds_new_collections_and_keeps_the_old(container: Container) -> None:
    workload = container.demo_workload()
    first = await workload.load(seed=8, collections=20, chunks=2_000)
    before = {
        c.collection_id: await container.chunk_repository().list_by_collection(c.collection_id)
        for c in first.collections
    }
    second = await workload.load(seed=8, collections=20, chunks=3_000)
    assert (first.generation, second.generation) == (0, 1)
    assert not {c.collection_id for c in first.collections} & {c.collection_id for c in second.collections}
    assert await container.chunk_repository().count() == 5_000
    for collection_id, chunks in before.items():
        assert await container.chunk_repository().list_by_collection(collection_id) == chunks
    stats = await container.partition_statistics().collection_stats()
    assert len(stats) == 40


class FailingOnBatch:
    """A chunk repository that fails at its n-th batch (a database that goes away mid-load)."""

    def __init__(self, inner: object, failing_batch: int) -> None:
        self._inner = inner
        self._failing_batch = failing_batch
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    async def add_many(self, chunks: Sequence[Chunk]) -> list[Chunk]:
        self.calls += 1
        if self.calls == self._failing_batch:
            raise ConnectionResetError("the database went away")
        return await self._inner.add_many(chunks)  # type: ignore[attr-defined, no-any-return]


async def test_a_failed_batch_stops_the_load_and_leaves_whole_batches(container: Container) -> None:
    failing = FailingOnBatch(container.chunk_repository(), failing_batch=3)
    workload = DemoWorkload(failing, container.collection_repository(), container.partition_statistics())  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError):
        await workload.load(seed=2, collections=10, chunks=5_000, batch_size=1_000)
    stored = await container.chunk_repository().count()
    assert stored % 1_000 == 0
    assert stored < 5_000
    # The next load starts a new generation: it never writes into the interrupted one.
    summary = await workload.load(seed=2, collections=10, chunks=100, batch_size=1_000)
    assert summary.generation == 1


async def test_a_load_leaves_the_garbage_collector_as_it_found_it(container: Container) -> None:
    # The load pauses the cyclic collector (a bulk load's objects form no cycles); it must come back.
    workload = container.demo_workload()
    assert gc.isenabled()
    await workload.load(seed=3, collections=5, chunks=200)
    assert gc.isenabled()
    failing = FailingOnBatch(container.chunk_repository(), failing_batch=1)
    failing_workload = DemoWorkload(failing, container.collection_repository(), container.partition_statistics())  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError):
        await failing_workload.load(seed=4, collections=5, chunks=200)
    assert gc.isenabled()
    gc.disable()
    try:
        await workload.load(seed=5, collections=5, chunks=200)
        assert not gc.isenabled()
    finally:
        gc.enable()
