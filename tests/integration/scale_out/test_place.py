"""Moving partitions to other servers and back, online: copy, capture, verify, swap; resumable."""

from __future__ import annotations

from typing import Any

import pytest

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.domain.model import Chunk
from semantik_chunks.domain.placement import COORDINATOR, PlacementError
from tests.integration.scale_out.conftest import Cluster, add_servers, fetch, run_sql, scalar

COLLECTION = "6b4f0c1e-0d55-4a3e-9d6e-3f0f4b8b2a11"  # partition 20
PARTITION = partition_for(COLLECTION, 100)
NEIGHBOUR = next(f"n-{i}" for i in range(10_000) if partition_for(f"n-{i}", 100) == PARTITION)


class Kill(Exception):
    """Stands for the process being killed at a step of a move."""


def chunks(collection: str, n: int, start: int = 0) -> list[Chunk]:
    return [
        Chunk(collection_id=collection, document_id=f"d{i // 10}", chunk_index=i, content=f"chunk {i} of {collection}")
        for i in range(start, start + n)
    ]


async def _setup(cluster: Cluster, rows: int) -> tuple[Any, PostgresPlacement, PostgresChunkRepository]:
    engine = create_engine(cluster.coordinator)
    placement = PostgresPlacement(engine, 100)
    await add_servers(cluster, placement)
    collections = PostgresCollectionRepository(engine)
    for c in (COLLECTION, NEIGHBOUR):
        await collections.add(c)
    repo = PostgresChunkRepository(engine, 100)
    await repo.add_many(chunks(COLLECTION, rows))
    await repo.add_many(chunks(NEIGHBOUR, 7))
    return engine, placement, repo


async def snapshot(url: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await fetch(
            url,
            "SELECT id, collection_id, partition_key, document_id, chunk_index, content, metadata::text, "
            "created_at FROM chunks ORDER BY collection_id, id",
        )
    ]


async def partition_kind(url: str, number: int) -> str:
    return str(
        await scalar(
            url,
            "SELECT c.relkind::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            f"WHERE i.inhparent = 'chunks'::regclass AND c.relname = 'chunks_part_{number:02d}'",
        )
    )


async def test_a_partition_moves_to_a_server_with_concurrent_writes_and_back_home(
    cluster: Cluster,
) -> None:
    engine, placement, repo = await _setup(cluster, 5_000)
    import semantik_chunks.adapters.postgres.fdw as fdw

    fdw.BATCH_ROWS, saved = 1_000, fdw.BATCH_ROWS
    writes: list[str] = []

    async def concurrent_writes(step: str) -> None:
        # Between batches, other sessions write: new rows, an update of a copied row, a delete of one.
        if step == "batch" and len(writes) < 3:
            n = len(writes)
            await run_sql(
                cluster.coordinator,
                "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
                f"VALUES ('{COLLECTION}', {PARTITION}, {100_000 + n}, 'written during the copy {n}')",
                f"UPDATE chunks SET content = 'updated {n}' WHERE partition_key = {PARTITION} AND id = {n + 1}",
                f"DELETE FROM chunks WHERE partition_key = {PARTITION} AND id = {n + 100}",
            )
            writes.append(step)

    placement.checkpoint = concurrent_writes
    try:
        outcome = await placement.move(PARTITION, "alpha")
    finally:
        fdw.BATCH_ROWS = saved
    expected_rows = 5_000 + 3 - 3 + 7
    assert writes == ["batch"] * 3
    assert outcome.rows == expected_rows and outcome.rows_replayed >= 6
    assert await partition_kind(cluster.coordinator, PARTITION) == "f"
    remote_rows = await scalar(cluster.servers["alpha"], f"SELECT count(*) FROM chunks_part_{PARTITION:02d}")
    assert remote_rows == expected_rows
    # The move ended with ANALYZE there: the planner knows the partition's rows (all sampled at this size).
    analyzed = await scalar(
        cluster.servers["alpha"],
        f"SELECT reltuples::bigint FROM pg_class WHERE relname = 'chunks_part_{PARTITION:02d}'",
    )
    assert analyzed == expected_rows
    assert await scalar(cluster.coordinator, f"SELECT to_regclass('chunks_part_{PARTITION:02d}_moved')") is None
    before_home = await snapshot(cluster.coordinator)
    assert len(before_home) == expected_rows
    assert await repo.count(COLLECTION) == 5_000
    assert (await repo.get(1, collection_id=COLLECTION)).content == "updated 0"  # type: ignore[union-attr]

    back = await placement.move(PARTITION, COORDINATOR)
    assert back.rows == expected_rows
    assert await partition_kind(cluster.coordinator, PARTITION) == "r"
    assert await snapshot(cluster.coordinator) == before_home
    assert await scalar(cluster.servers["alpha"], f"SELECT to_regclass('chunks_part_{PARTITION:02d}')") is None
    # Home again, the partition has its keys back: the FK and the primary key.
    keys = await fetch(
        cluster.coordinator,
        f"SELECT contype::text FROM pg_constraint WHERE conrelid = 'chunks_part_{PARTITION:02d}'::regclass "
        "AND contype IN ('p', 'f') ORDER BY 1",
    )
    assert [k[0] for k in keys] == ["f", "p"]
    await engine.dispose()


