"""The host's two clients read the library's monitoring objects unchanged (docs: host-contract).

The host's operator script uses asyncpg, ``SELECT *``, reads columns by key and formats numbers
with ``:.1f`` / ``:.2f``; its monitoring service uses SQLAlchemy ``text()`` with named columns,
``float()`` on numerics and parses statuses into its enums. Both are replayed here, on an empty
table and on a loaded one.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres.engine import create_engine
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


# The host's enums, as its service declares them.
class HostPartitionHealthStatus(enum.Enum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    UNBALANCED = "UNBALANCED"
    CRITICAL = "CRITICAL"


class HostSkewStatus(enum.Enum):
    NORMAL = "NORMAL"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class HostPartitionStatus(enum.Enum):
    HOT = "HOT"
    COLD = "COLD"
    NORMAL = "NORMAL"


INTEGER = ("integer", "bigint")
NUMERIC = ("numeric",)
TEXT = ("text", "character varying")
TIMESTAMPTZ = ("timestamp with time zone",)
BOOLEAN = ("boolean",)

# Column -> accepted types, for every column host-contract.md lists.
CONTRACT: dict[str, dict[str, tuple[str, ...]]] = {
    "partition_health_summary": {
        "partition_num": ("integer",),
        "chunk_count": ("bigint",),
        "total_chunks": ("bigint",),
        "chunk_percentage": NUMERIC,
        "size_percentage": NUMERIC,
        "health_status": TEXT,
        "chunk_skew": NUMERIC,
        "size_skew": NUMERIC,
        "recommendation": TEXT,
        "partition_size": TEXT,
    },
    "partition_chunk_distribution": {
        "partition_num": INTEGER,
        "chunk_count": INTEGER,
        "document_count": INTEGER,
        "collection_count": INTEGER,
        "avg_tokens": NUMERIC,
        "chunk_percentage": NUMERIC,
    },
    "partition_size_distribution": {
        "partition_num": INTEGER,
        "size_bytes": ("bigint",),
        "size_pretty": TEXT,
        "size_percentage": NUMERIC,
        "row_estimate": ("bigint",),
    },
    "partition_hot_spots": {
        "partition_num": INTEGER,
        "chunks_last_hour": INTEGER,
        "chunks_last_day": INTEGER,
        "chunks_last_week": INTEGER,
        "hour_percentage": NUMERIC,
        "day_percentage": NUMERIC,
        "week_percentage": NUMERIC,
    },
    "partition_stats": {
        "partition_num": INTEGER,
        "chunk_count": INTEGER,
        "total_size_mb": NUMERIC,
        "avg_chunk_size_kb": NUMERIC,
        "created_at": TIMESTAMPTZ,
    },
    "collection_chunking_stats": {
        "id": TEXT,
        "name": TEXT,
        "chunked_documents": INTEGER,
        "total_chunks": INTEGER,
        "avg_tokens_per_chunk": NUMERIC,
        "last_chunk_created": TIMESTAMPTZ,
    },
    "partition_health": {
        "partition_name": TEXT,
        "partition_id": INTEGER,
        "size_bytes": INTEGER,
        "row_count": INTEGER,
        "dead_rows": INTEGER,
        "last_vacuum": TIMESTAMPTZ,
        "last_autovacuum": TIMESTAMPTZ,
        "size_pretty": TEXT,
        "pct_deviation_from_avg": NUMERIC,
        "partition_status": TEXT,
        "needs_vacuum": BOOLEAN,
    },
    "partition_distribution": {
        "partitions_used": INTEGER,
        "avg_chunks_per_partition": NUMERIC,
        "stddev_chunks": NUMERIC,
        "max_chunks": INTEGER,
        "min_chunks": INTEGER,
        "max_skew_ratio": NUMERIC,
        "distribution_status": TEXT,
        "empty_partitions": INTEGER,
    },
}
PER_PARTITION = [
    "partition_health_summary",
    "partition_chunk_distribution",
    "partition_size_distribution",
    "partition_hot_spots",
    "partition_stats",
    "partition_health",
]
# Columns that may be NULL by contract; every other numeric one the host formats.
NULLABLE = {
    "recommendation",
    "created_at",
    "avg_tokens_per_chunk",
    "last_chunk_created",
    "name",
    "last_vacuum",
    "last_autovacuum",
}
LOADED_CHUNKS = 4 * 50 + 600 + 30


async def load(conn: asyncpg.Connection) -> None:
    """Old rows in four partitions, a recent burst in one, a collection without chunks."""
    for partition in (0, 1, 2, 3):
        await insert_chunks(conn, collection_in(partition, "host"), 50, days_ago(20))
    await insert_chunks(conn, collection_in(9, "burst"), 600, now() - timedelta(minutes=5))
    await insert_chunks(conn, collection_in(9, "day"), 30, now() - timedelta(hours=6))
    await insert_chunks(conn, "empty-collection", 0, now())
    await conn.execute("SELECT refresh_collection_chunking_stats()")
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await wait_for_statistics(conn)


@pytest.fixture(params=["empty", "loaded"])
async def state(request: pytest.FixtureRequest, pg_url: str) -> tuple[str, str]:
    engine = create_engine(pg_url)
    await reset_database(engine)
    await engine.dispose()
    if request.param == "loaded":
        conn = await asyncpg.connect(asyncpg_dsn(pg_url))
        try:
            await load(conn)
        finally:
            await conn.close()
    return request.param, pg_url


@pytest.fixture
async def script(state: tuple[str, str]) -> AsyncIterator[asyncpg.Connection]:
    """The operator script's connection: plain asyncpg."""
    conn = await asyncpg.connect(asyncpg_dsn(state[1]))
    yield conn
    await conn.close()


