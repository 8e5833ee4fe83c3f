"""The reshape and isolation plans (pure domain) and the service's checks, on the memory adapter."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semantik_chunks import partition_for
from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.reshape import (
    CollectionFootprint,
    ReshapeError,
    check_split_parts,
    check_target_count,
    isolated_name,
    nearby_counts,
    plan_isolation,
    plan_reshape,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS
from semantik_chunks.services.reshape import ReshapeService


def footprints(count: int, n: int, seed: int = 7) -> list[CollectionFootprint]:
    rng = random.Random(seed)
    ids = [f"collection-{rng.getrandbits(64):x}" for _ in range(count)]
    return [CollectionFootprint(c, partition_for(c, n), rng.randint(1, 500), rng.randint(1, 500) * 100) for c in ids]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(0, 2**16))
def test_the_plan_predicts_every_partition_exactly(n: int, m: int, seed: int) -> None:
    if n == m:
        return
    found = footprints(60, n, seed)
    plan = plan_reshape(found, n, m, DEFAULT_THRESHOLDS)
    after = [0] * max(n, m)
    for f in found:
        after[partition_for(f.collection_id, m)] += f.rows
    assert [p.rows_after for p in plan.partitions] == after
    assert sum(p.rows_in for p in plan.partitions) == sum(p.rows_out for p in plan.partitions) == plan.rows_moving
    for p in plan.partitions:
        assert p.rows_before - p.rows_out + p.rows_in == p.rows_after
        assert (p.status_after is None) == (p.partition_num >= m)
    moving = {f.collection_id for f in found if partition_for(f.collection_id, m) != f.partition_num}
    assert plan.collections_moving == len(moving)
    assert plan.rows_copied == plan.total_rows == sum(f.rows for f in found)


def test_multiples_of_n_move_about_half_and_are_offered_as_nearby_counts() -> None:
    found = footprints(4000, 100)
    plan = plan_reshape(found, 100, 201, DEFAULT_THRESHOLDS)
    options = {o.partition_count: o for o in plan.nearby}
    assert options[200].relation == "multiple of N"
    assert 0.40 < options[200].rows_fraction < 0.60
    assert options[201].rows_fraction > 0.95
    assert min(plan.nearby, key=lambda o: o.rows_moving).partition_count in (200, 300)


def test_nearby_counts_are_multiples_divisors_and_neighbours() -> None:
    assert dict(nearby_counts(100, 128)) == {
        50: "divisor of N",
        100 + 100: "multiple of N",
        127: "neighbour",
        128: "requested",
        129: "neighbour",
    }
    assert dict(nearby_counts(100, 40))[50] == "divisor of N"


@pytest.mark.parametrize("target", [0, 1025, 100, True])
def test_a_bad_count_is_refused(target: int) -> None:
    with pytest.raises(ReshapeError):
        check_target_count(100, target)


@pytest.mark.parametrize("parts", [0, 1, 65, -3])
def test_a_bad_split_is_refused(parts: int) -> None:
    with pytest.raises(ReshapeError, match="between 2 and 64"):
        check_split_parts(parts)


def test_the_isolation_plan_counts_the_collection_and_its_neighbours() -> None:
    found = footprints(300, 10)
    big = found[0]
    plan = plan_isolation(found, big.collection_id, big.partition_num, 10, 4, DEFAULT_THRESHOLDS)
    same = [f for f in found if f.partition_num == big.partition_num]
    assert plan.collection_rows == big.rows
    assert plan.neighbour_rows == sum(f.rows for f in same) - big.rows
    assert plan.rows_copied == sum(f.rows for f in same)
    assert plan.rows_per_part == -(-big.rows // 4)


def test_sub_partition_names_are_fixed_width_and_short() -> None:
    name = isolated_name("chunks_part_07", "x" * 500)
    assert name.startswith("chunks_part_07_c") and len(name) == len("chunks_part_07_c") + 8


async def memory_service() -> tuple[ReshapeService, MemoryDatabase]:
    database = MemoryDatabase(partition_count=10)
    collections = InMemoryCollectionRepository(database)
    chunks = InMemoryChunkRepository(database)
    for i in range(20):
        await collections.add(f"c{i}")
        await chunks.add_many([Chunk(collection_id=f"c{i}", chunk_index=k, content="x") for k in range(i + 1)])
    return ReshapeService(InMemoryTableReshaper(database)), database


async def test_the_memory_adapter_reshapes_and_undoes() -> None:
    svc, database = await memory_service()
    plan = await svc.plan_partitions(20)
    outcome = await svc.reshape(20)
    assert outcome.rows_copied == plan.total_rows == 210
    assert [len(database.partitions[p.partition_num]) for p in plan.partitions] == [
        p.rows_after for p in plan.partitions
    ]
    assert (await svc.reshape(20)).noop
    await svc.undo_reshape()
    assert database.partition_count == 10
    assert sum(len(rows) for rows in database.partitions.values()) == 210


async def test_the_service_refuses_bad_input_on_the_memory_adapter() -> None:
    svc, database = await memory_service()
    with pytest.raises(ReshapeError, match="already has 10"):
        await svc.reshape(10)
    with pytest.raises(ReshapeError, match="does not exist"):
        await svc.isolate("nope")
    with pytest.raises(ReshapeError, match="between 2 and 64"):
        await svc.isolate("c3", 1)
    with pytest.raises(ReshapeError, match="never reshaped"):
        await svc.undo_reshape()
    await svc.isolate("c3", 2)
    with pytest.raises(ReshapeError, match="isolated already"):
        await svc.isolate("c3")
    with pytest.raises(ReshapeError, match="isolated"):
        await svc.reshape(20)
    assert [i.collection_id for i in await svc.isolated()] == ["c3"]
    await svc.release("c3")
    with pytest.raises(ReshapeError, match="not isolated"):
        await svc.release("c3")
    assert database.partition_count == 10
