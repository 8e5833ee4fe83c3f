"""The TableReshaper port: both adapters read the same counts and so give the same plans."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.reshape import ReshapeError
from semantik_chunks.ports import TableReshaper
from semantik_chunks.services.reshape import ReshapeService
from tests.contract.conftest import Repositories

SIZES = {f"collection-{i}": 1 + (i * 7) % 23 for i in range(40)}


@pytest.fixture
async def reshaper(backend: str | None, repos: Repositories) -> AsyncIterator[TableReshaper]:
    for collection_id, size in SIZES.items():
        await repos.collections.add(collection_id)
        await repos.chunks.add_many(
            [Chunk(collection_id=collection_id, chunk_index=k, content="x" * (k + 1)) for k in range(size)]
        )
    if backend is None:
        yield InMemoryTableReshaper(repos.chunks._db)  # type: ignore[attr-defined]
        return
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.reshape import PostgresTableReshaper

    engine = create_engine(backend)
    try:
        yield PostgresTableReshaper(engine)
    finally:
        await engine.dispose()


async def test_footprints_count_every_collection_exactly(reshaper: TableReshaper) -> None:
    found = await reshaper.collection_footprints()
    assert {f.collection_id: f.rows for f in found} == SIZES
    assert all(f.bytes > 0 for f in found)
    assert await reshaper.current_partition_count() == 100


async def test_plans_are_the_same_on_both_adapters(reshaper: TableReshaper) -> None:
    svc = ReshapeService(reshaper)
    plan = await svc.plan_partitions(128)
    assert plan.total_rows == sum(SIZES.values())
    assert plan.collections == len(SIZES)
    # Computed from the counts alone: the expected figures do not depend on the adapter.
    assert [(p.partition_num, p.rows_after) for p in plan.partitions if p.rows_after] == sorted(_after(128).items())
    isolation = await svc.plan_isolation("collection-3", 4)
    assert isolation.collection_rows == SIZES["collection-3"]


def _after(count: int) -> dict[int, int]:
    from semantik_chunks import partition_for

    after: dict[int, int] = {}
    for collection_id, size in SIZES.items():
        key = partition_for(collection_id, count)
        after[key] = after.get(key, 0) + size
    return after


async def test_bad_input_is_refused_by_both(reshaper: TableReshaper) -> None:
    svc = ReshapeService(reshaper)
    with pytest.raises(ReshapeError, match="already has 100"):
        await svc.plan_partitions(100)
    with pytest.raises(ReshapeError, match="does not exist"):
        await svc.plan_isolation("nope")
    with pytest.raises(ReshapeError, match="between 2 and 64"):
        await svc.plan_isolation("collection-1", 1)
    assert await reshaper.pending() is None
    assert await reshaper.isolated_collections() == []
