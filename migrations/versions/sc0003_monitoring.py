"""Monitoring views and functions of seeds 000 and 002, reading statistics rather than rows.

Views partition_health, partition_distribution, partition_size_distribution,
partition_chunk_distribution, partition_hot_spots, partition_stats, partition_health_summary
(and chunk_partition_catalog under them); materialized view collection_chunking_stats;
functions analyze_partition_skew(), refresh_collection_chunking_stats() and the helper
chunks_written_since(interval). Same-named objects a host already has are replaced.
Thresholds come from the domain's defaults.

The DDL is rendered by ``semantik_chunks.adapters.postgres.monitoring_sql`` when the revision
runs; a later change to it ships as a new revision that drops and recreates the objects
(``monitoring_sql.drop_statements()`` then ``create_statements()``).

Revision ID: sc0003
Revises: sc0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from semantik_chunks.adapters.postgres import monitoring_sql

revision = "sc0003"
down_revision = "sc0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)


def downgrade() -> None:
    for statement in monitoring_sql.drop_statements():
        op.execute(statement)
