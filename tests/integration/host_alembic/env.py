"""A minimal host application's Alembic environment: its own history, its own version table, its own
models for autogenerate, and the library's ``include_object`` so that autogenerate leaves the library's
schema alone (``config.attributes["include_library"] = True`` shows what happens without it)."""

import asyncio
import sys
from pathlib import Path

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from semantik_chunks.alembic import include_object

sys.path.insert(0, str(Path(__file__).parent))
from models import Base

config = context.config


def run_with(connection: Connection) -> None:
    library_too = config.attributes.get("include_library", False)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=None if library_too else include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


asyncio.run(main())
