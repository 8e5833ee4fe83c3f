"""A synthetic workload shaped like Semantik's, for demos, benchmarks and tests.

Collection sizes follow a Pareto law of shape 1.16 (the "80/20" shape): a few collections
hold most of the chunks and most collections hold few. Each collection is a set of
documents split into chunks of about 300 bytes. Documents arrived over the last week,
and two of the largest collections are being ingested right now: most of their documents
landed in the last hour, the burst that makes partitions hot.

A workload is fixed by its seed and its generation. The generation is the first one whose
collections are not stored yet, so loading again adds new collections and never touches
what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import attrs

from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import Chunk
from semantik_chunks.ports import ChunkRepository, CollectionRepository, PartitionStatistics

DEFAULT_COLLECTIONS = 200
DEFAULT_CHUNKS = 100_000
# The Postgres adapter ingests a batch with one COPY; batches this big keep round trips rare.
DEFAULT_BATCH_SIZE = 25_000
BATCHES_IN_FLIGHT = 2
# A batch is built this many chunks at a time, with a turn of the event loop in between, so that
# building one (about 65 ms for 25,000 chunks) does not stall the COPY of the batches in flight.
BUILD_SLICE = 500

PARETO_SHAPE = 1.16
MEAN_CHUNKS_PER_DOCUMENT = 12
MAX_CHUNKS_PER_DOCUMENT = 200
CHUNK_BYTES = (240, 360)  # uniform, so about 300 bytes on average
INGESTING_COLLECTIONS = 2
INGESTING_SHARE = 0.6  # of an ingesting collection's documents that landed in the burst
# The burst ends a minute ago and lasts 45 minutes, so it stays within "the last hour" for a
# report run a few minutes after the demo.
BURST_WINDOW = (timedelta(minutes=1), timedelta(minutes=46))
HISTORY = timedelta(weeks=1)

_TOPICS = (
    "Engineering wiki",
    "Support tickets",
    "Legal contracts",
    "Research papers",
    "Product manuals",
    "Meeting notes",
    "API reference",
    "HR handbook",
    "Sales playbooks",
    "Incident reports",
)
# Words of the text pool; split when the pool is built.
_VOCABULARY = (
    "partition index vector query embedding search document chunk collection token model latency "
    "throughput replica cluster shard schema migration backup restore vacuum analyze table column "
    "the of and to in is for on with as by at from that this be are was it an or which can will "
    "semantic retrieval ranking relevance context window overlap boundary paragraph sentence summary "
    "customer contract clause policy release incident runbook deploy review budget forecast meeting"
)
_POOL_WORDS = 60_000


@attrs.frozen
class PlannedCollection:
    collection_id: str
    name: str
    chunk_count: int
    ingesting: bool = False


@attrs.frozen
class DemoSummary:
    """What one load added."""

    seed: int
    generation: int
    collections: tuple[PlannedCollection, ...]
    documents: int
    chunks: int

    @property
    def largest(self) -> PlannedCollection | None:
        return max(self.collections, key=lambda c: c.chunk_count, default=None)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def collection_ids(seed: int, generation: int) -> Iterator[str]:
    """The collection ids of a generation, in order (the first one marks the generation as taken)."""
    rng = random.Random(f"semantik-chunks-demo:{seed}:{generation}:ids")
    while True:
        yield _uuid(rng)


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder); every part gets at least
    one when there is enough to go round."""
    if not weights:
        return []
    floor = 1 if total >= len(weights) else 0
    rest = total - floor * len(weights)
    scale = sum(weights)
    exact = [rest * w / scale for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: rest - sum(parts)]:
        parts[i] += 1
    return [floor + p for p in parts]


