"""Engines: a host's ``AsyncEngine`` is used as it is; a URL gets an asyncpg engine."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from semantik_chunks.domain.errors import ConfigurationError

CONNECT_TIMEOUT_SECONDS = 10


def async_url(url: str) -> str:
    """``postgresql://…`` (what libpq, psql and the embedded server print) as an asyncpg URL."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigurationError(
            f"not a database URL: {url!r} (expected postgresql://user:password@host:port/dbname)"
        ) from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)!r}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(url_or_engine: str | AsyncEngine) -> AsyncEngine:
    if isinstance(url_or_engine, AsyncEngine):
        return url_or_engine
    # A host that silently drops packets should fail in seconds, not after asyncpg's 60 s default.
    return create_async_engine(async_url(url_or_engine), connect_args={"timeout": CONNECT_TIMEOUT_SECONDS})
