"""Alembic environment of semantik-chunks when it runs its own history (``semantik-chunks migrate``).

A host that includes these revisions in its own history uses its own env.py; the
revisions need nothing from this file.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

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


if context.is_offline_mode():
    raise SystemExit("semantik-chunks migrations inspect the database (existing chunks tables); run them online")
given = config.attributes.get("connection")
if given is not None:
    run_with(given)
else:
    asyncio.run(run_online())
