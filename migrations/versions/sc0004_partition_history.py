"""The partition history: one row per partition per snapshot (rows, bytes, dead rows, writes).

Written by the scheduled health check and by ``semantik-chunks snapshot``; read by
``semantik-chunks history`` / ``forecast``. The primary key leads with ``taken_at``, so that a
read of a window and the pruning of old snapshots cost what the window holds, however long the
history. Dropped by the downgrade (with its rows).

Revision ID: sc0004
Revises: sc0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "sc0004"
down_revision = "sc0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE IF NOT EXISTS chunk_partition_history (
            taken_at TIMESTAMPTZ NOT NULL,
            partition_num INTEGER NOT NULL CHECK (partition_num >= 0),
            row_count BIGINT NOT NULL,
            size_bytes BIGINT NOT NULL,
            dead_rows BIGINT NOT NULL DEFAULT 0,
            writes BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (taken_at, partition_num)
        )"""
    )
    op.execute(
        "COMMENT ON TABLE chunk_partition_history IS "
        "'semantik_chunks: per-partition snapshots taken at health checks (pruned after the retention period)'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS chunk_partition_history")
