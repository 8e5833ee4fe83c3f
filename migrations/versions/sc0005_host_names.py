"""What the host's own partition tests read: ``partition_health``'s vacuum columns, the per-partition index names.

- ``partition_health`` gains ``last_vacuum`` and ``last_autovacuum`` (from ``pg_stat_user_tables``) and
  ``needs_vacuum`` (``dead_rows > row_count * 0.1``), as the host's seed 000 defines them: the
  monitoring objects are dropped and created again from ``monitoring_sql``.
- Every partition's copies of the four parent indexes (``ix_chunks_*``, which PostgreSQL names
  ``chunks_part_NN_<columns>_idx``) are renamed to the host's names ``idx_chunks_part_NN_collection``,
  ``_created``, ``_chunk_index`` and ``_document``. A name already right (an adopted table keeps the
  host's) or taken by another index is left alone. A renamed index's comment records its old name,
  which the downgrade puts back.

The monitoring DDL is rendered by ``semantik_chunks.adapters.postgres.monitoring_sql`` when this
revision runs (default thresholds). Whoever changes that module next freezes this revision's
rendering into this file first (as was done for sc0003), then ships the change as a new revision.

Revision ID: sc0005
Revises: sc0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op
from semantik_chunks.migrations.versions import sc0003_monitoring

from semantik_chunks.adapters.postgres import monitoring_sql

revision = "sc0005"
down_revision = "sc0004"
branch_labels = None
depends_on = None

RENAMED_MARK = "semantik_chunks: renamed from "

RENAME_PARTITION_INDEXES = f"""
DO $$
DECLARE
    found record;
    target text;
BEGIN
    FOR found IN
        SELECT child.oid AS index_oid, child.relname AS index_name, tbl.relname AS table_name, m.suffix
        FROM (VALUES ('ix_chunks_collection_id', 'collection'),
                     ('ix_chunks_created_at', 'created'),
                     ('ix_chunks_collection_chunk_index', 'chunk_index'),
                     ('ix_chunks_document_id', 'document')) AS m(parent, suffix)
        JOIN pg_inherits AS i ON i.inhparent = to_regclass(m.parent)
        JOIN pg_class AS child ON child.oid = i.inhrelid
        JOIN pg_index AS x ON x.indexrelid = child.oid
        JOIN pg_class AS tbl ON tbl.oid = x.indrelid
        ORDER BY tbl.relname, m.suffix
    LOOP
        target := 'idx_' || found.table_name || '_' || found.suffix;
        IF found.index_name <> target AND length(target) <= 63
           AND NOT EXISTS (SELECT 1 FROM pg_class AS c JOIN pg_class AS me ON me.oid = found.index_oid
                           WHERE c.relname = target AND c.relnamespace = me.relnamespace) THEN
            EXECUTE format('ALTER INDEX %s RENAME TO %I', found.index_oid::regclass, target);
            EXECUTE format('COMMENT ON INDEX %s IS %L', found.index_oid::regclass,
                           '{RENAMED_MARK}' || found.index_name);
        END IF;
    END LOOP;
END
$$
"""

RESTORE_PARTITION_INDEX_NAMES = f"""
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT d.objoid AS index_oid, substr(d.description, length('{RENAMED_MARK}') + 1) AS old_name
        FROM pg_description AS d JOIN pg_class AS c ON c.oid = d.objoid
        WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0 AND c.relkind = 'i'
          AND d.description LIKE '{RENAMED_MARK}%'
    LOOP
        EXECUTE format('COMMENT ON INDEX %s IS NULL', found.index_oid::regclass);
        EXECUTE format('ALTER INDEX %s RENAME TO %I', found.index_oid::regclass, found.old_name);
    END LOOP;
END
$$
"""


def upgrade() -> None:
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)
    op.execute(RENAME_PARTITION_INDEXES)


def downgrade() -> None:
    op.execute(RESTORE_PARTITION_INDEX_NAMES)
    for statement in [*monitoring_sql.drop_statements(), *sc0003_monitoring.CREATE_STATEMENTS]:
        op.execute(statement)
