"""Domain objects: chunks, per-partition facts, and the results of health checks."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs


class PartitionHealthStatus(enum.StrEnum):
    """Per-partition status. Only HEALTHY, WARNING and UNBALANCED are ever produced (the
    host's script counts those three); CRITICAL exists because the host's enum parses it."""

    HEALTHY = "HEALTHY"
    WARNING = "WARNING"
    UNBALANCED = "UNBALANCED"
    CRITICAL = "CRITICAL"


class SkewStatus(enum.StrEnum):
    NORMAL = "NORMAL"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class AlertLevel(enum.StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class CheckOutcome(enum.StrEnum):
    """Whether a health check ran (``success``) or could not read the database (``failed``)."""

    SUCCESS = "success"
    FAILED = "failed"


class Priority(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@attrs.frozen(kw_only=True)
class Chunk:
    """One chunk of a document. ``id`` and ``partition_key`` are filled in by storage
    when left ``None``; a ``partition_key`` given by the caller must be the right one."""

    collection_id: str
    chunk_index: int
    content: str
    document_id: str | None = None
    chunking_config_id: int | None = None
    start_offset: int | None = None
    end_offset: int | None = None
    token_count: int | None = None
    embedding_vector_id: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    partition_key: int | None = None
    id: int | None = None


@attrs.frozen
class PartitionSnapshot:
    """What storage knows about one partition, cheaply: rows, bytes, dead rows, newest write, and
    ``writes``, the rows written to it (inserted, updated, deleted) since the statistics began."""

    partition_num: int
    row_count: int
    size_bytes: int
    dead_rows: int = 0
    newest_chunk_at: datetime | None = None
    writes: int = 0


@attrs.frozen
class WriteActivity:
    """Chunks written to one partition in the last hour, day and week."""

    partition_num: int
    last_hour: int
    last_day: int
    last_week: int


@attrs.frozen
class CollectionCount:
    """How many chunks one collection has (all in one partition, by construction)."""

    collection_id: str
    partition_num: int
    chunk_count: int


@attrs.frozen
class CollectionStats:
    """A row of ``collection_chunking_stats``."""

    id: str
    name: str | None
    chunked_documents: int
    total_chunks: int
    avg_tokens_per_chunk: float | None
    last_chunk_created: datetime | None


@attrs.frozen
class PartitionHealth:
    """Health of one partition (fields of seed 002, plus its size in bytes)."""

    partition_num: int
    chunk_count: int
    total_chunks: int
    chunk_percentage: float
    size_percentage: float
    health_status: PartitionHealthStatus
    chunk_skew: float
    size_skew: float
    recommendation: str | None
    size_bytes: int = 0


@attrs.frozen
class SkewMetric:
    metric: str
    value: float
    status: SkewStatus
    details: str


@attrs.frozen
class Alert:
    level: AlertLevel
    message: str
    action: str
    partitions: tuple[int, ...] = ()


@attrs.frozen
class CollectionShare:
    """A collection's weight inside a partition and in the whole table."""

    collection_id: str
    chunk_count: int
    share_of_partition: float
    share_of_total: float


@attrs.frozen
class Recommendation:
    partition_num: int
    reason: str
    current_skew: float
    action: str
    priority: Priority
    top_collections: tuple[CollectionShare, ...] = ()


@attrs.frozen
class HotPartition:
    partition_num: int
    last_hour: int
    hour_share: float
    top_collections: tuple[CollectionShare, ...] = ()


@attrs.frozen
class DistributionStats:
    """The whole table at a glance (the ``partition_distribution`` view's row)."""

    partition_count: int
    partitions_used: int
    total_chunks: int
    total_size_bytes: int
    avg_chunks_per_partition: float
    stddev_chunks: float
    max_chunks: int
    min_chunks: int
    max_skew_ratio: float
    empty_partitions: int
    effective_collections: float | None
    chance_skew: float | None
    distribution_status: PartitionHealthStatus


@attrs.frozen
class PartitionDetail:
    """``partition_stats`` for one partition; ``newest_chunk_at`` is the view's ``created_at``."""

    partition_num: int
    chunk_count: int
    total_size_mb: float
    avg_chunk_size_kb: float
    newest_chunk_at: datetime | None


@attrs.frozen
class StatisticsSummary:
    """``partition_stats`` aggregated over all partitions."""

    partition_count: int
    total_chunks: int
    total_size_mb: float
    avg_chunks_per_partition: float
    chunk_count_stddev: float


class PartitionTemperature(enum.StrEnum):
    HOT = "HOT"
    COLD = "COLD"
    NORMAL = "NORMAL"


@attrs.frozen
class PartitionLoad:
    """A partition's rows against the average (the ``partition_health`` view's row)."""

    partition_num: int
    partition_name: str
    row_count: int
    size_bytes: int
    dead_rows: int
    pct_deviation_from_avg: float
    temperature: PartitionTemperature


@attrs.frozen
class EfficiencyReport:
    partition_count: int
    partitions_used: int
    utilization: float
    balance_score: float
    largest_partition_share: float
    effective_collections: float | None
    chance_skew: float | None
    hot_partitions: tuple[int, ...]
    cold_partitions: tuple[int, ...]
    summary: str


@attrs.frozen(kw_only=True)
class HealthMetrics:
    """The aggregate figures of a completed health check.

    ``effective_collections`` and ``chance_skew`` are the chance model's ``K_eff`` and the skew's
    standard deviation under chance (None for an empty table); ``chance_from_collections`` says
    whether they come from collection sizes (else from partition totals, a lower bound).
    ``hot_partitions`` are those taking the hot share of last hour's writes, hottest first;
    ``mode`` is how rows were counted ("statistics" or "exact")."""

    total_partitions: int
    total_chunks: int
    unbalanced_count: int
    warning_count: int
    healthy_count: int
    effective_collections: float | None
    chance_skew: float | None
    chance_from_collections: bool
    hot_partitions: tuple[int, ...]
    skew_metrics: tuple[SkewMetric, ...]
    mode: Literal["statistics", "exact"]

    def skew_metric(self, name: str) -> SkewMetric:
        """One of ``skew_metrics`` by its ``metric`` name."""
        for metric in self.skew_metrics:
            if metric.metric == name:
                return metric
        raise KeyError(name)


@attrs.frozen
class MonitoringResult:
    """Outcome of a full health check. A failed check carries ``error``, no alerts and no metrics."""

    status: CheckOutcome
    timestamp: datetime
    alerts: tuple[Alert, ...] = ()
    metrics: HealthMetrics | None = None
    error: str | None = None
    overall: PartitionHealthStatus | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is CheckOutcome.SUCCESS