@pytest.mark.parametrize("killed_at", ["start", "batch", "verified", "swapped"])
async def test_a_move_killed_at_any_step_is_finished_by_a_rerun_nothing_lost_or_duplicated(
    cluster: Cluster, killed_at: str
) -> None:
    engine, placement, _repo = await _setup(cluster, 3_000)
    before = await snapshot(cluster.coordinator)
    import semantik_chunks.adapters.postgres.fdw as fdw

    fdw.BATCH_ROWS, saved = 1_000, fdw.BATCH_ROWS
    seen: list[str] = []

    async def kill(step: str) -> None:
        seen.append(step)
        if step == killed_at and seen.count(step) == (2 if step == "batch" else 1):
            raise Kill(step)

    placement.checkpoint = kill
    try:
        with pytest.raises(Kill):
            await placement.move(PARTITION, "alpha")
        # Meanwhile the table answers, with every row, and takes writes.
        assert await snapshot(cluster.coordinator) == before
        with pytest.raises(PlacementError, match=r"being moved .* to 'alpha'"):
            await placement.move(PARTITION, "beta")
        placement.checkpoint = None
        outcome = await placement.move(PARTITION, "alpha")
    finally:
        fdw.BATCH_ROWS = saved
    assert await partition_kind(cluster.coordinator, PARTITION) == "f"
    assert await snapshot(cluster.coordinator) == before
    if killed_at != "swapped":
        assert outcome.rows == len(before)
    assert await scalar(cluster.coordinator, "SELECT count(*) FROM semantik_chunks_moves") == 0
    assert await scalar(cluster.coordinator, f"SELECT to_regclass('chunks_part_{PARTITION:02d}_moved')") is None
    again = await placement.move(PARTITION, "alpha")
    assert again.already_done
    await engine.dispose()


async def test_servers_list_reports_partitions_rows_bytes_and_remove_is_refused_while_in_use(
    cluster: Cluster,
) -> None:
    engine, placement, _repo = await _setup(cluster, 500)
    await placement.move(PARTITION, "beta")
    await run_sql(cluster.servers["beta"], f"ANALYZE chunks_part_{PARTITION:02d}")
    listed = {s.name: s for s in await placement.servers()}
    assert listed["beta"].partitions == (PARTITION,) and listed["beta"].reachable
    assert listed["beta"].rows == 507 and (listed["beta"].size_bytes or 0) > 0
    assert listed["alpha"].partitions == () and listed["alpha"].rows == 0
    with pytest.raises(PlacementError, match=f"holds partitions {PARTITION}"):
        await placement.remove_server("beta")
    await placement.remove_server("alpha")
    assert [s.name for s in await placement.servers()] == ["beta"]
    await engine.dispose()


async def test_reshape_and_isolation_wait_for_partitions_on_other_servers_and_a_move_for_isolations(
    cluster: Cluster,
) -> None:
    """A rebuild beside the table cannot copy a foreign partition, and a move copies one plain table: each
    refuses, with the command that clears the way, and changes nothing."""
    from semantik_chunks.adapters.postgres.reshape import PostgresTableReshaper
    from semantik_chunks.domain.reshape import ReshapeError
    from semantik_chunks.services.reshape import ReshapeService

    engine, placement, _repo = await _setup(cluster, 300)
    shapes = ReshapeService(PostgresTableReshaper(engine))
    await placement.move(PARTITION, "alpha")
    before = await snapshot(cluster.coordinator)
    with pytest.raises(ReshapeError, match=rf"chunks_part_{PARTITION:02d} is on another server: move it home"):
        await shapes.reshape(200)
    with pytest.raises(ReshapeError, match="on another server"):
        await shapes.isolate(COLLECTION)
    assert await shapes.pending() is None
    assert await scalar(cluster.coordinator, "SELECT chunk_partition_count()") == 100
    assert await snapshot(cluster.coordinator) == before

    await placement.move(PARTITION, COORDINATOR)
    await shapes.isolate(COLLECTION)
    assert await partition_kind(cluster.coordinator, PARTITION) == "p"
    with pytest.raises(PlacementError, match="isolated collections"):
        await placement.move(PARTITION, "alpha")
    assert await partition_kind(cluster.coordinator, PARTITION) == "p"
    assert await snapshot(cluster.coordinator) == before
    # The isolated partition keeps the keys on its own table, enforced in its sub-partitions.
    with pytest.raises(Exception, match="duplicate key"):
        await run_sql(
            cluster.coordinator,
            "INSERT INTO chunks (id, collection_id, partition_key, chunk_index, content) "
            "SELECT id, collection_id, partition_key, 0, 'again' FROM chunks "
            f"WHERE collection_id = '{COLLECTION}' LIMIT 1",
        )
    await engine.dispose()
