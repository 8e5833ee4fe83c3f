"""The server agrees with the Python routing: hashtext, abs(hashtext(x) % N), get_partition_key and the CHECK.

Hypothesis draws batches of strings (arbitrary unicode with multibyte and astral characters,
strings whose UTF-8 length sits on and around the 12-byte blocks hashtext reads, UUIDs);
each batch is compared in one query. The run is derandomized, so it is repeatable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semantik_chunks import hashtext, partition_for
from semantik_chunks.adapters.postgres.schema import PARTITION_CHECK
from tests.postgres_servers import asyncpg_dsn

PARTITIONS = 100
BATCH = 150
BATCHES = 16  # 2,400 strings per run

# Everything PostgreSQL text can hold: no NUL, no lone surrogates.
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
multibyte = st.characters(min_codepoint=0x80, exclude_categories=("Cs",))
astral = st.characters(min_codepoint=0x10000, exclude_categories=("Cs",))


@st.composite
def around_blocks(draw: st.DrawFn) -> str:
    """A string of exactly 12k-1, 12k or 12k+1 UTF-8 bytes (0..300): where hashtext's block loop turns."""
    size = min(300, max(0, 12 * draw(st.integers(0, 25)) + draw(st.sampled_from((-1, 0, 1)))))
    chars = draw(st.text(st.one_of(storable, multibyte, astral), max_size=size))
    kept, used = [], 0
    for char in chars:
        width = len(char.encode())
        if used + width > size:
            break
        kept.append(char)
        used += width
    return "".join(kept) + "x" * (size - used)


collection_ids = st.one_of(
    st.text(storable, max_size=300),
    st.text(st.one_of(multibyte, astral), max_size=100),
    around_blocks(),
    st.uuids().map(str),
)


@contextmanager
def server_connection(url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Any]]:
    """A plain asyncpg connection on a loop of its own: hypothesis drives this test synchronously."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(asyncpg_dsn(url)))
    try:
        yield loop, conn
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


async def compare_with_server(conn: Any, batch: list[str]) -> None:
    rows = await conn.fetch(
        "SELECT x, hashtext(x), abs(hashtext(x) % $2), get_partition_key(x) FROM unnest($1::text[]) AS x",
        batch,
        PARTITIONS,
    )
    assert [row[0] for row in rows] == batch
    for value, server_hash, server_partition, server_key in rows:
        expected = partition_for(value, PARTITIONS)
        assert (hashtext(value), expected, expected) == (server_hash, server_partition, server_key), value

    # Rows carrying our key pass the CHECK; the transaction is rolled back, so nothing stays.
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(
            "INSERT INTO collections (id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING", batch
        )
        inserted = await conn.execute(
            "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
            "SELECT x, k, 0, '' FROM unnest($1::text[], $2::int[]) AS t(x, k)",
            batch,
            [partition_for(value, PARTITIONS) for value in batch],
        )
        assert inserted == f"INSERT 0 {len(batch)}"
        for value in batch[:3]:  # and a wrong key is rejected by the CHECK
            wrong = (partition_for(value, PARTITIONS) + 1) % PARTITIONS
            with pytest.raises(asyncpg.CheckViolationError) as rejected:
                async with conn.transaction():  # a savepoint, so the outer transaction goes on
                    await conn.execute(
                        "INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
                        "VALUES ($1, $2, 0, '')",
                        value,
                        wrong,
                    )
            assert rejected.value.constraint_name == PARTITION_CHECK
    finally:
        await transaction.rollback()


def test_server_routing_agrees_with_python(pg_url: str) -> None:
    compared: list[str] = []
    with server_connection(pg_url) as (loop, conn):

        @settings(
            max_examples=BATCHES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        )
        @given(st.lists(collection_ids, min_size=BATCH, max_size=BATCH))
        def agrees(batch: list[str]) -> None:
            loop.run_until_complete(compare_with_server(conn, batch))
            compared.extend(batch)

        agrees()

    assert len(compared) >= 2000
    byte_lengths = {len(value.encode()) for value in compared}
    assert {11, 12, 13, 23, 24, 25} <= byte_lengths  # the block boundaries were exercised
    assert any(max(map(ord, value), default=0) >= 0x10000 for value in compared)  # astral characters too
