"""The collections table chunks refer to, when the host does not already have one.

Revision ID: sc0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from semantik_chunks.migrations._common import table_comment, table_exists

from semantik_chunks.adapters.postgres import schema

revision = "sc0001"
down_revision = None
branch_labels = ("semantik_chunks",)
depends_on = None


def upgrade() -> None:
    if table_exists(op.get_bind(), "collections"):
        return  # the host's table: it stays the host's
    for statement in schema.create_collections_table():
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if table_exists(bind, "collections") and table_comment(bind, "collections") == schema.OWNED_MARK:
        op.execute("DROP TABLE collections")
