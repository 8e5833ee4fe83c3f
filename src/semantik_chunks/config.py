"""Settings read from the environment, validated once at the edge."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs

from semantik_chunks.domain.errors import ConfigurationError

# parse_partition_count is the domain's (the migrations read CHUNK_PARTITION_COUNT too); re-exported here.
from semantik_chunks.domain.hashing import DEFAULT_PARTITION_COUNT, MAX_PARTITIONS, parse_partition_count
from semantik_chunks.domain.model import AlertLevel
from semantik_chunks.domain.pruning import DEFAULT_ALERT_SHARE
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.domain.timeouts import DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, MAX_TIMEOUT_MS

MEMORY_URL = "memory://"
MAX_PARTITION_BYTES_ENV = "CHUNK_MAX_PARTITION_BYTES"

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_byte_size(raw: str | None) -> int | None:
    """``CHUNK_MAX_PARTITION_BYTES``: a whole number of bytes, optionally with a unit (``50GB``,
    ``64 GiB``, ``500MB``; kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024); unset, empty
    or ``off`` for no absolute limit (the default)."""
    if raw is None or raw.strip().lower() in ("", "off", "none"):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", raw)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _BYTE_UNITS or int(match.group(1)) == 0:
        raise ConfigurationError(
            f"{MAX_PARTITION_BYTES_ENV} must be a positive size such as 50GB or 64GiB (or off), got {raw!r}"
        )
    return int(match.group(1)) * _BYTE_UNITS[unit]


NO_DATABASE_URL = (
    "no database URL: set DATABASE_URL (postgresql://user:password@host:5432/dbname), or give "
    "Settings(database_url=...); memory:// selects the in-memory adapters (tests, this process only)"
)


# The monitoring reads' bounds (domain/timeouts.py), in milliseconds; 0 turns one off.
LOCK_TIMEOUT_ENV = "SEMANTIK_LOCK_TIMEOUT_MS"
STATEMENT_TIMEOUT_ENV = "SEMANTIK_STATEMENT_TIMEOUT_MS"
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


METRICS_PARTITION_MODES = ("top", "all", "none")
DEFAULT_METRICS_TOP_K = 10


def parse_share(raw: str | float | None) -> float:
    """SEMANTIK_PRUNING_ALERT_SHARE: a fraction in (0, 1]."""
    if raw is None or raw == "":
        return DEFAULT_ALERT_SHARE
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"SEMANTIK_PRUNING_ALERT_SHARE must be a fraction such as 0.1, got {raw!r}") from None
    if not 0 < value <= 1:
        raise ConfigurationError(f"SEMANTIK_PRUNING_ALERT_SHARE must be above 0 and at most 1, got {value}")
    return value


def parse_metrics_partitions(raw: str | None) -> str:
    """SEMANTIK_METRICS_PARTITIONS: which partitions get per-partition series (top, all or none)."""
    value = (raw or "top").strip().lower()
    if value not in METRICS_PARTITION_MODES:
        raise ConfigurationError(f"SEMANTIK_METRICS_PARTITIONS must be one of top, all, none, got {raw!r}")
    return value


def parse_top_k(raw: str | int | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_METRICS_TOP_K
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"SEMANTIK_METRICS_TOP_K must be a whole number, got {raw!r}") from None
    if not 0 <= value <= MAX_PARTITIONS:
        raise ConfigurationError(f"SEMANTIK_METRICS_TOP_K must be between 0 and {MAX_PARTITIONS}, got {value}")
    return value


def parse_alert_level(raw: str | AlertLevel | None) -> AlertLevel:
    """``SEMANTIK_ALERT_MIN_LEVEL``: INFO, WARNING (the default) or CRITICAL, in any case."""
    if raw is None or raw == "":
        return AlertLevel.WARNING
    try:
        return AlertLevel(raw.strip().upper())
    except ValueError:
        allowed = ", ".join(level.value for level in AlertLevel)
        raise ConfigurationError(f"SEMANTIK_ALERT_MIN_LEVEL must be one of {allowed}, got {raw!r}") from None


def parse_timeout_ms(raw: str | int | None, name: str, default: int) -> int:
    """A timeout in milliseconds, 0 (none) to 2,147,483,647; ``default`` when unset."""
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise TypeError(raw)
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a whole number of milliseconds (0 for none), got {raw!r}") from None
    if not 0 <= value <= MAX_TIMEOUT_MS:
        raise ConfigurationError(f"{name} must be between 0 (none) and {MAX_TIMEOUT_MS} milliseconds, got {value}")
    return value


def _lock_timeout(raw: str | int | None) -> int:
    return parse_timeout_ms(raw, LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_MS)


def _statement_timeout(raw: str | int | None) -> int:
    return parse_timeout_ms(raw, STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_MS)


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
    # A statement reading every partition that takes more than this share of the time on chunks alerts.
    pruning_alert_share: float = attrs.field(default=DEFAULT_ALERT_SHARE, converter=parse_share)
    metrics_partitions: str = attrs.field(default="top", converter=parse_metrics_partitions)
    metrics_top_k: int = attrs.field(default=DEFAULT_METRICS_TOP_K, converter=parse_top_k)
    # The least severe alert the webhook posts (the log gets every alert).
    alert_min_level: AlertLevel = attrs.field(default=AlertLevel.WARNING, converter=parse_alert_level)
    history_retention_days: int = attrs.field(default=DEFAULT_HISTORY_RETENTION_DAYS, converter=parse_retention_days)
    # The monitoring reads' bounds in milliseconds (0: none); see domain/timeouts.py.
    lock_timeout_ms: int = attrs.field(default=DEFAULT_LOCK_TIMEOUT_MS, converter=_lock_timeout)
    statement_timeout_ms: int = attrs.field(default=DEFAULT_STATEMENT_TIMEOUT_MS, converter=_statement_timeout)

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
        max_bytes = parse_byte_size(env.get(MAX_PARTITION_BYTES_ENV))
        thresholds = (
            DEFAULT_THRESHOLDS if max_bytes is None else attrs.evolve(DEFAULT_THRESHOLDS, max_partition_bytes=max_bytes)
        )
        return cls(
            partition_count=parse_partition_count(env.get("CHUNK_PARTITION_COUNT")),
            thresholds=thresholds,
            database_url=env.get("DATABASE_URL") or None,
            internal_api_key=env.get("SEMANTIK_INTERNAL_API_KEY") or None,
            alert_webhook_url=env.get("SEMANTIK_ALERT_WEBHOOK_URL") or None,
            pruning_alert_share=parse_share(env.get("SEMANTIK_PRUNING_ALERT_SHARE")),
            metrics_partitions=parse_metrics_partitions(env.get("SEMANTIK_METRICS_PARTITIONS")),
            metrics_top_k=parse_top_k(env.get("SEMANTIK_METRICS_TOP_K")),
            alert_min_level=parse_alert_level(env.get("SEMANTIK_ALERT_MIN_LEVEL")),
            history_retention_days=parse_retention_days(env.get("CHUNK_HISTORY_RETENTION_DAYS")),
            lock_timeout_ms=_lock_timeout(env.get(LOCK_TIMEOUT_ENV)),
            statement_timeout_ms=_statement_timeout(env.get(STATEMENT_TIMEOUT_ENV)),
        )
