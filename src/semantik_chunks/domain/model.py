"""Domain objects: chunks, per-partition facts, and the results of health checks."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
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


class AlertCause(enum.StrEnum):
    """What an alert is about; each cause has its own remedy (``Alert.command``).

    ``placement``: does the hash spread collections as chance predicts; ``capacity``: does a
    partition hold more than its budget (a share beyond ``Thresholds.capacity``, or
    ``Thresholds.max_partition_bytes``), whatever the cause; ``forecast``: will it within the
    horizon; ``hot_writes``: last hour's writes piling on a partition; ``monitoring``: the check's
    own inputs (the check failed); ``pruning``: statements on chunks that read every partition take
    too much of the time spent on chunks (``domain/pruning.py``). A new cause is a new member here."""

    PLACEMENT = "placement"
    CAPACITY = "capacity"
    FORECAST = "forecast"
    HOT_WRITES = "hot_writes"
    MONITORING = "monitoring"
    PRUNING = "pruning"


class CheckOutcome(enum.StrEnum):
    """Whether a health check ran (``success``), ran without some partitions because the server holding
    them did not answer (``degraded``: those partitions counted as empty, an alert names them), or could
    not read the database (``failed``)."""

    SUCCESS = "success"
    DEGRADED = "degraded"
    FAILED = "failed"


COORDINATOR_SERVER = "coordinator"


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
    ``writes``, the rows written to it (inserted, updated, deleted) since the statistics began.

    ``server`` is where it lives (``COORDINATOR_SERVER`` or another server's name); ``unreachable`` is
    why its server did not answer (its figures are then zeros), None when it was read."""

    partition_num: int
    row_count: int
    size_bytes: int
    dead_rows: int = 0
    newest_chunk_at: datetime | None = None
    writes: int = 0
    server: str = COORDINATOR_SERVER
    unreachable: str | None = None


@attrs.frozen
class ServerTotals:
    """One server's share of the table, from the partitions' own statistics: how many partitions it
    holds, their rows and bytes, and whether it answered (``error`` says why not)."""

    server: str
    partitions: tuple[int, ...]
    rows: int
    size_bytes: int
    reachable: bool
    error: str | None = None


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
    """One finding: its level, its ``cause``, what it means (``message``, ``action``), and
    ``command``, the exact ``semantik-chunks`` command line that addresses it (None when nothing
    needs doing)."""

    level: AlertLevel
    message: str
    action: str
    partitions: tuple[int, ...] = ()
    cause: AlertCause = attrs.field(kw_only=True)
    command: str | None = attrs.field(default=None, kw_only=True)


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


MIN_SPLIT_PARTS = 2
MAX_SPLIT_PARTS = 64  # ``isolate --split-documents K``: K hash parts, 2..64


@attrs.frozen
class IsolatedCollection:
    """A collection with a sub-partition of its own (``semantik-chunks isolate``), and its parts (one,
    or K hash parts on ``id``): its ``rows`` and ``bytes`` are the sum over its parts. Its partition's
    other collections share the partition's DEFAULT sub-partition."""

    collection_id: str
    partition_num: int
    sub_partition: str
    parts: int
    rows: int = 0
    bytes: int = 0


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


_VERDICT_OF_LEVEL = {
    AlertLevel.CRITICAL: PartitionHealthStatus.UNBALANCED,
    AlertLevel.WARNING: PartitionHealthStatus.WARNING,
    AlertLevel.INFO: PartitionHealthStatus.HEALTHY,
}
VERDICT_LEVELS = (PartitionHealthStatus.HEALTHY, PartitionHealthStatus.WARNING, PartitionHealthStatus.UNBALANCED)
"""The verdict's statuses, least severe first; a status's index is its level (0, 1, 2), the value of
the ``semantik_chunks_verdict`` gauge."""


@attrs.frozen
class Verdict:
    """The answer of a health check: ``status`` (what the CLI's exit code, JSON ``overall``, the API,
    the Celery task and the ``semantik_chunks_verdict`` gauge report) is the worst of every alert that
    is more than noise. ``placement`` answers "does the hash spread collections as chance predicts?",
    ``capacity`` "does any partition hold, or will it within the horizon, more than its budget?";
    ``causes`` are the causes of the alerts at the verdict's level (none when HEALTHY)."""

    status: PartitionHealthStatus
    placement: PartitionHealthStatus
    capacity: PartitionHealthStatus
    causes: tuple[AlertCause, ...]
    level: int = attrs.field(init=False)  # 0 HEALTHY, 1 WARNING, 2 UNBALANCED

    @level.default
    def _level(self) -> int:
        return VERDICT_LEVELS.index(self.status)


_CAPACITY_CAUSES = (AlertCause.CAPACITY, AlertCause.FORECAST)


def decide_verdict(alerts: Sequence[Alert]) -> Verdict:
    """The one function that decides a verdict: the worst alert level, overall and per question."""

    def worst(found: Iterable[Alert]) -> AlertLevel:
        levels = {a.level for a in found}
        return next((level for level in (AlertLevel.CRITICAL, AlertLevel.WARNING) if level in levels), AlertLevel.INFO)

    overall = worst(alerts)
    at_level = {a.cause for a in alerts if a.level is overall and overall is not AlertLevel.INFO}
    return Verdict(
        status=_VERDICT_OF_LEVEL[overall],
        placement=_VERDICT_OF_LEVEL[worst(a for a in alerts if a.cause is AlertCause.PLACEMENT)],
        capacity=_VERDICT_OF_LEVEL[worst(a for a in alerts if a.cause in _CAPACITY_CAUSES)],
        causes=tuple(cause for cause in AlertCause if cause in at_level),
    )


@attrs.frozen
class MonitoringResult:
    """Outcome of a full health check. A failed check carries ``error``, no alerts, no metrics and no
    verdict; a degraded one names the servers that did not answer in ``unreachable`` (and in a CRITICAL
    alert of cause ``monitoring``). ``verdict`` (and ``overall``, its status) is computed from the alerts
    by ``decide_verdict``, never given: whatever reports a result reports the same verdict."""

    status: CheckOutcome
    timestamp: datetime
    alerts: tuple[Alert, ...] = ()
    metrics: HealthMetrics | None = None
    error: str | None = None
    unreachable: tuple[ServerTotals, ...] = ()
    verdict: Verdict | None = attrs.field(init=False)
    overall: PartitionHealthStatus | None = attrs.field(init=False)

    @verdict.default
    def _decide(self) -> Verdict | None:
        return decide_verdict(self.alerts) if self.status is not CheckOutcome.FAILED else None

    @overall.default
    def _overall(self) -> PartitionHealthStatus | None:
        return self.verdict.status if self.verdict is not None else None

    @property
    def succeeded(self) -> bool:
        """The check ran and has metrics (``success`` or ``degraded``)."""
        return self.status is not CheckOutcome.FAILED

    @property
    def degraded(self) -> bool:
        return self.status is CheckOutcome.DEGRADED
