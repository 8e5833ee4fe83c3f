"""Translate driver exceptions into the domain's, with messages that name the cause and the fix.

Every error the driver raises inside ``database_errors`` leaves it as a domain error:
``SchemaMissingError``, ``DatabaseTimeoutError`` (lock or statement timeout; a connect timeout is
"unreachable"),
``ConfigurationError`` (a TLS file or a connection option asyncpg refuses) or
``DatabaseUnavailableError`` for everything else (unreachable, credentials refused, any other
SQLSTATE). The messages carry the driver's text for logs and the CLI; the API shows none of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from semantik_chunks.domain.errors import (
    ChunksError,
    ConfigurationError,
    DatabaseTimeoutError,
    DatabaseUnavailableError,
    SchemaMissingError,
)

_SCHEMA_MISSING = (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.UndefinedFunctionError)
_TIMED_OUT = (asyncpg.exceptions.QueryCanceledError, asyncpg.exceptions.LockNotAvailableError)
_REFUSED = (asyncpg.exceptions.InvalidPasswordError, asyncpg.exceptions.InvalidAuthorizationSpecificationError)
_GONE = (
    OSError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TargetServerAttributeNotMatched,
)


def _root(exc: BaseException) -> BaseException:
    """The asyncpg exception behind SQLAlchemy's wrapper, if there is one."""
    original = getattr(exc, "orig", None)
    return getattr(original, "__cause__", None) or original or exc


def _describe(root: BaseException) -> str:
    """The cause in words, never empty (``TimeoutError()`` has no text of its own)."""
    if isinstance(root, TimeoutError):
        return "no answer within the connect timeout (connect_timeout in the URL, default 10 s)"
    text = str(root).strip().splitlines()[0] if str(root).strip() else ""
    return text or type(root).__name__


def translate_unavailable(exc: BaseException) -> DatabaseUnavailableError | None:
    """A domain error for "cannot read the database", or None if ``exc`` is something else."""
    root = _root(exc)
    if isinstance(root, _SCHEMA_MISSING):
        return SchemaMissingError(
            f"the semantik-chunks schema is missing ({root}); run `semantik-chunks migrate` against this database"
        )
    if isinstance(root, _TIMED_OUT):
        return DatabaseTimeoutError(f"the database did not answer in time: {_describe(root)}")
    if isinstance(root, _REFUSED):
        return DatabaseUnavailableError(f"database refused the credentials: {_describe(root)}")
    if isinstance(root, asyncpg.exceptions.InvalidCatalogNameError):
        return DatabaseUnavailableError(f"database does not exist: {_describe(root)}")
    if isinstance(root, _GONE):
        return DatabaseUnavailableError(f"database unreachable: {_describe(root)}")
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseUnavailableError(f"database unreachable: {_describe(root)}")
    return None


def translate(exc: BaseException) -> ChunksError:
    """Any driver error as a domain error (``translate_unavailable``, else the closest fit)."""
    translated = translate_unavailable(exc)
    if translated is not None:
        return translated
    root = _root(exc)
    if isinstance(root, asyncpg.exceptions.ClientConfigurationError):
        return ConfigurationError(f"database connection settings: {_describe(root)}")
    sqlstate = getattr(root, "sqlstate", None)
    code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    return DatabaseUnavailableError(f"database error{code}: {_describe(root)}")


@asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Run a read or a write; every driver failure surfaces as a domain error (see ``translate``)."""
    try:
        yield
    except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise translate(exc) from exc