@pytest.fixture
async def service(state: tuple[str, str]) -> AsyncIterator[AsyncEngine]:
    """The monitoring service's engine: SQLAlchemy over asyncpg."""
    engine = create_engine(state[1])
    yield engine
    await engine.dispose()


def loaded(state: tuple[str, str]) -> bool:
    return state[0] == "loaded"


# --- shape ----------------------------------------------------------------------------------------------------------


async def test_every_contract_column_exists_with_its_kind_of_type(script: asyncpg.Connection) -> None:
    for relation, columns in CONTRACT.items():
        found = {
            r["attname"]: r["type"]
            for r in await script.fetch(
                "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
                "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                relation,
            )
        }
        for column, kinds in columns.items():
            assert column in found, f"{relation}.{column} is missing"
            assert found[column].split("(")[0] in kinds, f"{relation}.{column} is {found[column]}"
    kinds = await script.fetchval(
        "SELECT relkind::text FROM pg_class WHERE oid = to_regclass('collection_chunking_stats')"
    )
    assert kinds == "m"
    unique = await script.fetchval(
        "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
        "WHERE i.indrelid = to_regclass('collection_chunking_stats') AND i.indisunique AND i.indnatts = 1 "
        "AND a.attname = 'id' AND i.indpred IS NULL"
    )
    assert unique == 1
    results = {
        r["proname"]: r["result"]
        for r in await script.fetch(
            "SELECT proname, pg_get_function_result(oid) AS result FROM pg_proc "
            "WHERE proname IN ('analyze_partition_skew', 'refresh_collection_chunking_stats') AND pronargs = 0"
        )
    }
    assert results == {
        "analyze_partition_skew": "TABLE(metric text, value numeric, status text, details text)",
        "refresh_collection_chunking_stats": "void",
    }


# --- the operator script: asyncpg, SELECT *, by key, formatted ------------------------------------------------------


def formatted(row: asyncpg.Record, relation: str) -> list[str]:
    """What the script prints: every numeric it reads formatted, so a NULL raises TypeError."""
    out = []
    for column, kinds in CONTRACT[relation].items():
        value = row[column]
        if column in NULLABLE and value is None:
            out.append("-")
        elif kinds == NUMERIC:
            out.append(f"{value:.1f} {value:.2f}")
        elif kinds in (INTEGER, ("integer",), ("bigint",)):
            out.append(f"{value:,}")
        elif kinds == BOOLEAN:
            assert isinstance(value, bool)
            out.append("yes" if value else "no")
        else:
            out.append(str(value))
    return out


