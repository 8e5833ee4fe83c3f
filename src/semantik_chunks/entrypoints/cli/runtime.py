"""Which database a command uses, how it runs against it, and how a failure becomes one line.

The database is ``--db-url``, else ``DATABASE_URL``, else the embedded server (started, and
migrated on first use). ``memory://`` selects the in-memory adapters: each process starts
empty, so tests replace ``make_container`` to hand every command the same container.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs
from dependency_injector import providers

from semantik_chunks.config import LOCK_TIMEOUT_ENV, MEMORY_URL, STATEMENT_TIMEOUT_ENV, Settings
from semantik_chunks.container import Container, bootstrap, dispose
from semantik_chunks.domain.errors import (
    ChunksError,
    ConfigurationError,
    DatabaseTimeoutError,
    MonitoringUnavailableError,
    SchemaMissingError,
)
from semantik_chunks.entrypoints.cli import database
from semantik_chunks.entrypoints.cli.errors import CommandError
from semantik_chunks.entrypoints.cli.snapshot import ReadOnce

T = TypeVar("T")

DEBUG_ENV = "SEMANTIK_CHUNKS_DEBUG"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def container_for_one_command(settings: Settings) -> Container:
    """The composition root's container, its statistics read once per command (see ``snapshot``)."""
    container = bootstrap(settings)
    container.partition_statistics.override(providers.Object(ReadOnce(container.partition_statistics())))
    return container


# Replaced by tests to hand every command one prepared container (memory:// starts empty).
make_container: Callable[[Settings], Container] = container_for_one_command


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def redact(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
        query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query)
        if (netloc, query) == (parts.netloc, parts.query):
            return url  # nothing to hide; urlunsplit would also drop an empty netloc's "//"
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<unparsable URL>"


@attrs.frozen
class DatabaseTarget:
    url: str
    source: str  # "--db-url", "DATABASE_URL" or "embedded"

    @property
    def is_memory(self) -> bool:
        return self.url == MEMORY_URL

    @property
    def shown(self) -> str:
        """For sentences."""
        return "the embedded PostgreSQL" if self.source == "embedded" else redact(self.url)

    @property
    def label(self) -> str:
        """For JSON: ``embedded``, ``memory://`` or the URL without its password."""
        return "embedded" if self.source == "embedded" else redact(self.url)


def _check_url(url: str, source: str) -> None:
    if url == MEMORY_URL:
        return
    expected = "expected postgresql://user:password@host:5432/dbname or memory://"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise CommandError(f"{source} {redact(url)!r} is not a valid URL ({exc}); {expected}") from None
    if parts.scheme not in POSTGRES_SCHEMES:
        raise CommandError(f"{source} {redact(url)!r} is not a PostgreSQL URL; {expected}")
    from semantik_chunks.adapters.postgres.urls import check_url  # pure Python, no driver import

    try:
        check_url(url)  # every libpq parameter translated, or refused by name
    except ConfigurationError as exc:
        raise CommandError(f"{source} {redact(url)!r}: {exc}; {expected}") from None


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise CommandError(f"{exc} (fix the environment variable, or unset it for the default)") from None


def resolve_target(db_url: str | None, settings: Settings) -> DatabaseTarget:
    """Where to connect: ``--db-url``, else ``DATABASE_URL``, else the embedded server."""
    if db_url:
        target = DatabaseTarget(db_url, "--db-url")
    elif settings.database_url:
        target = DatabaseTarget(settings.database_url, "DATABASE_URL")
    else:
        return DatabaseTarget(database.start_embedded(), "embedded")
    _check_url(target.url, target.source)
    return target


@contextmanager
def operator_errors(target: DatabaseTarget | None = None) -> Iterator[None]:
    """Turn the library's exceptions into a ``CommandError`` that names the fix."""
    source = target.source if target else "--db-url / DATABASE_URL"
    where = target.shown if target else "the database"
    try:
        yield
    except CommandError:
        raise
    except SchemaMissingError:
        raise CommandError(
            f"{where} has no semantik-chunks schema; run `semantik-chunks migrate` "
            f"(with the same {source}) to install it"
        ) from None
    except DatabaseTimeoutError as exc:
        raise CommandError(
            f"{where}: {exc}; another session may hold a lock on chunks (see pg_locks), "
            f"or raise {LOCK_TIMEOUT_ENV} / {STATEMENT_TIMEOUT_ENV}"
        ) from None
    except MonitoringUnavailableError as exc:
        raise CommandError(
            f"cannot use {where}: {exc}; check {source} (host, port, user, password, database) "
            "and that the server is running"
        ) from None
    except ChunksError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot reach {where}: {exc}; check {source} and that the server is running") from None
    except ImportError as exc:
        raise CommandError(f"{exc}: install the PostgreSQL support with pip install 'semantik-chunks[cli]'") from None


def select_database(db_url: str | None) -> tuple[Settings, DatabaseTarget]:
    """Settings pointing at the chosen database."""
    settings = load_settings()
    target = resolve_target(db_url, settings)
    return attrs.evolve(settings, database_url=target.url), target


async def _within(container: Container, work: Callable[[Container], Awaitable[T]]) -> T:
    try:
        return await work(container)
    finally:
        await dispose(container)


def run_selected(settings: Settings, target: DatabaseTarget, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work`` with a fresh container for ``settings``, then close it.

    The embedded database gets its schema the first time a command finds it missing (a
    command that finds no table has written nothing, so it simply runs again)."""
    with operator_errors(target):
        try:
            return asyncio.run(_within(make_container(settings), work))
        except SchemaMissingError:
            if target.source != "embedded":
                raise
        database.upgrade(target.url, settings.partition_count)
        return asyncio.run(_within(make_container(settings), work))


def run(db_url: str | None, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work`` against the database ``db_url`` selects (see ``resolve_target``)."""
    settings, target = select_database(db_url)
    return run_selected(settings, target, work)
