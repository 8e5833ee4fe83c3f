"""sc0007: the primary key and foreign keys live on each partition, with the same guarantees."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres import migrate
from tests.integration.test_migrations import fetch
from tests.postgres_servers import run_sql

COLLECTION = "c-keys"


def _insert(chunk_id: int, collection: str) -> str:
    return (
        "INSERT INTO chunks (id, collection_id, partition_key, chunk_index, content) "
        f"VALUES ({chunk_id}, '{collection}', {partition_for(collection, 100)}, 0, 'x')"
    )


def test_the_keys_are_on_every_partition_and_none_on_the_parent(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 100)

    on_parent = fetch(
        url, "SELECT conname FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND contype IN ('p', 'u', 'f')"
    )
    assert on_parent == []
    assert fetch(url, "SELECT count(*) FROM pg_index WHERE indrelid = 'chunks'::regclass AND indisunique")[0][0] == 0
    per_partition = fetch(
        url,
        "SELECT c.contype::text, count(DISTINCT c.conrelid), min(pg_get_constraintdef(c.oid)), "
        "max(pg_get_constraintdef(c.oid)) FROM pg_inherits i JOIN pg_constraint c ON c.conrelid = i.inhrelid "
        "WHERE i.inhparent = 'chunks'::regclass AND c.contype IN ('p', 'f') GROUP BY 1 ORDER BY 1",
    )
    assert [tuple(r) for r in per_partition] == [
        (
            "f",
            100,
            "FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE",
            "FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE",
        ),
        ("p", 100, "PRIMARY KEY (id, collection_id, partition_key)", "PRIMARY KEY (id, collection_id, partition_key)"),
    ]


def test_the_guarantees_hold_duplicates_and_unknown_collections_refused_cascade_kept(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    migrate.upgrade(url, 100)
    run_sql(url, f"INSERT INTO collections (id) VALUES ('{COLLECTION}')", _insert(1, COLLECTION))

    with pytest.raises(asyncpg.UniqueViolationError):
        run_sql(url, _insert(1, COLLECTION))
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        run_sql(url, _insert(2, "no-such-collection"))
    run_sql(url, f"DELETE FROM collections WHERE id = '{COLLECTION}'")
    assert fetch(url, "SELECT count(*) FROM chunks")[0][0] == 0


def test_downgrade_puts_the_keys_back_on_the_parent_and_upgrade_again(make_database: Callable[[], str]) -> None:
    url = make_database()
    migrate.upgrade(url, 100)
    run_sql(url, f"INSERT INTO collections (id) VALUES ('{COLLECTION}')", _insert(1, COLLECTION))

    migrate.downgrade(url, "sc0006")
    parent = fetch(
        url,
        "SELECT contype::text FROM pg_constraint "
        "WHERE conrelid = 'chunks'::regclass AND contype IN ('p', 'f') ORDER BY 1",
    )
    assert [r[0] for r in parent] == ["f", "p"]
    assert fetch(url, "SELECT to_regclass('semantik_chunks_partition_keys')")[0][0] is None

    migrate.upgrade(url, 100)
    assert fetch(url, "SELECT count(*) FROM chunks")[0][0] == 1
    with pytest.raises(asyncpg.UniqueViolationError):
        run_sql(url, _insert(1, COLLECTION))
