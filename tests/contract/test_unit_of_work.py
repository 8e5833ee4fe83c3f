"""The unit of work contract: commit keeps, rollback (or leaving without commit) discards, on every adapter."""

from __future__ import annotations

import pytest

from semantik_chunks.domain.errors import DuplicateChunkError, InvalidChunkError
from semantik_chunks.domain.model import Chunk
from tests.contract.conftest import Repositories

COLLECTION = "uow-collection"


def chunks(n: int, document_id: str = "doc-1", collection_id: str = COLLECTION) -> list[Chunk]:
    return [
        Chunk(collection_id=collection_id, document_id=document_id, chunk_index=i, content=f"c{i}") for i in range(n)
    ]


async def test_commit_keeps_the_collection_and_its_chunks(repos: Repositories) -> None:
    async with repos.unit_of_work() as uow:
        await uow.collections.add(COLLECTION, "registered in the unit of work")
        stored = await uow.chunks.add_many(chunks(3))
        # Inside, the unit of work sees its own writes.
        assert await uow.chunks.count(COLLECTION) == 3
        await uow.commit()
    assert await repos.collections.exists(COLLECTION)
    assert await repos.chunks.list_by_document(COLLECTION, "doc-1") == stored


async def test_rollback_discards_the_collection_and_its_chunks(repos: Repositories) -> None:
    async with repos.unit_of_work() as uow:
        await uow.collections.add(COLLECTION)
        await uow.chunks.add_many(chunks(3))
        await uow.rollback()
        assert await uow.chunks.count(COLLECTION) == 0
    assert not await repos.collections.exists(COLLECTION)
    assert await repos.chunks.count() == 0


async def test_leaving_without_commit_rolls_back(repos: Repositories) -> None:
    await repos.collections.add(COLLECTION)
    async with repos.unit_of_work() as uow:
        await uow.chunks.add_many(chunks(2))
        assert await uow.chunks.delete_document(COLLECTION, "doc-1") == 2
        await uow.chunks.add_many(chunks(4, "doc-2"))
    assert await repos.chunks.count() == 0


async def test_an_exception_in_the_block_rolls_back_and_propagates(repos: Repositories) -> None:
    await repos.collections.add(COLLECTION)
    await repos.chunks.add_many(chunks(2, "kept"))

    async def host_work() -> None:
        async with repos.unit_of_work() as uow:
            await uow.chunks.delete_collection(COLLECTION)
            raise RuntimeError("host failed after deleting")

    with pytest.raises(RuntimeError, match="host failed"):
        await host_work()
    assert [c.chunk_index for c in await repos.chunks.list_by_document(COLLECTION, "kept")] == [0, 1]


async def test_work_after_a_commit_is_its_own_transaction(repos: Repositories) -> None:
    async with repos.unit_of_work() as uow:
        await uow.collections.add(COLLECTION)
        await uow.chunks.add_many(chunks(1, "first"))
        await uow.commit()
        await uow.chunks.add_many(chunks(1, "second"))
        await uow.rollback()
        await uow.chunks.add_many(chunks(1, "third"))
        await uow.commit()
    assert sorted({c.document_id or "" for c in await repos.chunks.list_by_collection(COLLECTION)}) == [
        "first",
        "third",
    ]


async def test_a_rejected_batch_names_its_chunk_and_leaves_the_unit_of_work_usable(repos: Repositories) -> None:
    async with repos.unit_of_work() as uow:
        await uow.collections.add(COLLECTION)  # not committed: the check sees the unit of work's own rows
        first = await uow.chunks.add_many(chunks(2))
        with pytest.raises(InvalidChunkError, match=r"chunk #1: collection 'missing' does not exist"):
            await uow.chunks.add_many([*chunks(1, "d"), *chunks(1, "d", collection_id="missing")])
        assert first[0].id is not None
        duplicate = Chunk(collection_id=COLLECTION, chunk_index=9, content="again", id=first[0].id)
        with pytest.raises(DuplicateChunkError, match=rf"chunk #0: chunk id {first[0].id} "):
            await uow.chunks.add_many([duplicate])
        # The failed batches wrote nothing, and what came before is still there to commit.
        assert await uow.chunks.count(COLLECTION) == 2
        await uow.commit()
    assert await repos.chunks.count(COLLECTION) == 2


async def test_ids_handed_out_in_a_rolled_back_unit_of_work_are_not_handed_out_again(repos: Repositories) -> None:
    await repos.collections.add(COLLECTION)
    async with repos.unit_of_work() as uow:
        discarded = await uow.chunks.add_many(chunks(2))
    kept = await repos.chunks.add_many(chunks(2))
    assert {c.id for c in kept}.isdisjoint({c.id for c in discarded})


async def test_a_unit_of_work_is_used_inside_its_block_only(repos: Repositories) -> None:
    uow = repos.unit_of_work()
    with pytest.raises(RuntimeError, match="async with"):
        await uow.commit()
