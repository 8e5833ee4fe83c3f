"""Settings read from the environment, validated once at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

# parse_partition_count is the domain's (the migrations read CHUNK_PARTITION_COUNT too); re-exported here.
from semantik_chunks.domain.hashing import DEFAULT_PARTITION_COUNT, parse_partition_count
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds

MEMORY_URL = "memory://"


@attrs.frozen
class Settings:
    """Everything the composition root needs. ``database_url`` None means "not chosen yet"
    (the CLI then starts its embedded server); ``memory://`` selects the in-memory adapters."""

    partition_count: int = attrs.field(default=DEFAULT_PARTITION_COUNT, converter=parse_partition_count)
    database_url: str | None = None
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    internal_api_key: str | None = attrs.field(default=None, repr=False)
    alert_webhook_url: str | None = attrs.field(default=None, repr=False)

    @property
    def backend(self) -> str:
        return "memory" if self.database_url in (None, MEMORY_URL) else "postgres"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            partition_count=parse_partition_count(env.get("CHUNK_PARTITION_COUNT")),
            database_url=env.get("DATABASE_URL") or None,
            internal_api_key=env.get("SEMANTIK_INTERNAL_API_KEY") or None,
            alert_webhook_url=env.get("SEMANTIK_ALERT_WEBHOOK_URL") or None,
        )
