"""Apply the library's Alembic migrations programmatically (``semantik-chunks migrate`` and tests).

The library keeps its own version table (``semantik_chunks_alembic_version``) so it never
clashes with a host's ``alembic_version``. A host runs it from a revision of its own history
with ``upgrade_on_connection(op.get_bind())``, which places the library's schema exactly where
the host wants it in its chain (docs/migrations.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import alembic.context
import alembic.op
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.schema import VERSION_TABLE
from semantik_chunks.adapters.postgres.urls import check_url
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.schema import BASE, HEAD, SchemaRevision

BRANCH = "semantik_chunks"


def migrations_dir() -> Path:
    return Path(str(files("semantik_chunks.migrations")))


def alembic_config(url: str, partition_count: int = 100) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("version_locations", str(migrations_dir() / "versions"))
    config.set_main_option("path_separator", "os")
    check_url(url)  # a bad parameter is refused here, in one line, not inside Alembic's run
    # The libpq URL as given: env.py makes its engine with ``engine.create_engine``, which translates it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["partition_count"] = validate_partition_count(partition_count)
    return config


def upgrade(url: str, partition_count: int = 100, revision: str = "heads", *, move_rows: bool = True) -> None:
    """Bring the database at ``url`` to ``revision`` (blocking; from async code use ``upgrade_async``).

    Adopting a host's table moves its misplaced rows inside the migration unless ``move_rows`` is
    False; the caller then runs ``adoption.move_misplaced_rows`` itself (with its own progress)."""
    config = alembic_config(url, partition_count)
    config.attributes["move_rows"] = move_rows
    command.upgrade(config, revision)


def downgrade(url: str, revision: str) -> None:
    """Back to ``revision``; ``base`` removes everything of the library's, its version table too."""
    asyncio.run(_on_new_connection(url, lambda connection: downgrade_on_connection(connection, revision)))


async def _on_new_connection(url: str, work: Callable[[Connection], None]) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(work)
    finally:
        await engine.dispose()


def drop_version_table(connection: Connection) -> None:
    """Alembic leaves an empty version table behind at ``base``; the library leaves nothing."""
    connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


def revision_order() -> list[str]:
    """The library's revisions, oldest first (one line of history)."""
    script = ScriptDirectory(str(migrations_dir()), version_locations=[str(migrations_dir() / "versions")])
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def history(applied: tuple[str, ...] = ()) -> list[SchemaRevision]:
    script = ScriptDirectory(str(migrations_dir()), version_locations=[str(migrations_dir() / "versions")])
    order = revision_order()
    reached = max((order.index(r) for r in applied if r in order), default=-1)
    revisions = []
    for position, name in enumerate(order):
        found = script.get_revision(name)
        assert found is not None
        down = found.down_revision
        revisions.append(
            SchemaRevision(
                revision=name,
                down_revision=down if isinstance(down, str) or down is None else ",".join(down),
                description=(found.doc or "").strip().splitlines()[0] if found.doc else "",
                applied=position <= reached,
            )
        )
    return revisions


def resolve_target(revision: str, applied: tuple[str, ...]) -> tuple[str, str]:
    """``("upgrade" | "downgrade", revision)`` that brings a database at ``applied`` to ``revision``."""
    order = revision_order()
    if revision in ("head", HEAD):
        return "upgrade", HEAD
    if revision == BASE:
        return "downgrade", BASE
    if revision not in order:
        raise ConfigurationError(
            f"unknown revision {revision!r}: the library's revisions are {', '.join(order)} (and base)"
        )
    current = max((order.index(r) for r in applied if r in order), default=-1)
    return ("downgrade" if order.index(revision) < current else "upgrade"), revision


SCHEMA_INSTALLED = text(
    "SELECT to_regprocedure('chunk_partition_count()') IS NOT NULL AND to_regclass('chunks') IS NOT NULL"
)
DATABASE_PARTITION_COUNT = text("SELECT chunk_partition_count()")


