"""Monitoring objects that know sub-partitioned partitions (isolated collections), and their own view.

``chunk_partition_catalog`` (and so every view on it) now sums the rows and bytes of all the leaves
of a partition, which an isolation (``semantik-chunks isolate``) turns into sub-partitions; the view
``partition_isolated_collections`` lists the isolated collections. The objects are dropped and created
again from ``monitoring_sql``, as sc0003 does.

Revision ID: sc0004
Revises: sc0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from semantik_chunks.adapters.postgres import monitoring_sql

revision = "sc0004"
down_revision = "sc0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)


def downgrade() -> None:
    # sc0003's objects, as the code renders them now (the catalog sums leaves; harmless on plain partitions).
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)
