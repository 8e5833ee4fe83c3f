"""The chunks table: LIST-partitioned on partition_key = abs(hashtext(collection_id) % N).

Three starting points:
- no chunks table: create it;
- seed 000's predecessor, a chunks table of 16 HASH partitions (or an unpartitioned one):
  create the new table and copy every row into it, then drop the old one;
- the host's own LIST table (partitioned on partition_key, rows placed by its trigger): adopt it
  (see semantik_chunks.adapters.postgres.takeover).

Revision ID: sc0002
Revises: sc0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from semantik_chunks.migrations._common import (
    configured_partition_count,
    partitioning_of,
    table_comment,
    table_exists,
)
from sqlalchemy import text

from semantik_chunks.adapters.postgres import schema

revision = "sc0002"
down_revision = "sc0001"
branch_labels = None
depends_on = None

LEGACY = "chunks_legacy"


def _create(partition_count: int) -> None:
    bind = op.get_bind()
    for statement in schema.create_chunks_table(
        partition_count, with_chunking_config_fk=table_exists(bind, "chunking_configs")
    ):
        op.execute(statement)


def _convert_legacy(partition_count: int) -> None:
    """Move a HASH-partitioned (or plain) chunks table's rows into the new table, keeping every row.

    The old table is followed by its oid, not by name: a ``chunks_legacy`` elsewhere on the search path
    (or its columns, in another schema) is never read, and names come from ``regclass``, quoted as needed."""
    bind = op.get_bind()
    legacy_oid = bind.execute(text("SELECT to_regclass('chunks')::oid")).scalar_one()
    op.execute(f"ALTER TABLE chunks RENAME TO {LEGACY}")
    legacy = bind.execute(text("SELECT CAST(:oid AS oid)::regclass::text"), {"oid": legacy_oid}).scalar_one()
    # regclass::text is already an identifier as SQL needs it (quoted when mixed-case, schema-qualified
    # when not on the search path): it is used as it is.
    children = bind.execute(
        text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:oid AS oid) ORDER BY 1"),
        {"oid": legacy_oid},
    ).scalars()
    # The old partitions' names (chunks_part_0 .. 15) would clash with the new ones.
    for i, child in enumerate(list(children)):
        op.execute(f"ALTER TABLE {child} RENAME TO {LEGACY}_p{i}")
    _create(partition_count)
    new_columns = set(schema.CHUNK_COLUMNS) - {"partition_key"}
    old_columns = set(
        bind.execute(
            text(
                "SELECT attname FROM pg_attribute "
                "WHERE attrelid = CAST(:oid AS oid) AND attnum > 0 AND NOT attisdropped"
            ),
            {"oid": legacy_oid},
        ).scalars()
    )
    shared = [c for c in schema.CHUNK_COLUMNS if c in new_columns & old_columns]
    column_list = ", ".join(shared)
    moved = bind.execute(
        text(
            f"INSERT INTO chunks ({column_list}, partition_key) "
            f"SELECT {column_list}, {schema.partition_key_expression('collection_id', partition_count)} "
            f"FROM {legacy}"
        )
    ).rowcount
    kept = bind.execute(text(f"SELECT count(*) FROM {legacy}")).scalar_one()
    if moved != kept:
        raise RuntimeError(f"copied {moved} of {kept} legacy chunks; nothing was changed")
    if "id" in shared:
        op.execute("SELECT setval(pg_get_serial_sequence('chunks', 'id'), coalesce(max(id), 0) + 1, false) FROM chunks")
    op.execute(f"DROP TABLE {legacy} CASCADE")


def upgrade() -> None:
    bind = op.get_bind()
    partition_count = configured_partition_count()
    for statement in schema.create_routing_functions(partition_count):
        op.execute(statement)
    if not table_exists(bind, "chunks"):
        _create(partition_count)
        return
    partitioning = partitioning_of(bind, "chunks")
    if partitioning == ("list", ("partition_key",)):
        from semantik_chunks.adapters.postgres import takeover

        takeover.adopt_host_table(bind, partition_count)
        return
    _convert_legacy(partition_count)


def downgrade() -> None:
    bind = op.get_bind()
    if table_exists(bind, "chunks"):
        if table_comment(bind, "chunks") == schema.ADOPTED_MARK:
            from semantik_chunks.adapters.postgres import takeover

            takeover.release_host_table(bind)
        else:
            op.execute("DROP TABLE chunks")
    for statement in schema.DROP_ROUTING_FUNCTIONS:
        op.execute(statement)
