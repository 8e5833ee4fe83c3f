"""The library's migrations on a real PostgreSQL: create, downgrade, re-create, legacy conversion, host inclusion."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.engine import async_url
from tests.postgres_servers import asyncpg_dsn, run_sql

HOST_ALEMBIC = Path(__file__).parent / "host_alembic"
CHECKSUM = """
    SELECT count(*), md5(string_agg(
        concat_ws('|', id, collection_id, document_id, chunk_index, content, token_count, metadata::text, created_at),
        ',' ORDER BY id))
    FROM chunks
"""


def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def library_heads() -> tuple[str, ...]:
    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused/db"))
    return tuple(script.get_heads())


def partitions(url: str) -> list[tuple[str, str]]:
    rows = fetch(
        url,
        """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'chunks'::regclass ORDER BY c.relname""",
    )
    return [(r[0], r[1]) for r in rows]


def test_upgrade_creates_the_partitions_the_functions_and_the_check(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 100)

    parts = partitions(url)
    assert len(parts) == 100
    assert parts[0] == ("chunks_part_00", "FOR VALUES IN (0)")
    assert parts[99] == ("chunks_part_99", "FOR VALUES IN (99)")
    collection = "550e8400-e29b-41d4-a716-446655440000"
    row = fetch(
        url,
        "SELECT get_partition_key($1), get_partition_for_collection($1), get_partition_for_collection($1::uuid), "
        "get_partition_key('cfa914a40'), chunk_partition_count()",
        collection,
    )[0]
    assert tuple(row) == (
        partition_for(collection),
        f"chunks_part_{partition_for(collection):02d}",
        f"chunks_part_{partition_for(collection):02d}",
        partition_for("cfa914a40"),
        100,
    )
    volatility = fetch(
        url,
        "SELECT DISTINCT provolatile::text, proparallel::text FROM pg_proc "
        "WHERE proname IN ('get_partition_key', 'get_partition_for_collection')",
    )
    assert [tuple(r) for r in volatility] == [("i", "s")]

    run_sql(url, f"INSERT INTO collections (id, name) VALUES ('{collection}', 'c')")
    right = partition_for(collection)
    run_sql(
        url,
        f"INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
        f"VALUES ('{collection}', {right}, 0, 'ok')",
    )
    with pytest.raises(asyncpg.CheckViolationError, match="chunks_partition_key_matches_collection"):
        run_sql(
            url,
            f"INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
            f"VALUES ('{collection}', {(right + 1) % 100}, 1, 'wrong')",
        )


def test_partition_count_is_configurable(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 7)
    assert [name for name, _ in partitions(url)] == [f"chunks_part_{i:02d}" for i in range(7)]
    assert fetch(url, "SELECT get_partition_key('x'), chunk_partition_count()")[0] == (partition_for("x", 7), 7)


def test_downgrade_removes_everything_and_upgrade_works_again(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 100)
    migrate.downgrade(url, "base")

    leftovers = fetch(
        url,
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relname NOT LIKE 'semantik_chunks_alembic_version%'
           UNION ALL
           SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'""",
    )
    assert leftovers == []
    assert migrate.current(url) == ()

    migrate.upgrade(url, 100)
    assert len(partitions(url)) == 100
    assert migrate.current(url) == library_heads()


def test_a_host_collections_table_is_kept_on_downgrade(make_database: Callable[[], str]) -> None:
    url = make_database()
    run_sql(url, "CREATE TABLE collections (id VARCHAR PRIMARY KEY, name TEXT NOT NULL, owner_id INT NOT NULL)")
    migrate.upgrade(url, 100)
    migrate.downgrade(url, "base")
    assert fetch(url, "SELECT to_regclass('collections') IS NOT NULL")[0][0] is True


def _legacy_hash_table(url: str, rows: int) -> None:
    statements = [
        "CREATE TABLE collections (id VARCHAR PRIMARY KEY, name TEXT)",
        """CREATE TABLE chunks (
            id BIGSERIAL, collection_id VARCHAR NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            document_id VARCHAR, chunk_index INTEGER NOT NULL, content TEXT NOT NULL, token_count INTEGER,
            metadata JSONB DEFAULT '{}', created_at TIMESTAMPTZ DEFAULT now(), updated_at TIMESTAMPTZ DEFAULT now(),
            PRIMARY KEY (id, collection_id)
        ) PARTITION BY HASH (collection_id)""",
        *[
            f"CREATE TABLE chunks_part_{i} PARTITION OF chunks FOR VALUES WITH (MODULUS 16, REMAINDER {i})"
            for i in range(16)
        ],
        "CREATE INDEX ON chunks (collection_id)",
        "INSERT INTO collections SELECT 'col-' || g, 'collection ' || g FROM generate_series(1, 40) g",
        f"""INSERT INTO chunks (collection_id, document_id, chunk_index, content, token_count, metadata, created_at)
            SELECT 'col-' || (g % 40 + 1), 'doc-' || (g % 97), g, 'chunk ' || g || ' ünïcødé 🦊', g % 300,
                   jsonb_build_object('n', g), now() - g * interval '1 second'
            FROM generate_series(1, {rows}) g""",
    ]
    run_sql(url, *statements)