async def test_the_operator_script_reads_and_prints_every_object(
    state: tuple[str, str], script: asyncpg.Connection
) -> None:
    for relation in CONTRACT:
        found = await script.fetch(f"SELECT * FROM {relation}")
        for row in found:
            assert all(formatted(row, relation))
        if relation in PER_PARTITION:
            assert sorted(r["partition_num"] if "partition_num" in r else r["partition_id"] for r in found) == list(
                range(PARTITION_COUNT)
            ), relation
    health = await script.fetch("SELECT * FROM partition_health_summary")
    counts = {
        status: sum(1 for r in health if r["health_status"] == status)
        for status in ("HEALTHY", "WARNING", "UNBALANCED")
    }
    assert sum(counts.values()) == PARTITION_COUNT  # the script counts only these three
    assert all(r["partition_size"] for r in health)
    skew = await script.fetch("SELECT * FROM analyze_partition_skew()")
    assert [f"{r['metric']}: {r['value']:.2f} {r['status']} {r['details']}" for r in skew]
    assert {r["metric"] for r in skew} >= {"chunk_distribution", "size_distribution"}
    hot = await script.fetch("SELECT * FROM partition_hot_spots WHERE hour_percentage > 12.5")
    assert [r["partition_num"] for r in hot] == ([9] if loaded(state) else [])
    await script.execute("SELECT refresh_collection_chunking_stats()")
    collections = await script.fetch("SELECT * FROM collection_chunking_stats ORDER BY total_chunks DESC")
    assert len(collections) == (7 if loaded(state) else 0)
    if loaded(state):
        assert (collections[0]["total_chunks"], collections[-1]["total_chunks"]) == (600, 0)
        assert collections[-1]["avg_tokens_per_chunk"] is None


# --- the monitoring service: SQLAlchemy, named columns, float(), enums ------------------------------------------


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).mappings())


async def test_the_service_reads_the_health_summary(state: tuple[str, str], service: AsyncEngine) -> None:
    rows = await fetch(
        service,
        "SELECT partition_num, chunk_count, total_chunks, chunk_percentage, size_percentage, health_status, "
        "chunk_skew, size_skew, recommendation FROM partition_health_summary ORDER BY chunk_skew DESC",
    )
    assert len(rows) == PARTITION_COUNT
    for r in rows:
        HostPartitionHealthStatus(r["health_status"])
        assert all(float(r[c]) >= 0 for c in ("chunk_percentage", "size_percentage", "chunk_skew", "size_skew"))
        assert int(r["total_chunks"]) == (LOADED_CHUNKS if loaded(state) else 0)
    assert rows[0]["partition_num"] == (9 if loaded(state) else rows[0]["partition_num"])


async def test_the_service_reads_the_skew_analysis(state: tuple[str, str], service: AsyncEngine) -> None:
    rows = await fetch(service, "SELECT metric, value, status, details FROM analyze_partition_skew()")
    statuses = {r["metric"]: HostSkewStatus(r["status"]) for r in rows}
    assert all(isinstance(float(r["value"]), float) for r in rows)
    expected = HostSkewStatus.CRITICAL if loaded(state) else HostSkewStatus.NORMAL
    assert statuses["chunk_distribution"] is expected


async def test_the_service_reads_partition_stats_its_way(state: tuple[str, str], service: AsyncEngine) -> None:
    (aggregate,) = await fetch(
        service,
        "SELECT COUNT(DISTINCT partition_num) AS partition_count, SUM(chunk_count) AS total_chunks, "
        "SUM(total_size_mb) AS total_size_mb, AVG(chunk_count) AS avg_chunks, STDDEV(chunk_count) AS stddev "
        "FROM partition_stats",
    )
    assert int(aggregate["partition_count"]) == PARTITION_COUNT
    assert int(aggregate["total_chunks"]) == (LOADED_CHUNKS if loaded(state) else 0)
    assert float(aggregate["total_size_mb"]) > 0
    assert float(aggregate["avg_chunks"]) == pytest.approx((LOADED_CHUNKS if loaded(state) else 0) / PARTITION_COUNT)
    assert float(aggregate["stddev"]) >= 0
    for partition in range(PARTITION_COUNT):
        found = await fetch(
            service,
            "SELECT partition_num, chunk_count, total_size_mb, avg_chunk_size_kb, created_at "
            "FROM partition_stats WHERE partition_num = :n",
            n=partition,
        )
        assert len(found) == 1
        (row,) = found
        float(row["total_size_mb"]), float(row["avg_chunk_size_kb"])
        assert (row["created_at"] is not None) == (loaded(state) and partition in (0, 1, 2, 3, 9))
        if row["created_at"] is not None:
            assert isinstance(row["created_at"], datetime) and row["created_at"].tzinfo is not None


