"""Paged reads: iter_collection / iter_document return list_by_*'s chunks in the same order, a batch at a
time, on every adapter; pages are keyset pages, so writes between pages behave the same everywhere."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from semantik_chunks import partition_for
from semantik_chunks.domain.model import Chunk
from tests.contract.conftest import PARTITION_COUNT, Repositories

COLLECTION = "paged-collection"
# Code-point order, whatever the database's collation: "B" < "a" < "é" < "😀"; None (no document) last.
DOCUMENTS = ["a", "B", "é", "😀", "a-2", None]


def neighbour() -> str:
    """Another collection in the same partition, whose chunks must never show up."""
    target = partition_for(COLLECTION, PARTITION_COUNT)
    return next(f"n-{i}" for i in itertools.count() if partition_for(f"n-{i}", PARTITION_COUNT) == target)


async def collect(chunks: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in chunks]


@pytest.fixture
async def stored(repos: Repositories) -> list[Chunk]:
    other = neighbour()
    await repos.collections.add(COLLECTION)
    await repos.collections.add(other)
    batch = [
        Chunk(collection_id=COLLECTION, document_id=doc, chunk_index=index, content=f"{doc}/{index}")
        for doc in DOCUMENTS
        for index in (2, 0, 1)
    ]
    # Two chunks with the same (document, chunk_index): the id breaks the tie.
    batch.append(Chunk(collection_id=COLLECTION, document_id="a", chunk_index=1, content="a/1 again"))
    batch.append(Chunk(collection_id=COLLECTION, document_id=None, chunk_index=1, content="None/1 again"))
    await repos.chunks.add_many(batch)
    await repos.chunks.add_many([Chunk(collection_id=other, document_id="a", chunk_index=0, content="neighbour")])
    return await repos.chunks.list_by_collection(COLLECTION)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 20, 21, 1000])
async def test_iter_collection_is_list_by_collection_a_batch_at_a_time(
    repos: Repositories, stored: list[Chunk], batch_size: int
) -> None:
    assert len(stored) == 20
    assert [c.document_id for c in stored][:4] == ["B", "B", "B", "a"]
    assert await collect(repos.chunks.iter_collection(COLLECTION, batch_size=batch_size)) == stored


@pytest.mark.parametrize("batch_size", [1, 2, 4, 1000])
@pytest.mark.parametrize("document_id", ["a", "😀", "absent"])
async def test_iter_document_is_list_by_document_a_batch_at_a_time(
    repos: Repositories, stored: list[Chunk], batch_size: int, document_id: str
) -> None:
    expected = await repos.chunks.list_by_document(COLLECTION, document_id)
    assert len(expected) == {"a": 4, "😀": 3, "absent": 0}[document_id]
    assert await collect(repos.chunks.iter_document(COLLECTION, document_id, batch_size=batch_size)) == expected


async def test_an_empty_or_unknown_collection_yields_nothing(repos: Repositories) -> None:
    assert await collect(repos.chunks.iter_collection("unknown")) == []


async def test_pages_are_keyset_pages_rows_written_or_deleted_between_pages_never_shift_one(
    repos: Repositories, stored: list[Chunk]
) -> None:
    seen: list[Chunk] = []
    pages = repos.chunks.iter_collection(COLLECTION, batch_size=3)
    async for chunk in pages:
        seen.append(chunk)
        if len(seen) == 3:  # the first page is read: change what lies before and after the cursor
            assert await repos.chunks.delete_document(COLLECTION, "B") == 3  # all read already
            await repos.chunks.add_many(
                [
                    Chunk(collection_id=COLLECTION, document_id="A", chunk_index=0, content="before the cursor"),
                    Chunk(collection_id=COLLECTION, document_id="zz", chunk_index=0, content="after the cursor"),
                ]
            )
            assert await repos.chunks.delete_document(COLLECTION, "é") == 3  # not read yet
    # Nothing is returned twice or skipped: the rows after the cursor as they are now.
    now = await repos.chunks.list_by_collection(COLLECTION)
    after_cursor = [c for c in now if c.document_id not in ("A",)]
    assert seen == stored[:3] + after_cursor
    assert "after the cursor" in {c.content for c in seen}


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
async def test_a_batch_size_must_be_a_positive_int(repos: Repositories, batch_size: object) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        await collect(repos.chunks.iter_collection(COLLECTION, batch_size=batch_size))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        await collect(repos.chunks.iter_document(COLLECTION, "a", batch_size=batch_size))  # type: ignore[arg-type]


async def test_paged_reads_inside_a_unit_of_work_see_its_writes(repos: Repositories, stored: list[Chunk]) -> None:
    async with repos.unit_of_work() as uow:
        await uow.chunks.delete_document(COLLECTION, "a")
        remaining = await collect(uow.chunks.iter_collection(COLLECTION, batch_size=4))
        assert remaining == [c for c in stored if c.document_id != "a"]
    assert await collect(repos.chunks.iter_collection(COLLECTION, batch_size=4)) == stored
