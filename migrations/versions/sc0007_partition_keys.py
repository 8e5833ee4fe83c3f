"""The chunks table's primary key and foreign keys move from the parent to each partition.

A foreign table (a partition on another server, postgres_fdw) can be attached to ``chunks`` only when
the parent has no unique index and no foreign key. The keys keep their definitions, declared on every
partition (``adapters/postgres/local_keys.py`` says why the guarantees stay). Existing rows are checked
again as each partition gets its keys; on a large table this rebuilds every partition's key index, in
this one transaction. It also creates the bookkeeping of partition moves (``placement_sql``: the moves
under way, the keys written during a copy, and the collection checks of partitions on other servers),
and renders the monitoring objects again from ``monitoring_sql``: they read a partition on another
server from that server's own statistics, and never through the foreign table (a server that is down
must not make them fail). Whoever changes ``monitoring_sql`` next freezes this revision's rendering
into this file first (as sc0005's and sc0006's were), then ships the change as a new revision.

Downgrade puts the keys back on the parent; it refuses while a partition is a foreign table.

Revision ID: sc0007
Revises: sc0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import context, op
from semantik_chunks.migrations._common import configured_partition_count
from semantik_chunks.migrations.versions import sc0006_reshape
from sqlalchemy import text

from semantik_chunks.adapters.postgres import local_keys, monitoring_sql, placement_sql
from semantik_chunks.domain.hashing import partition_table_name

revision = "sc0007"
down_revision = "sc0006"
branch_labels = None
depends_on = None


# Offline (``--sql``) the database is taken as fresh: the library's own keys (sc0002) on every partition.
_FRESH_KEYS = (
    ("chunks_pkey", "p", "PRIMARY KEY (id, collection_id, partition_key)"),
    ("chunks_collection_id_fkey", "f", "FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE"),
)


def _fresh_partitions() -> list[str]:
    count = configured_partition_count()
    return [partition_table_name(n, count) for n in range(count)]


def upgrade() -> None:
    bind = op.get_bind()
    if context.is_offline_mode():
        parent_keys, partitions = list(_FRESH_KEYS), _fresh_partitions()
    else:
        parent_keys = [(r[0], r[1], r[2]) for r in bind.execute(text(local_keys.PARENT_KEYS))]
        partitions = list(bind.execute(text(local_keys.LOCAL_PARTITIONS)).scalars())
    for statement in local_keys.move_to_partitions_statements(parent_keys, partitions):
        op.execute(statement)
    for statement in placement_sql.CREATE_STATEMENTS:
        op.execute(statement)
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if context.is_offline_mode():
        _downgrade(
            [(local_keys.suffix_of(name, kind), kind, definition) for name, kind, definition in _FRESH_KEYS],
            _fresh_partitions(),
        )
        return
    foreign = len(bind.execute(text(local_keys.FOREIGN_PARTITIONS)).all())
    if foreign:
        raise RuntimeError(
            f"{foreign} partitions of chunks are on other servers: move them home first "
            "(semantik-chunks place PARTITION --home)"
        )
    stored = [(r[0], r[1], r[2]) for r in bind.execute(text(local_keys.STORED_KEYS))]
    partitions = list(bind.execute(text(local_keys.LOCAL_PARTITIONS)).scalars())
    _downgrade(stored, partitions)


def _downgrade(stored: list[tuple[str, str, str]], partitions: list[str]) -> None:
    for statement in [*monitoring_sql.drop_statements(), *sc0006_reshape.CREATE_STATEMENTS]:
        op.execute(statement)
    for statement in placement_sql.DROP_STATEMENTS:
        op.execute(statement)
    for statement in local_keys.move_to_parent_statements(stored, partitions):
        op.execute(statement)
