"""Include the semantik-chunks schema at this point of the host's history (docs/migrations.md).

Revision ID: h002
Revises: h001
"""

from alembic import op

from semantik_chunks.adapters.postgres import migrate

revision = "h002"
down_revision = "h001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrate.upgrade_on_connection(op.get_bind(), partition_count=100)


def downgrade() -> None:
    migrate.downgrade_on_connection(op.get_bind(), "base")