def plan_workload(seed: int, generation: int, collections: int, chunks: int) -> list[PlannedCollection]:
    """K collections with heavy-tailed sizes summing to ``chunks``; two of the largest are ingesting."""
    if collections < 1:
        raise ValueError(f"collections must be at least 1, got {collections}")
    if chunks < 0:
        raise ValueError(f"chunks must not be negative, got {chunks}")
    rng = random.Random(f"semantik-chunks-demo:{seed}:{generation}:plan")
    sizes = apportion(chunks, [rng.paretovariate(PARETO_SHAPE) for _ in range(collections)])
    largest_first = sorted(range(collections), key=lambda i: -sizes[i])
    candidates = largest_first[: max(INGESTING_COLLECTIONS + 1, collections // 10)]
    ingesting = set(rng.sample(candidates, min(INGESTING_COLLECTIONS, len(candidates))))
    ids = collection_ids(seed, generation)
    return [
        PlannedCollection(
            collection_id=next(ids),
            name=f"{_TOPICS[i % len(_TOPICS)]} {generation + 1}.{i + 1}",
            chunk_count=sizes[i],
            ingesting=i in ingesting and sizes[i] > 0,
        )
        for i in range(collections)
    ]


class ChunkGenerator:
    """Chunks of planned collections, cheaply: content is a slice of one pre-built text pool."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self._rng = rng
        self._now = now
        vocabulary = _VOCABULARY.split()
        words = [rng.choice(vocabulary) for _ in range(_POOL_WORDS)]
        self._pool = " ".join(words)
        # Chunks start at a word; none runs past the end of the pool.
        starts = itertools.accumulate((len(w) + 1 for w in words[:-1]), initial=0)
        self._word_starts = [s for s in starts if s < len(self._pool) - CHUNK_BYTES[1]]
        self.documents = 0

    def _document_time(self, ingesting: bool) -> datetime:
        rng = self._rng
        if ingesting and rng.random() < INGESTING_SHARE:
            early, late = BURST_WINDOW
            return self._now - early - (late - early) * rng.random()
        return self._now - HISTORY * rng.random()

    def collection_chunks(self, planned: PlannedCollection) -> Iterator[Chunk]:
        rng = self._rng
        random_ = rng.random
        pool, starts = self._pool, self._word_starts
        n_starts = len(starts)
        low, spread = CHUNK_BYTES[0], CHUNK_BYTES[1] - CHUNK_BYTES[0]
        remaining = planned.chunk_count
        while remaining > 0:
            in_document = min(
                remaining, MAX_CHUNKS_PER_DOCUMENT, 1 + int(rng.expovariate(1 / MEAN_CHUNKS_PER_DOCUMENT))
            )
            remaining -= in_document
            self.documents += 1
            document_id = _uuid(rng)
            created_at = self._document_time(planned.ingesting)
            # Chunks of one document share their metadata, as they share their source.
            metadata: dict[str, Any] = {"source": f"{document_id[:8]}.md", "generator": "semantik-chunks demo"}
            offset = 0
            for index in range(in_document):
                length = low + int(spread * random_())
                start = starts[int(n_starts * random_())]
                yield Chunk(
                    collection_id=planned.collection_id,
                    document_id=document_id,
                    chunk_index=index,
                    content=pool[start : start + length],
                    start_offset=offset,
                    end_offset=offset + length,
                    token_count=length // 4,
                    metadata=metadata,
                    created_at=created_at,
                )
                offset += length

    def chunks(self, plan: Iterable[PlannedCollection]) -> Iterator[Chunk]:
        for planned in plan:
            yield from self.collection_chunks(planned)


def batched(chunks: Iterator[Chunk], size: int) -> Iterator[list[Chunk]]:
    while batch := list(itertools.islice(chunks, size)):
        yield batch


async def _next_batch(chunks: Iterator[Chunk], size: int) -> list[Chunk]:
    """The next ``size`` chunks (fewer at the end), built ``BUILD_SLICE`` at a time."""
    batch: list[Chunk] = []
    for piece in batched(itertools.islice(chunks, size), BUILD_SLICE):
        batch += piece
        await asyncio.sleep(0)
    return batch


@contextlib.contextmanager
def _cyclic_collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk load.

    A load keeps two batches of chunks (input and prepared) alive at a time while it creates
    millions more objects, so the collector scans the same objects again and again: about
    2.5 us a chunk, a fifth of the demo's Python time. The chunks form no reference cycles,
    so reference counting frees them all the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class DemoWorkload:
    """Loads a synthetic workload through the ports, then refreshes the collection statistics."""

    def __init__(
        self,
        chunk_repository: ChunkRepository,
        collection_repository: CollectionRepository,
        statistics_port: PartitionStatistics,
        clock: Clock = utc_now,
    ) -> None:
        self._chunks = chunk_repository
        self._collections = collection_repository
        self._stats = statistics_port
        self._clock = clock

    async def next_generation(self, seed: int) -> int:
        """The first generation of ``seed`` none of whose collections is stored."""
        for generation in itertools.count():
            if not await self._collections.exists(next(collection_ids(seed, generation))):
                return generation
        raise AssertionError("unreachable")

    async def _write(self, chunks: Iterator[Chunk], batch_size: int, on_progress: Callable[[int], None] | None) -> int:
        """Write the chunks in batches, two at a time: while the database stores one, Python prepares the next."""
        written = 0
        in_flight: set[asyncio.Task[int]] = set()

        async def add(batch: list[Chunk]) -> int:
            await self._chunks.add_many(batch)
            return len(batch)

        try:
            while batch := await _next_batch(chunks, batch_size):
                if len(in_flight) >= BATCHES_IN_FLIGHT:
                    done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    written += sum(task.result() for task in done)
                    if on_progress is not None:
                        on_progress(written)
                in_flight.add(asyncio.create_task(add(batch)))
            for task in asyncio.as_completed(in_flight):
                written += await task
                if on_progress is not None:
                    on_progress(written)
        finally:
            # On a failure the batches still in flight are abandoned; each is all-or-nothing.
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        return written

    async def load(
        self,
        *,
        seed: int,
        collections: int = DEFAULT_COLLECTIONS,
        chunks: int = DEFAULT_CHUNKS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_progress: Callable[[int], None] | None = None,
    ) -> DemoSummary:
        """Add ``collections`` new collections holding ``chunks`` chunks; ``on_progress`` gets the
        number of chunks written so far after every batch."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        generation = await self.next_generation(seed)
        plan = plan_workload(seed, generation, collections, chunks)
        # The first collection is added first: once it exists the generation is taken, even if
        # this load is interrupted, so the next load never writes into a half-loaded one.
        for planned in plan:
            await self._collections.add(planned.collection_id, planned.name)
        generator = ChunkGenerator(random.Random(f"semantik-chunks-demo:{seed}:{generation}:content"), self._clock())
        with _cyclic_collector_paused():
            written = await self._write(generator.chunks(plan), batch_size, on_progress)
        # The statistics of what was loaded, brought up to date: a report right after the demo (statistics
        # mode) then counts what --exact counts.
        touched = {partition_for(p.collection_id, self._stats.partition_count) for p in plan if p.chunk_count}
        await self._stats.analyze(sorted(touched))
        await self._stats.refresh_collection_stats()
        return DemoSummary(
            seed=seed, generation=generation, collections=tuple(plan), documents=generator.documents, chunks=written
        )
