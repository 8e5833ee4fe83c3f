"""Apply the library's Alembic migrations programmatically (``semantik-chunks migrate`` and tests).

Standalone, the library keeps its own version table (``semantik_chunks_alembic_version``)
so it never clashes with a host's ``alembic_version``. A host that prefers one history
includes ``migrations/versions`` in its ``version_locations`` instead (docs/migrations.md).
"""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from semantik_chunks.adapters.postgres.engine import async_url
from semantik_chunks.adapters.postgres.schema import VERSION_TABLE
from semantik_chunks.domain.hashing import validate_partition_count

BRANCH = "semantik_chunks"


def migrations_dir() -> Path:
    return Path(str(files("semantik_chunks.migrations")))


def alembic_config(url: str, partition_count: int = 100) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("version_locations", str(migrations_dir() / "versions"))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    config.attributes["partition_count"] = validate_partition_count(partition_count)
    return config


def upgrade(url: str, partition_count: int = 100, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; from async code use ``upgrade_async``)."""
    command.upgrade(alembic_config(url, partition_count), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, partition_count: int = 100, revision: str = "heads") -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, url, partition_count, revision)


async def current_async(url: str) -> tuple[str, ...]:
    """The library's revisions applied to the database at ``url`` (empty when none)."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(
                    sync_conn, opts={"version_table": VERSION_TABLE}
                ).get_current_heads()
            )
    finally:
        await engine.dispose()


def current(url: str) -> tuple[str, ...]:
    return asyncio.run(current_async(url))
