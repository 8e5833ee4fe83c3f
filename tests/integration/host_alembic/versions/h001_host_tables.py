"""The host's own tables, which the library's chunks refer to.

Revision ID: h001
Revises:
"""

from alembic import op

revision = "h001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE collections (
            id VARCHAR PRIMARY KEY,
            name TEXT NOT NULL,
            owner_id INTEGER NOT NULL DEFAULT 0,
            vector_store_name TEXT NOT NULL DEFAULT 'default'
        )"""
    )
    op.execute("CREATE TABLE chunking_configs (id SERIAL PRIMARY KEY, strategy TEXT NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE chunking_configs")
    op.execute("DROP TABLE collections")
