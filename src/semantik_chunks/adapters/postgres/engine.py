"""Engines: a host's ``AsyncEngine`` is used as it is; a URL gets an asyncpg engine.

Every engine this library makes from a URL is made here, from the libpq URL translated by
``urls.connect_arguments`` (query parameters such as ``sslmode`` or ``connect_timeout`` become
asyncpg's arguments, or are refused with a ``ConfigurationError`` naming them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from semantik_chunks.adapters.postgres.urls import CONNECT_TIMEOUT_SECONDS, connect_arguments
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.timeouts import SessionTimeouts

__all__ = ["CONNECT_TIMEOUT_SECONDS", "apply_timeouts", "async_url", "create_engine", "engine_url"]


def async_url(url: str) -> str:
    """``postgresql://…`` as a ``postgresql+asyncpg://`` URL string, parameters untranslated.

    Kept for callers that build engines themselves; ``create_engine`` is the one that understands
    every libpq parameter."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigurationError(
            f"not a database URL: {url!r} (expected postgresql://user:password@host:port/dbname)"
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def engine_url(url: str) -> tuple[URL, dict[str, Any]]:
    """The SQLAlchemy URL (user and database only, for display) and ``connect_args`` for ``url``."""
    arguments = connect_arguments(url)
    shown = URL.create("postgresql+asyncpg", username=arguments.username, database=arguments.database)
    return shown, dict(arguments.connect_args)


def create_engine(url_or_engine: str | AsyncEngine, **engine_options: Any) -> AsyncEngine:
    """``url_or_engine`` itself if it is an engine, else an asyncpg engine for the libpq URL.

    ``engine_options`` go to ``create_async_engine`` (``poolclass``, ``pool_size``, ...)."""
    if isinstance(url_or_engine, AsyncEngine):
        return url_or_engine
    shown, connect_args = engine_url(url_or_engine)
    # A host that silently drops packets fails within connect_timeout (default
    # CONNECT_TIMEOUT_SECONDS), not after asyncpg's 60 s default.
    return create_async_engine(shown, connect_args=connect_args, **engine_options)


_SET_TIMEOUTS = text(
    "SELECT set_config('lock_timeout', :lock_timeout, true), set_config('statement_timeout', :statement_timeout, true)"
)


async def apply_timeouts(conn: AsyncConnection, timeouts: SessionTimeouts) -> None:
    """``SET LOCAL`` both timeouts on ``conn``, which must be inside a transaction (one round trip)."""
    await conn.execute(
        _SET_TIMEOUTS,
        {"lock_timeout": f"{timeouts.lock_timeout_ms}ms", "statement_timeout": f"{timeouts.statement_timeout_ms}ms"},
    )
