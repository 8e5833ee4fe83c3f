"""Which database a command uses, how it runs against it, and how a failure becomes one line.

The database is ``--db-url``, else ``DATABASE_URL``, else the embedded server (started, and
migrated on first use). ``memory://`` selects the in-memory adapters.

Every container a command uses comes from a ``ContainerFactory``: ``command_container`` (the
composition root's container, statistics read once per command), unless the caller of the app
gives another as Typer's context object: ``app(obj=factory)`` or
``CliRunner().invoke(app, args, obj=factory)`` (tests hand every command one prepared container
that way, since ``memory://`` starts empty in each process).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import attrs

from semantik_chunks.config import LOCK_TIMEOUT_ENV, MEMORY_URL, STATEMENT_TIMEOUT_ENV, Settings
from semantik_chunks.container import Container, bootstrap, check_database_url, dispose
from semantik_chunks.domain.errors import (
    ChunksError,
    ConfigurationError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    SchemaMissingError,
)
from semantik_chunks.entrypoints.cli import database
from semantik_chunks.entrypoints.cli.errors import CommandError

T = TypeVar("T")

DEBUG_ENV = "SEMANTIK_CHUNKS_DEBUG"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


ContainerFactory = Callable[[Settings], Container]


def command_container(settings: Settings) -> Container:
    """The composition root's container for one command: its statistics read once, so that the
    sections of a report agree (``container.bootstrap``)."""
    return bootstrap(settings, statistics_read_once=True)


def containers(given: object) -> ContainerFactory:
    """The factory a caller put in Typer's context object, else ``command_container``."""
    if given is None:
        return command_container
    if not callable(given):
        raise TypeError(f"the CLI's context object must be a function Settings -> Container, got {given!r}")
    factory: ContainerFactory = given
    return factory


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
    try:
        check_database_url(url)  # every libpq parameter translated, or refused by name
    except ConfigurationError as exc:
        raise CommandError(f"{source} {redact(url)!r}: {exc}; {expected}") from None


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise CommandError(f"{exc} (fix the environment variable, or unset it for the default)") from None


def resolve_target(db_url: str | None, settings: Settings, make: ContainerFactory) -> DatabaseTarget:
    """Where to connect: ``--db-url``, else ``DATABASE_URL``, else the embedded server."""
    if db_url:
        target = DatabaseTarget(db_url, "--db-url")
    elif settings.database_url:
        target = DatabaseTarget(settings.database_url, "DATABASE_URL")
    else:
        server = make(settings).embedded_server()
        # The one place where no URL is not an error: said on stderr, so that it is never a surprise.
        print(
            f"semantik-chunks: no --db-url or DATABASE_URL: using the embedded PostgreSQL in {server.data_dir}",
            file=sys.stderr,
        )
        return DatabaseTarget(database.start_embedded(server), "embedded")
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
    except DatabaseUnavailableError as exc:
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


def select_database(db_url: str | None, make: ContainerFactory) -> tuple[Settings, DatabaseTarget]:
    """Settings pointing at the chosen database."""
    settings = load_settings()
    target = resolve_target(db_url, settings, make)
    return attrs.evolve(settings, database_url=target.url), target


async def _within(container: Container, work: Callable[[Container], Awaitable[T]]) -> T:
    try:
        return await work(container)
    finally:
        await dispose(container)


def run_once(
    settings: Settings, target: DatabaseTarget, work: Callable[[Container], Awaitable[T]], make: ContainerFactory
) -> T:
    """Run ``work`` with a fresh container for ``settings`` pointing at ``target``, then close it."""
    settings = attrs.evolve(settings, database_url=target.url)
    with operator_errors(target):
        return asyncio.run(_within(make(settings), work))


def run_selected(
    settings: Settings, target: DatabaseTarget, work: Callable[[Container], Awaitable[T]], make: ContainerFactory
) -> T:
    """``run_once``, except that the embedded database gets its schema the first time a command finds
    it missing (a command that finds no table has written nothing, so it simply runs again)."""
    settings = attrs.evolve(settings, database_url=target.url)
    with operator_errors(target):
        try:
            return asyncio.run(_within(make(settings), work))
        except SchemaMissingError:
            if target.source != "embedded":
                raise
        asyncio.run(_within(make(settings), _install))
        return asyncio.run(_within(make(settings), work))


async def _install(container: Container) -> tuple[str, ...]:
    return await container.schema_service().install()


def run(db_url: str | None, work: Callable[[Container], Awaitable[T]], make: ContainerFactory) -> T:
    """Run ``work`` against the database ``db_url`` selects (see ``resolve_target``)."""
    settings, target = select_database(db_url, make)
    return run_selected(settings, target, work, make)