def check_partition_count(connection: Connection, wanted: int) -> None:
    """A database migrated for N partitions is not silently left at N when M is asked for."""
    installed = connection.execute(SCHEMA_INSTALLED).scalar_one()
    database = connection.execute(DATABASE_PARTITION_COUNT).scalar_one() if installed else None
    if database is not None and database != wanted:
        raise ConfigurationError(
            f"the database's chunks table has {database} partitions, not {wanted}: migrate never changes the "
            f"partition count. To change it run `semantik-chunks reshape --partitions {wanted}`; to keep "
            f"{database}, migrate with --partitions {database} (or CHUNK_PARTITION_COUNT={database})"
        )


def _connection_config(connection: Connection, partition_count: int) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("version_locations", str(migrations_dir() / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["partition_count"] = validate_partition_count(partition_count)
    return config


@contextmanager
def _inside_host_migration() -> Iterator[None]:
    """Alembic publishes the running migration as module globals of ``alembic.context`` and
    ``alembic.op``, and a run removes them when it ends. A run nested in a host's revision
    would remove the host's too, so they are put back as they were."""
    namespaces = [vars(alembic.context), vars(alembic.op)]
    saved = [dict(namespace) for namespace in namespaces]
    try:
        yield
    finally:
        for namespace, snapshot in zip(namespaces, saved, strict=True):
            namespace.clear()
            namespace.update(snapshot)


def upgrade_on_connection(connection: Connection, partition_count: int = 100, revision: str = "heads") -> None:
    """Apply the library's migrations on a host's (sync) connection, inside the host's transaction.

    For a host's own Alembic revision: ``upgrade_on_connection(op.get_bind())``."""
    with _inside_host_migration():
        command.upgrade(_connection_config(connection, partition_count), revision)


def downgrade_on_connection(connection: Connection, revision: str = "base") -> None:
    """Back to ``revision`` on a host's connection; at ``base`` the library's version table goes too."""
    with _inside_host_migration():
        command.downgrade(_connection_config(connection, 100), revision)
    if revision == BASE:
        drop_version_table(connection)


async def upgrade_async(url: str, partition_count: int = 100, revision: str = "heads") -> None:
    # Alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, url, partition_count, revision)


def _applied(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads())


async def current_async(url: str) -> tuple[str, ...]:
    """The library's revisions applied to the database at ``url`` (empty when none)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_applied)
    finally:
        await engine.dispose()


def current(url: str) -> tuple[str, ...]:
    return asyncio.run(current_async(url))


class PostgresSchemaMigrations:
    """The ``SchemaMigrations`` port on the container's engine (``semantik-chunks migrate``).

    The revisions run on one connection of the engine, outside any transaction of the caller: each
    revision commits by itself, as in the library's own Alembic environment."""

    def __init__(self, engine: AsyncEngine, partition_count: int) -> None:
        self._engine = engine
        self._partition_count = validate_partition_count(partition_count)

    async def applied(self) -> tuple[str, ...]:
        async with database_errors(), self._engine.connect() as conn:
            return await conn.run_sync(_applied)

    async def upgrade(self) -> tuple[str, ...]:
        return await self.migrate_to(HEAD)

    async def migrate_to(self, revision: str) -> tuple[str, ...]:
        async with database_errors(), self._engine.connect() as conn:
            await conn.run_sync(self._migrate_to, revision)
        return await self.applied()

    async def history(self) -> list[SchemaRevision]:
        return history(await self.applied())

    def _migrate_to(self, connection: Connection, revision: str) -> None:
        direction, target = resolve_target(revision, _applied(connection))
        if direction == "downgrade":
            connection.rollback()  # the read's transaction: the revisions begin their own
            command.downgrade(_connection_config(connection, self._partition_count), target)
            if target == BASE:
                drop_version_table(connection)
            connection.commit()
            return
        check_partition_count(connection, self._partition_count)
        connection.rollback()  # the check's transaction: the revisions begin their own
        config = _connection_config(connection, self._partition_count)
        config.attributes["move_rows"] = False  # TableAdoption moves them, with its progress report
        command.upgrade(config, target)
