"""What the host's own partition tests read, read the way the host reads it (../shared/host-contract.md).

- index names on a fresh install: ``idx_chunks_part_NN_collection`` (collection_id), ``_created``
  (created_at), ``_chunk_index`` (collection_id, chunk_index), ``_document`` (document_id WHERE NOT NULL);
- ``PartitionManager.get_partition_health()`` selects ``needs_vacuum``, ``last_vacuum`` and
  ``last_autovacuum`` from ``partition_health`` (SQLAlchemy, named columns; the script: asyncpg ``SELECT *``);
- ``PartitionManager.PARTITION_COUNT`` is 100.
An adopted database keeps the host's index names (tests/integration/test_adoption.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime

import asyncpg
import pytest
from sqlalchemy import text

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.services.partition_manager import PartitionManager
from tests.monitoring_data import collection_in, days_ago, insert_chunks, reset_database, wait_for_statistics
from tests.postgres_servers import asyncpg_dsn

HOST_INDEXES = {
    "collection": "(collection_id)",
    "created": "(created_at)",
    "chunk_index": "(collection_id, chunk_index)",
    "document": "(document_id) WHERE (document_id IS NOT NULL)",
}


async def host_index_definitions(url: str, table: str) -> dict[str, str]:
    """The host's test: ``pg_indexes`` of one partition, by index name."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", table)
    finally:
        await conn.close()
    return {r["indexname"]: r["indexdef"] for r in rows}


def check_host_names(url: str, partition_count: int) -> None:
    width = max(2, len(str(partition_count - 1)))
    for p in range(partition_count):
        part = f"chunks_part_{p:0{width}d}"
        found = asyncio.run(host_index_definitions(url, part))
        for suffix, columns in HOST_INDEXES.items():
            name = f"idx_{part}_{suffix}"
            assert name in found, (name, sorted(found))
            assert re.search(rf"ON public\.{part} USING btree {re.escape(columns)}$", found[name]), found[name]


def test_a_fresh_install_names_every_partition_index_as_the_host_does(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 100)
    check_host_names(url, 100)


def test_the_names_follow_the_partition_count_and_the_downgrade_restores_postgres_names(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    migrate.upgrade(url, 12)
    check_host_names(url, 12)
    migrate.downgrade(url, "sc0004")
    names = set(asyncio.run(host_index_definitions(url, "chunks_part_03")))
    assert {"chunks_part_03_collection_id_idx", "chunks_part_03_created_at_idx"} <= names
    assert not any(n.startswith("idx_") for n in names)
    migrate.upgrade(url, 12)
    check_host_names(url, 12)


def test_partition_manager_declares_the_hosts_partition_count() -> None:
    assert PartitionManager.PARTITION_COUNT == 100
    assert PartitionManager().partition_count == PartitionManager.PARTITION_COUNT


async def test_partition_health_serves_the_vacuum_columns(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await reset_database(engine)
    finally:
        await engine.dispose()
    dirty, clean = collection_in(4, "vacuum"), collection_in(5, "vacuum")
    conn = await asyncpg.connect(asyncpg_dsn(pg_url))
    try:
        await insert_chunks(conn, dirty, 200, days_ago(1))
        await insert_chunks(conn, clean, 200, days_ago(1))
        await conn.execute("DELETE FROM chunks WHERE partition_key = 4 AND chunk_index < 100")
        # This session's counts reach shared memory before VACUUM sets the partition's (else they add up twice).
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("VACUUM chunks_part_05")
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await wait_for_statistics(conn)  # a condition, not a guess; autovacuum is off (reset_database)
        # The operator script: SELECT *, by key.
        rows = {r["partition_id"]: r for r in await conn.fetch("SELECT * FROM partition_health")}
    finally:
        await conn.close()
    assert (rows[4]["row_count"], rows[4]["dead_rows"], rows[4]["needs_vacuum"]) == (100, 100, True)
    assert (rows[5]["row_count"], rows[5]["dead_rows"], rows[5]["needs_vacuum"]) == (200, 0, False)
    assert isinstance(rows[5]["last_vacuum"], datetime) and rows[5]["last_vacuum"].tzinfo is not None
    assert rows[4]["last_vacuum"] is None
    assert all(r["needs_vacuum"] is False for p, r in rows.items() if p not in (4,))

    # The host's PartitionManager.get_partition_health(): SQLAlchemy, the columns by name.
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as sa:
            found = (
                (
                    await sa.execute(
                        text(
                            "SELECT partition_name, partition_id, size_bytes, row_count, dead_rows, last_vacuum, "
                            "last_autovacuum, size_pretty, pct_deviation_from_avg, partition_status, needs_vacuum "
                            "FROM partition_health ORDER BY partition_id"
                        )
                    )
                )
                .mappings()
                .all()
            )
    finally:
        await engine.dispose()
    assert len(found) == 100
    four = found[4]
    assert (four["partition_name"], four["needs_vacuum"], four["last_autovacuum"]) == ("chunks_part_04", True, None)
    assert float(four["pct_deviation_from_avg"]) == pytest.approx(100.0 * (100 * 100 - 300) / 300)
