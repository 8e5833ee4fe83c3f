"""What the revisions share: where the partition count comes from, and what is already there."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.domain.hashing import parse_partition_count


def configured_partition_count() -> int:
    """``semantik-chunks migrate`` passes it; a host's history gives ``-x partition_count=N`` or
    ``CHUNK_PARTITION_COUNT``; the default is 100."""
    given = context.config.attributes.get("partition_count")
    if given is not None:
        return parse_partition_count(given)
    x_args = context.get_x_argument(as_dictionary=True)
    return parse_partition_count(x_args.get("partition_count") or os.environ.get("CHUNK_PARTITION_COUNT"))


def table_exists(bind: Connection, name: str) -> bool:
    """Whether ``name`` is there; offline (``--sql``) the database is taken as fresh: nothing is."""
    if context.is_offline_mode():
        return False
    return bind.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one() is True


def table_comment(bind: Connection, name: str) -> str | None:
    if context.is_offline_mode():
        return None
    return bind.execute(
        text("SELECT obj_description(to_regclass(:name), 'pg_class')"), {"name": name}
    ).scalar_one_or_none()


def partitioning_of(bind: Connection, table: str) -> tuple[str, tuple[str, ...]] | None:
    """``("hash" | "list" | "range", key columns)`` of a partitioned table, None when not partitioned."""
    if context.is_offline_mode():
        return None
    row = bind.execute(
        text(
            """
            SELECT p.partstrat::text,
                   ARRAY(SELECT a.attname FROM unnest(p.partattrs) AS k(attnum)
                         JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum)
            FROM pg_partitioned_table p
            WHERE p.partrelid = to_regclass(:table)
            """
        ),
        {"table": table},
    ).one_or_none()
    if row is None:
        return None
    strategy = {"h": "hash", "l": "list", "r": "range"}[row[0]]
    return strategy, tuple(row[1])
