"""The SQL monitoring objects against the domain's pure functions, on the same data.

The views compute statuses in SQL (for psql, dashboards and the host's clients); the services
compute them in Python from the same statistics. Both come from one set of thresholds and
must agree, boundaries included.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from semantik_chunks.adapters.postgres import migrate, monitoring_sql
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.domain import skew
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS
from tests.monitoring_data import (
    PARTITION_COUNT,
    collection_in,
    days_ago,
    insert_chunks,
    now,
    reset_database,
    wait_for_statistics,
)
from tests.postgres_servers import asyncpg_dsn

N = PARTITION_COUNT
# 1,000 chunks: a fair share of 10, so 15 and 5 sit exactly on the critical skew (0.5),
# 13 and 7 on the warning skew (0.3) and 14 on the rebalance skew (0.4).
ON_THE_THRESHOLDS = [15, 13, 14, 7, 5, 16, 6, 12, 0, 20] + [10] * 82 + [9] * 8


def _random_counts() -> list[int]:
    rng = random.Random(20261125)
    counts = [0] * N
    for _ in range(300):
        counts[rng.randrange(N)] += int(rng.paretovariate(1.2) * 3)
    return counts


DATASETS = {"empty": [0] * N, "on_the_thresholds": ON_THE_THRESHOLDS, "random": _random_counts()}


@pytest.fixture
async def conn(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    engine = create_engine(pg_url)
    await reset_database(engine)
    await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(pg_url))
    yield connection
    await connection.close()


@pytest.fixture
async def statistics(pg_url: str) -> AsyncIterator[PostgresPartitionStatistics]:
    engine = create_engine(pg_url)
    yield PostgresPartitionStatistics(engine, N)
    await engine.dispose()


async def load_counts(conn: asyncpg.Connection, counts: Sequence[int]) -> None:
    """``counts[p]`` chunks in partition ``p``, from one collection each, then flush the statistics."""
    for partition, count in enumerate(counts):
        if count:
            await insert_chunks(conn, collection_in(partition, "sql"), count, days_ago(2))
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await wait_for_statistics(conn)


async def rows(conn: asyncpg.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(sql)]


# --- statuses and skews: SQL equals the domain -----------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(DATASETS))
async def test_partition_health_summary_equals_the_domain(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics, dataset: str
) -> None:
    await load_counts(conn, DATASETS[dataset])
    snapshots = await statistics.partition_snapshots()
    assert [s.row_count for s in snapshots] == DATASETS[dataset]
    expected = skew.partition_health(snapshots, N, DEFAULT_THRESHOLDS)
    served = await rows(conn, "SELECT * FROM partition_health_summary")
    assert [r["partition_num"] for r in served] == list(range(N))
    for row, want in zip(served, expected, strict=True):
        assert row["health_status"] == want.health_status.value
        assert row["recommendation"] == want.recommendation
        assert (row["chunk_count"], row["total_chunks"], row["size_bytes"]) == (
            want.chunk_count,
            want.total_chunks,
            want.size_bytes,
        )
        for column in ("chunk_skew", "size_skew", "chunk_percentage", "size_percentage"):
            assert float(row[column]) == pytest.approx(getattr(want, column), rel=1e-12, abs=1e-12), column


async def test_the_threshold_dataset_lands_on_the_thresholds(conn: asyncpg.Connection) -> None:
    await load_counts(conn, ON_THE_THRESHOLDS)
    served = await rows(conn, "SELECT health_status FROM partition_health_summary WHERE partition_num < 10")
    # Skews 0.5, 0.3, 0.4, 0.3, 0.5, 0.6, 0.4, 0.2, 1, 1: each exactly, so each boundary is taken as reached.
    assert [r["health_status"] for r in served] == [
        "UNBALANCED",
        "WARNING",
        "WARNING",
        "WARNING",
        "UNBALANCED",
        "UNBALANCED",
        "WARNING",
        "HEALTHY",
        "UNBALANCED",
        "UNBALANCED",
    ]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
async def test_analyze_partition_skew_equals_the_domain(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics, dataset: str
) -> None:
    await load_counts(conn, DATASETS[dataset])
    expected = skew.skew_metrics(await statistics.partition_snapshots(), N, DEFAULT_THRESHOLDS)
    served = await rows(conn, "SELECT * FROM analyze_partition_skew()")
    assert [(r["metric"], r["status"], r["details"]) for r in served] == [
        (m.metric, m.status.value, m.details) for m in expected
    ]
    for row, metric in zip(served, expected, strict=True):
        assert float(row["value"]) == pytest.approx(metric.value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
async def test_partition_health_and_distribution_equal_the_domain(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics, dataset: str
) -> None:
    await load_counts(conn, DATASETS[dataset])
    snapshots = await statistics.partition_snapshots()
    loads = skew.partition_loads(snapshots, N, DEFAULT_THRESHOLDS)
    served = await rows(conn, "SELECT * FROM partition_health")
    assert [
        (r["partition_name"], r["partition_id"], r["row_count"], r["dead_rows"], r["size_bytes"], r["partition_status"])
        for r in served
    ] == [
        (x.partition_name, x.partition_num, x.row_count, x.dead_rows, x.size_bytes, x.temperature.value) for x in loads
    ]
    for row, load in zip(served, loads, strict=True):
        assert float(row["pct_deviation_from_avg"]) == pytest.approx(load.pct_deviation_from_avg, rel=1e-12, abs=1e-9)

    stats = skew.distribution_stats(snapshots, N, DEFAULT_THRESHOLDS)
    (row,) = await rows(conn, "SELECT * FROM partition_distribution")
    assert (
        row["partitions_used"],
        row["empty_partitions"],
        row["max_chunks"],
        row["min_chunks"],
        row["total_chunks"],
        row["distribution_status"],
    ) == (
        stats.partitions_used,
        stats.empty_partitions,
        stats.max_chunks,
        stats.min_chunks,
        stats.total_chunks,
        stats.distribution_status.value,
    )
    for column in ("avg_chunks_per_partition", "stddev_chunks", "max_skew_ratio"):
        assert float(row[column]) == pytest.approx(getattr(stats, column), rel=1e-12), column


async def test_size_and_chunk_distribution_count_what_is_there(conn: asyncpg.Connection) -> None:
    await insert_chunks(conn, collection_in(3, "a"), 12, days_ago(1), documents=3)
    await insert_chunks(conn, collection_in(3, "b"), 8, days_ago(1), documents=8)
    await insert_chunks(conn, collection_in(5, "a"), 20, days_ago(1), documents=1)
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await wait_for_statistics(conn)
    chunks = {r["partition_num"]: r for r in await rows(conn, "SELECT * FROM partition_chunk_distribution")}
    assert len(chunks) == N
    assert (chunks[3]["chunk_count"], chunks[3]["document_count"], chunks[3]["collection_count"]) == (20, 8, 2)
    assert (chunks[5]["chunk_count"], chunks[5]["document_count"], chunks[5]["collection_count"]) == (20, 1, 1)
    assert float(chunks[3]["chunk_percentage"]) == 50.0
    exact_tokens = await conn.fetchval("SELECT round(avg(token_count), 2) FROM chunks WHERE partition_key = 3")
    assert chunks[3]["avg_tokens"] == exact_tokens
    assert (chunks[0]["chunk_count"], chunks[0]["avg_tokens"], chunks[0]["chunk_percentage"]) == (0, 0, 0)
    sizes = {r["partition_num"]: r for r in await rows(conn, "SELECT * FROM partition_size_distribution")}
    assert (sizes[3]["row_estimate"], sizes[5]["row_estimate"], sizes[0]["row_estimate"]) == (20, 20, 0)
    on_disk = await conn.fetchval("SELECT pg_total_relation_size('chunks_part_03')")
    assert sizes[3]["size_bytes"] == on_disk
    assert float(sum(r["size_percentage"] for r in sizes.values())) == pytest.approx(100, abs=0.5)


# --- statistics and their lag ----------------------------------------------------------------------------------


async def test_statistics_mode_follows_writes_and_exact_mode_counts(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics
) -> None:
    await insert_chunks(conn, collection_in(4, "lag"), 30, days_ago(1))
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await wait_for_statistics(conn)
    assert (await statistics.partition_snapshots())[4].row_count == 30
    # Statistics forgotten (a crash or a reset) on a partition never analyzed: only exact mode knows.
    await conn.execute("SELECT pg_stat_reset_single_table_counters('chunks_part_04'::regclass)")
    assert (await statistics.partition_snapshots())[4].row_count == 0
    assert (await statistics.partition_snapshots(exact=True))[4].row_count == 30
    # ANALYZE brings them back; with no counters since the reset, reltuples is used.
    await conn.execute("ANALYZE chunks_part_04")
    await conn.execute("SELECT pg_stat_reset_single_table_counters('chunks_part_04'::regclass)")
    assert (await statistics.partition_snapshots())[4].row_count == 30


async def test_deleted_rows_leave_the_count_and_show_as_dead(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics
) -> None:
    collection = collection_in(6, "dead")
    await insert_chunks(conn, collection, 40, days_ago(1))
    await conn.execute("DELETE FROM chunks WHERE partition_key = 6 AND chunk_index < 15")
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await wait_for_statistics(conn)
    snapshot = (await statistics.partition_snapshots())[6]
    assert (snapshot.row_count, snapshot.dead_rows) == (25, 15)
    (row,) = await rows(conn, "SELECT row_count, dead_rows FROM partition_health WHERE partition_id = 6")
    assert (row["row_count"], row["dead_rows"]) == (25, 15)


async def test_newest_chunk_per_partition(conn: asyncpg.Connection, statistics: PostgresPartitionStatistics) -> None:
    old, new = days_ago(9), days_ago(1)
    await insert_chunks(conn, collection_in(2, "old"), 3, old)
    await insert_chunks(conn, collection_in(2, "new"), 3, new)
    snapshots = await statistics.partition_snapshots()
    assert snapshots[2].newest_chunk_at == new
    assert snapshots[1].newest_chunk_at is None
    assert await conn.fetchval("SELECT created_at FROM partition_stats WHERE partition_num = 2") == new


# --- what the health path reads ---------------------------------------------------------------------------------


async def plan(conn: asyncpg.Connection, sql: str) -> str:
    return "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}"))


async def test_the_health_summary_reads_no_chunk_rows(conn: asyncpg.Connection) -> None:
    await load_counts(conn, DATASETS["random"])
    await conn.execute("ANALYZE chunks")
    for view in (
        "partition_health_summary",
        "partition_health",
        "partition_distribution",
        "partition_size_distribution",
    ):
        assert " on chunks_part" not in await plan(conn, f"SELECT * FROM {view}"), view
    assert " on chunks_part" not in await plan(conn, "SELECT * FROM analyze_partition_skew()")


async def test_newest_chunks_are_single_backward_index_probes(conn: asyncpg.Connection) -> None:
    await load_counts(conn, [50] * N)
    await conn.execute("ANALYZE chunks")
    # partition_stats takes them from chunk_local_partition_newest(), which runs this query while every
    # partition is local (a plpgsql function's inner plan is not in the view's EXPLAIN).
    explained = await plan(conn, monitoring_sql.newest_all_local_sql())
    scans = [line.strip().removeprefix("->").strip() for line in explained.splitlines() if " on chunks_part_" in line]
    assert len(scans) == N
    assert all(s.startswith(("Index Only Scan Backward", "Index Scan Backward")) for s in scans), scans
    # Run-time pruning: each outer row runs its own partition's probe only, once.
    assert all("loops=1)" in s for s in scans), scans


async def test_hot_spots_read_recent_rows_through_the_created_at_index(conn: asyncpg.Connection) -> None:
    for partition in range(N):
        await insert_chunks(conn, collection_in(partition, "history"), 400, days_ago(30))
        await insert_chunks(conn, collection_in(partition, "fresh"), 2, now())
    await conn.execute("ANALYZE chunks")
    explained = await plan(conn, monitoring_sql.activity_all_local_sql())  # what partition_hot_spots runs
    scans = [line.strip().removeprefix("->").strip() for line in explained.splitlines() if " on chunks_part_" in line]
    assert len(scans) == N
    # The created_at index of each partition is named idx_chunks_part_NN_created (sc0005).
    assert all(re.search(r"idx_chunks_part_\d+_created\b", s) and s.startswith(("Index", "Bitmap")) for s in scans), (
        scans
    )
    assert "Parallel" not in explained and "Gather" not in explained  # workers cost more than a week of rows


# --- hot spots ----------------------------------------------------------------------------------------------------


async def test_hot_spots_count_each_window(conn: asyncpg.Connection, statistics: PostgresPartitionStatistics) -> None:
    await insert_chunks(conn, collection_in(1, "hour"), 30, now() - timedelta(minutes=30))
    await insert_chunks(conn, collection_in(2, "hour"), 10, now() - timedelta(minutes=59))
    await insert_chunks(conn, collection_in(2, "day"), 20, now() - timedelta(hours=3))
    await insert_chunks(conn, collection_in(3, "week"), 40, now() - timedelta(days=2))
    await insert_chunks(conn, collection_in(4, "old"), 50, now() - timedelta(days=10))
    spots = {r["partition_num"]: r for r in await rows(conn, "SELECT * FROM partition_hot_spots")}
    assert len(spots) == N
    windows = ("chunks_last_hour", "chunks_last_day", "chunks_last_week")
    assert [tuple(spots[p][w] for w in windows) for p in range(6)] == [
        (0, 0, 0),
        (30, 30, 30),
        (10, 30, 30),
        (0, 0, 40),
        (0, 0, 0),
        (0, 0, 0),
    ]
    assert (float(spots[1]["hour_percentage"]), float(spots[2]["hour_percentage"])) == (75.0, 25.0)
    assert (float(spots[1]["day_percentage"]), float(spots[2]["day_percentage"])) == (50.0, 50.0)
    assert float(spots[3]["week_percentage"]) == 40.0
    assert float(spots[4]["week_percentage"]) == 0.0
    activity = await statistics.write_activity()
    assert [(a.last_hour, a.last_day, a.last_week) for a in activity[:4]] == [
        (0, 0, 0),
        (30, 30, 30),
        (10, 30, 30),
        (0, 0, 40),
    ]


# --- collection_chunking_stats --------------------------------------------------------------------------------------


async def relation_locks(conn: asyncpg.Connection, relation: str) -> set[str]:
    found = await conn.fetch(
        "SELECT mode FROM pg_locks WHERE relation = to_regclass($1) AND pid = pg_backend_pid()", relation
    )
    return {r["mode"] for r in found}


async def test_collection_chunking_stats_has_every_collection_and_refreshes_concurrently(
    conn: asyncpg.Connection,
) -> None:
    await insert_chunks(conn, "alpha", 10, days_ago(1), documents=5)
    await insert_chunks(conn, "beta", 0, days_ago(1))
    async with conn.transaction():
        await conn.execute("SELECT refresh_collection_chunking_stats()")
        locks = await relation_locks(conn, "collection_chunking_stats")
    # CONCURRENTLY takes ExclusiveLock (readers carry on); a plain refresh takes AccessExclusiveLock.
    assert "ExclusiveLock" in locks and "AccessExclusiveLock" not in locks
    stats = {r["id"]: r for r in await rows(conn, "SELECT * FROM collection_chunking_stats")}
    assert set(stats) == {"alpha", "beta"}
    alpha, beta = stats["alpha"], stats["beta"]
    assert (alpha["name"], alpha["chunked_documents"], alpha["total_chunks"]) == ("ALPHA", 5, 10)
    assert alpha["avg_tokens_per_chunk"] == await conn.fetchval("SELECT avg(token_count) FROM chunks")
    assert alpha["last_chunk_created"] is not None
    assert (
        beta["chunked_documents"],
        beta["total_chunks"],
        beta["avg_tokens_per_chunk"],
        beta["last_chunk_created"],
    ) == (
        0,
        0,
        None,
        None,
    )
    assert alpha["partition_num"] == await conn.fetchval("SELECT get_partition_key('alpha')")


async def test_refresh_fills_a_never_populated_view_first(
    conn: asyncpg.Connection, statistics: PostgresPartitionStatistics
) -> None:
    await insert_chunks(conn, "alpha", 3, days_ago(1))
    await conn.execute("REFRESH MATERIALIZED VIEW collection_chunking_stats WITH NO DATA")
    assert await statistics.collection_stats() == []
    assert await statistics.collection_counts() == []
    async with conn.transaction():
        await conn.execute("SELECT refresh_collection_chunking_stats()")
        assert "AccessExclusiveLock" in await relation_locks(conn, "collection_chunking_stats")
    assert [(s.id, s.total_chunks) for s in await statistics.collection_stats()] == [("alpha", 3)]
    await conn.execute("SELECT refresh_collection_chunking_stats()")  # now concurrently
    assert [(c.collection_id, c.chunk_count) for c in await statistics.collection_counts()] == [("alpha", 3)]


# --- the migration ----------------------------------------------------------------------------------------------------

MONITORING_RELATIONS = (
    "chunk_partition_catalog",
    "partition_stats",
    "partition_health_summary",
    "partition_health",
    "partition_distribution",
    "partition_size_distribution",
    "partition_chunk_distribution",
    "partition_hot_spots",
    "collection_chunking_stats",
)


async def monitoring_objects(conn: asyncpg.Connection) -> set[str]:
    relations = await conn.fetch(
        "SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL", list(MONITORING_RELATIONS)
    )
    functions = await conn.fetch(
        "SELECT proname FROM pg_proc WHERE proname IN ('analyze_partition_skew', 'refresh_collection_chunking_stats')"
    )
    return {r["name"] for r in relations} | {r["proname"] for r in functions}


async def test_the_migration_replaces_a_hosts_objects_and_its_downgrade_drops_everything(
    make_database: Callable[[], str],
) -> None:
    url = await asyncio.to_thread(make_database)
    await asyncio.to_thread(migrate.upgrade, url, 100, "sc0002")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        # Same names, other shapes and kinds: what a host's own migrations left behind.
        await conn.execute(
            """
            CREATE VIEW partition_health_summary AS SELECT 1 AS partition_num, 'x'::text AS health_status;
            CREATE VIEW partition_stats AS SELECT 1 AS partition_num;
            CREATE VIEW collection_chunking_stats AS SELECT 'a'::text AS id;
            CREATE FUNCTION analyze_partition_skew() RETURNS TABLE(metric text, value float8)
                LANGUAGE sql AS $$ SELECT 'old', 1.0::float8 $$;
            """
        )
        await migrate.upgrade_async(url, 100)
        assert await monitoring_objects(conn) == {
            *MONITORING_RELATIONS,
            "analyze_partition_skew",
            "refresh_collection_chunking_stats",
        }
        assert await conn.fetchval("SELECT count(*) FROM partition_health_summary") == N
        assert (
            await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = 'collection_chunking_stats'::regclass")
            == "m"
        )
        assert [r["metric"] for r in await conn.fetch("SELECT * FROM analyze_partition_skew()")] == [
            "chunk_distribution",
            "size_distribution",
            "chunk_count_variation",
        ]
        await asyncio.to_thread(migrate.downgrade, url, "sc0002")
        assert await monitoring_objects(conn) == set()
        assert await conn.fetchval("SELECT to_regclass('chunks') IS NOT NULL")
        await migrate.upgrade_async(url, 100)
        assert len(await monitoring_objects(conn)) == len(MONITORING_RELATIONS) + 2
    finally:
        await conn.close()