async def test_the_service_reads_the_seed_000_views(state: tuple[str, str], service: AsyncEngine) -> None:
    rows = await fetch(
        service,
        "SELECT partition_name, partition_id, size_bytes, row_count, dead_rows, size_pretty, "
        "pct_deviation_from_avg, partition_status FROM partition_health ORDER BY partition_id",
    )
    assert [r["partition_name"] for r in rows] == [f"chunks_part_{p:02d}" for p in range(PARTITION_COUNT)]
    temperatures = [HostPartitionStatus(r["partition_status"]) for r in rows]
    assert all(isinstance(float(r["pct_deviation_from_avg"]), float) for r in rows)
    if loaded(state):
        assert temperatures[9] is HostPartitionStatus.HOT and temperatures[50] is HostPartitionStatus.COLD
        assert int(rows[9]["row_count"]) == 630
    else:
        assert set(temperatures) == {HostPartitionStatus.NORMAL}
    (distribution,) = await fetch(
        service,
        "SELECT partitions_used, avg_chunks_per_partition, stddev_chunks, max_chunks, min_chunks, max_skew_ratio, "
        "distribution_status, empty_partitions FROM partition_distribution",
    )
    for column in ("avg_chunks_per_partition", "stddev_chunks", "max_skew_ratio"):
        float(distribution[column])
    HostPartitionHealthStatus(distribution["distribution_status"])
    used = 5 if loaded(state) else 0
    assert (distribution["partitions_used"], distribution["empty_partitions"]) == (used, PARTITION_COUNT - used)


async def test_the_service_reads_distribution_hot_spots_and_collections(
    state: tuple[str, str], service: AsyncEngine
) -> None:
    chunks = await fetch(
        service,
        "SELECT partition_num, chunk_count, document_count, collection_count, avg_tokens, chunk_percentage "
        "FROM partition_chunk_distribution",
    )
    sizes = await fetch(
        service,
        "SELECT partition_num, size_bytes, size_pretty, size_percentage, row_estimate FROM partition_size_distribution",
    )
    hot = await fetch(
        service,
        "SELECT partition_num, chunks_last_hour, chunks_last_day, chunks_last_week, hour_percentage, "
        "day_percentage, week_percentage FROM partition_hot_spots",
    )
    assert len(chunks) == len(sizes) == len(hot) == PARTITION_COUNT
    for r in chunks:
        float(r["avg_tokens"]), float(r["chunk_percentage"])
    for r in sizes:
        float(r["size_percentage"])
    for r in hot:
        float(r["hour_percentage"]), float(r["day_percentage"]), float(r["week_percentage"])
    if loaded(state):
        assert float(hot[9]["hour_percentage"]) == 100.0
        assert (hot[9]["chunks_last_hour"], hot[9]["chunks_last_day"], hot[9]["chunks_last_week"]) == (600, 630, 630)
        assert (chunks[9]["chunk_count"], chunks[9]["collection_count"]) == (630, 2)
    async with service.begin() as conn:
        await conn.execute(text("SELECT refresh_collection_chunking_stats()"))
    collections = await fetch(
        service,
        "SELECT id, name, chunked_documents, total_chunks, avg_tokens_per_chunk, last_chunk_created "
        "FROM collection_chunking_stats",
    )
    for r in collections:
        if r["avg_tokens_per_chunk"] is not None:
            float(r["avg_tokens_per_chunk"])
    assert {r["id"] for r in collections if r["total_chunks"] == 0} == (
        {"empty-collection"} if loaded(state) else set()
    )
