"""Alembic environment of semantik-chunks when it runs its own history (``semantik-chunks migrate``).

A host that includes these revisions in its own history uses its own env.py; the
revisions need nothing from this file.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url

from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.schema import VERSION_TABLE

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, version_table=VERSION_TABLE, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    # A libpq URL (``postgresql://...?sslmode=require``), translated like every other connection's.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """``--sql``: the DDL each revision emits on a fresh database (no host tables, no legacy chunks table),
    as ``tests/unit/test_migration_golden.py`` pins it. Run against a real database, the revisions look
    at what is there first; this is their plain path."""
    # The asyncpg dialect renders as an online run executes: ``%`` stays ``%`` (psycopg2's would double it).
    context.configure(
        url=make_url(config.get_main_option("sqlalchemy.url") or "postgresql://").set(drivername="postgresql+asyncpg"),
        dialect_name="postgresql",
        literal_binds=True,
        version_table=VERSION_TABLE,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if context.is_offline_mode():
    run_offline()
elif given is not None:
    run_with(given)
else:
    asyncio.run(run_online())
