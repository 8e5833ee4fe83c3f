"""Settings read from the environment, validated once at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from semantik_chunks.domain.errors import ConfigurationError

# parse_partition_count is the domain's (the migrations read CHUNK_PARTITION_COUNT too); re-exported here.
from semantik_chunks.domain.hashing import DEFAULT_PARTITION_COUNT, parse_partition_count
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds

MEMORY_URL = "memory://"
NO_DATABASE_URL = (
    "no database URL: set DATABASE_URL (postgresql://user:password@host:5432/dbname), or give "
    "Settings(database_url=...); memory:// selects the in-memory adapters (tests, this process only)"
)


DEFAULT_HISTORY_RETENTION_DAYS = 90
MAX_HISTORY_RETENTION_DAYS = 36_500


def parse_retention_days(raw: str | int | None) -> int:
    """``CHUNK_HISTORY_RETENTION_DAYS``: how many days of partition snapshots to keep (default 90)."""
    if raw is None or raw == "":
        return DEFAULT_HISTORY_RETENTION_DAYS
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise TypeError(raw)
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"CHUNK_HISTORY_RETENTION_DAYS must be a whole number of days between 1 and "
            f"{MAX_HISTORY_RETENTION_DAYS}, got {raw!r}"
        ) from None
    if not 1 <= value <= MAX_HISTORY_RETENTION_DAYS:
        raise ConfigurationError(
            f"CHUNK_HISTORY_RETENTION_DAYS must be between 1 and {MAX_HISTORY_RETENTION_DAYS}, got {value}"
        )
    return value


@attrs.frozen
class Settings:
    """Everything the composition root needs. ``database_url`` None means "not chosen yet": the CLI
    then starts its embedded server, and anything else that needs a database (a library, API or worker
    context) gets a ``ConfigurationError`` naming ``DATABASE_URL``. Only ``memory://`` selects the
    in-memory adapters."""

    partition_count: int = attrs.field(default=DEFAULT_PARTITION_COUNT, converter=parse_partition_count)
    database_url: str | None = None
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    internal_api_key: str | None = attrs.field(default=None, repr=False)
    alert_webhook_url: str | None = attrs.field(default=None, repr=False)
    history_retention_days: int = attrs.field(default=DEFAULT_HISTORY_RETENTION_DAYS, converter=parse_retention_days)

    @property
    def backend(self) -> str:
        """``memory`` for ``memory://``, ``postgres`` for any other URL; no URL is an error, never a
        silent in-memory store (which would always report HEALTHY and never alert)."""
        if self.database_url is None:
            raise ConfigurationError(NO_DATABASE_URL)
        return "memory" if self.database_url == MEMORY_URL else "postgres"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            partition_count=parse_partition_count(env.get("CHUNK_PARTITION_COUNT")),
            database_url=env.get("DATABASE_URL") or None,
            internal_api_key=env.get("SEMANTIK_INTERNAL_API_KEY") or None,
            alert_webhook_url=env.get("SEMANTIK_ALERT_WEBHOOK_URL") or None,
            history_retention_days=parse_retention_days(env.get("CHUNK_HISTORY_RETENTION_DAYS")),
        )
