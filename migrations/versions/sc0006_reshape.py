"""Monitoring objects that know sub-partitioned partitions (isolated collections), and their own view.

``chunk_partition_catalog`` (and so every view on it) now sums the rows and bytes of all the leaves
of a partition, which an isolation (``semantik-chunks isolate``, docs/reshape.md) turns into
sub-partitions; the view ``partition_isolated_collections`` lists the isolated collections. The
monitoring objects are dropped and created again from ``monitoring_sql``; the downgrade puts back
sc0005's (frozen there).

The monitoring DDL is rendered by ``semantik_chunks.adapters.postgres.monitoring_sql`` when this
revision runs (default thresholds). Whoever changes that module next freezes this revision's
rendering into this file first (as was done for sc0003 and sc0005), then ships the change as a new
revision.

Revision ID: sc0006
Revises: sc0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op
from semantik_chunks.migrations.versions import sc0005_host_names

from semantik_chunks.adapters.postgres import monitoring_sql

revision = "sc0006"
down_revision = "sc0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in [*monitoring_sql.drop_statements(), *monitoring_sql.create_statements()]:
        op.execute(statement)


def downgrade() -> None:
    for statement in [*monitoring_sql.drop_statements(), *sc0005_host_names.CREATE_STATEMENTS]:
        op.execute(statement)