def test_a_16_hash_partition_table_is_converted_keeping_every_row(make_database: Callable[[], str]) -> None:
    url = make_database()
    _legacy_hash_table(url, 5000)
    before = tuple(fetch(url, CHECKSUM)[0])

    migrate.upgrade(url, 100)

    assert tuple(fetch(url, CHECKSUM)[0]) == before
    assert len(partitions(url)) == 100
    misplaced = fetch(url, "SELECT count(*) FROM chunks WHERE partition_key <> abs(hashtext(collection_id) % 100)")
    assert misplaced[0][0] == 0
    assert fetch(url, "SELECT to_regclass('chunks_legacy')")[0][0] is None
    run_sql(
        url,
        f"INSERT INTO chunks (collection_id, partition_key, chunk_index, content) "
        f"VALUES ('col-1', {partition_for('col-1')}, 0, 'new')",
    )
    assert fetch(url, "SELECT max(id) FROM chunks")[0][0] == 5001


def test_a_legacy_table_with_mixed_case_partition_names_is_converted(make_database: Callable[[], str]) -> None:
    """``regclass::text`` quotes a mixed-case name already ("Chunks_Part_07"); the conversion uses it as it is."""
    url = make_database()
    run_sql(
        url,
        "CREATE TABLE collections (id VARCHAR PRIMARY KEY, name TEXT)",
        """CREATE TABLE chunks (
            id BIGSERIAL, collection_id VARCHAR NOT NULL REFERENCES collections (id), document_id VARCHAR,
            chunk_index INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY (id, collection_id)
        ) PARTITION BY HASH (collection_id)""",
        *[
            f'CREATE TABLE "Chunks_Part_{i:02d}" PARTITION OF chunks FOR VALUES WITH (MODULUS 8, REMAINDER {i})'
            for i in range(8)
        ],
        "INSERT INTO collections SELECT 'col-' || g, 'collection ' || g FROM generate_series(1, 20) g",
        """INSERT INTO chunks (collection_id, document_id, chunk_index, content)
           SELECT 'col-' || (g % 20 + 1), 'doc-' || (g % 31), g, 'chunk ' || g FROM generate_series(1, 500) g""",
    )
    assert ("Chunks_Part_07",) in {tuple(r) for r in fetch(url, "SELECT relname FROM pg_class WHERE relkind = 'r'")}
    before = tuple(
        fetch(
            url,
            "SELECT count(*), md5(string_agg(concat_ws('|', id, collection_id, content), ',' ORDER BY id)) FROM chunks",
        )[0]
    )

    migrate.upgrade(url, 100)

    after = fetch(
        url, "SELECT count(*), md5(string_agg(concat_ws('|', id, collection_id, content), ',' ORDER BY id)) FROM chunks"
    )
    assert tuple(after[0]) == before
    assert len(partitions(url)) == 100
    assert (
        fetch(url, "SELECT count(*) FROM pg_class WHERE relname ILIKE 'chunks_part_0_' AND relname <> lower(relname)")[
            0
        ][0]
        == 0
    )
    assert fetch(url, "SELECT to_regclass('chunks_legacy')")[0][0] is None


def test_the_legacy_columns_are_those_of_the_legacy_table_only(make_database: Callable[[], str]) -> None:
    """A ``chunks_legacy`` in another schema, with columns the old table lacks, is not read."""
    url = make_database()
    run_sql(
        url,
        "CREATE TABLE collections (id VARCHAR PRIMARY KEY, name TEXT)",
        """CREATE TABLE chunks (id BIGSERIAL PRIMARY KEY, collection_id VARCHAR NOT NULL REFERENCES collections (id),
                                chunk_index INTEGER NOT NULL, content TEXT NOT NULL)""",
        "CREATE SCHEMA archive",
        "CREATE TABLE archive.chunks_legacy (id BIGINT, token_count INTEGER, metadata JSONB, document_id VARCHAR)",
        "INSERT INTO collections VALUES ('c1', 'one'), ('c2', 'two')",
        "INSERT INTO chunks (collection_id, chunk_index, content) "
        "SELECT 'c' || (g % 2 + 1), g, 'x' FROM generate_series(1, 50) g",
    )

    migrate.upgrade(url, 100)

    rows = fetch(url, "SELECT count(*), count(token_count), count(document_id) FROM chunks")
    assert tuple(rows[0]) == (50, 0, 0)
    assert fetch(url, "SELECT to_regclass('archive.chunks_legacy') IS NOT NULL")[0][0] is True


def host_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HOST_ALEMBIC))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def test_a_host_alembic_history_includes_the_library(make_database: Callable[[], str]) -> None:
    url = make_database()
    command.upgrade(host_config(url), "head")

    assert fetch(url, "SELECT version_num FROM alembic_version")[0][0] == "h002"
    assert migrate.current(url) == library_heads()  # the library's own version table sits beside the host's
    assert len(partitions(url)) == 100
    columns = {
        r[0] for r in fetch(url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'collections'")
    }
    assert {"owner_id", "vector_store_name"} <= columns  # the host's table, untouched
    foreign = {
        r[0]
        for r in fetch(
            url,
            "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND contype = 'f'",
        )
    }
    assert foreign == {"collections", "chunking_configs"}

    command.downgrade(host_config(url), "h001")
    assert fetch(url, "SELECT to_regclass('chunks'), to_regclass('collections') IS NOT NULL")[0] == (None, True)
    command.upgrade(host_config(url), "head")
    assert len(partitions(url)) == 100
