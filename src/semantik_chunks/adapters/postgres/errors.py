"""Translate driver exceptions into the domain's, with messages that name the cause and the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from semantik_chunks.domain.errors import DatabaseUnavailableError, SchemaMissingError

_SCHEMA_MISSING = (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.UndefinedFunctionError)


def _root(exc: BaseException) -> BaseException:
    """The asyncpg exception behind SQLAlchemy's wrapper, if there is one."""
    original = getattr(exc, "orig", None)
    return getattr(original, "__cause__", None) or original or exc


def translate_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """A domain error for "cannot use the database", or None if ``exc`` is something else."""
    root = _root(exc)
    if isinstance(root, _SCHEMA_MISSING):
        return SchemaMissingError(
            f"the semantik-chunks schema is missing ({root}); run `semantik-chunks migrate` against this database"
        )
    if isinstance(
        root, asyncpg.exceptions.InvalidPasswordError | asyncpg.exceptions.InvalidAuthorizationSpecificationError
    ):
        return DatabaseUnavailableError(f"database refused the credentials: {root}")
    if isinstance(root, asyncpg.exceptions.InvalidCatalogNameError):
        return DatabaseUnavailableError(f"database does not exist: {root}")
    if isinstance(
        root, OSError | asyncpg.exceptions.CannotConnectNowError | asyncpg.exceptions.ConnectionDoesNotExistError
    ):
        return DatabaseUnavailableError(f"database unreachable: {root}")
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseUnavailableError(f"database unreachable: {root}")
    return None


@asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Run a read or a write; connection and missing-schema failures surface as domain errors."""
    try:
        yield
    except (DBAPIError, OSError, asyncpg.PostgresError) as exc:
        translated = translate_unavailable(exc)
        if translated is None:
            raise
        raise translated from exc
