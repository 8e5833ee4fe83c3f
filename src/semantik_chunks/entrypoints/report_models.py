"""The one serialisation layer: every report the library prints or answers, as a pydantic model.

The API's responses, the CLI's ``--format json`` documents and the Celery monitor task's
result are all dumps of these models (``model_dump(mode="json")``), and the published JSON
Schema of the CLI (``docs/cli.schema.json``) is generated from them::

    python -m semantik_chunks.entrypoints.report_models docs/cli.schema.json

One timestamp form everywhere: ISO 8601 in UTC with a ``Z``, e.g. ``2026-01-02T03:04:05.123456Z``.

Bounds (``minimum``, ``maximum``) are published in the schema but not enforced when a model
is built: a share that floating point puts a hair above 1 must not turn a report into an error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, GetJsonSchemaHandler, PlainSerializer, field_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import CoreSchema

from semantik_chunks.domain.history import ForecastStatus
from semantik_chunks.domain.model import (
    MAX_SPLIT_PARTS,
    AlertCause,
    AlertLevel,
    MonitoringResult,
    PartitionHealthStatus,
    Priority,
    SkewStatus,
)
from semantik_chunks.domain.pruning import PruningReport

TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def timestamp(value: datetime) -> str:
    """``value`` in the one published form: ISO 8601, UTC, with a ``Z`` (naive means UTC)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


class _Schema:
    """Annotation adding keywords to a type's JSON Schema without validating them."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema


class _Timestamp:
    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "description": "ISO 8601, UTC, with a Z", "pattern": TIMESTAMP_PATTERN}


Timestamp = Annotated[datetime, PlainSerializer(timestamp, return_type=str, when_used="json"), _Timestamp()]
Count = Annotated[int, _Schema(minimum=0)]
PartitionNum = Annotated[int, _Schema(minimum=0)]
PartitionCount = Annotated[int, _Schema(minimum=1)]
NonNegative = Annotated[float, _Schema(minimum=0)]
Fraction = Annotated[float, _Schema(minimum=0, maximum=1)]
Percentage = Annotated[float, _Schema(minimum=0, maximum=100)]
Mode = Literal["statistics", "exact"]
# CRITICAL only for a degraded check (a server holding partitions did not answer; docs/scale-out.md).
Verdict = Literal["HEALTHY", "WARNING", "UNBALANCED", "CRITICAL"]
CheckStatus = Literal["success", "degraded"]
SkewMetricName = Literal["chunk_distribution", "size_distribution", "chunk_count_variation"]
DatabaseLabel = Annotated[str, _Schema(description="embedded, memory://, or the URL without its password")]


class Model(BaseModel):
    """Read from the domain's attrs objects by attribute; no key beyond the declared ones."""

    model_config = ConfigDict(
        extra="forbid",
        from_attributes=True,
        json_schema_serialization_defaults_required=True,
    )


# -- parts ---------------------------------------------------------------------------------------


class PartitionAlert(Model):
    level: AlertLevel
    message: str
    action: str
    partitions: list[PartitionNum]
    cause: AlertCause
    command: Annotated[
        str | None, _Schema(description="The semantik-chunks command line that addresses the alert (null: none needed)")
    ]


class HealthVerdict(Model):
    """The verdict (``decide_verdict``): ``status`` is the worst alert that is more than noise; ``placement``
    and ``capacity`` answer each question; ``causes`` are those of the alerts at the verdict's level."""

    status: PartitionHealthStatus
    placement: PartitionHealthStatus
    capacity: PartitionHealthStatus
    causes: list[AlertCause]
    level: Annotated[
        Literal[0, 1, 2], _Schema(description="0 HEALTHY, 1 WARNING, 2 UNBALANCED: semantik_chunks_verdict")
    ]


class PartitionSkewMetric(Model):
    value: float
    status: SkewStatus
    details: str


class PartitionHealthMetrics(Model):
    total_partitions: Count
    total_chunks: Count
    unbalanced_count: Count
    warning_count: Count
    healthy_count: Count
    effective_collections: float | None
    chance_skew: float | None
    chance_from_collections: bool
    hot_partitions: list[PartitionNum]
    skew_metrics: dict[str, PartitionSkewMetric]
    mode: Mode

    @field_validator("skew_metrics", mode="before")
    @classmethod
    def _by_name(cls, value: Any) -> Any:
        """The domain's tuple of ``SkewMetric``, keyed by metric name as the API has always had it."""
        if isinstance(value, tuple | list):
            return {m.metric: PartitionSkewMetric.model_validate(m) for m in value}
        return value


class PartitionCollectionShare(Model):
    collection_id: str
    chunk_count: Count
    share_of_partition: Fraction
    share_of_total: Fraction


class RebalancingRecommendation(Model):
    # The API's name for the domain's ``partition_num``.
    partition: PartitionNum = Field(validation_alias=AliasChoices("partition_num", "partition"))
    reason: str
    current_skew: NonNegative
    action: str
    priority: Priority
    top_collections: list[PartitionCollectionShare]


class PartitionHealthRow(Model):
    """One partition's health, every field of the domain's ``PartitionHealth``."""

    partition_num: PartitionNum
    chunk_count: Count
    total_chunks: Count
    chunk_percentage: Percentage
    size_percentage: Percentage
    health_status: PartitionHealthStatus
    chunk_skew: NonNegative
    size_skew: NonNegative
    recommendation: str | None
    size_bytes: Count


class SkewMetricRow(Model):
    metric: SkewMetricName
    value: NonNegative
    status: SkewStatus
    details: str


class HotPartitionRow(Model):
    partition_num: PartitionNum
    last_hour: Count
    hour_share: Fraction
    top_collections: list[PartitionCollectionShare]


class DistributionSummary(Model):
    partition_count: PartitionCount
    partitions_used: Count
    total_chunks: Count
    total_size_bytes: Count
    avg_chunks_per_partition: NonNegative
    stddev_chunks: NonNegative
    max_chunks: Count
    min_chunks: Count
    max_skew_ratio: NonNegative
    empty_partitions: Count
    effective_collections: float | None
    chance_skew: float | None
    distribution_status: PartitionHealthStatus


class PartitionStatisticsSummary(Model):
    partition_count: PartitionCount
    total_chunks: Count
    total_size_mb: NonNegative
    avg_chunks_per_partition: NonNegative
    chunk_count_stddev: NonNegative


class PartitionStatisticsDetail(Model):
    partition_num: PartitionNum
    chunk_count: Count
    total_size_mb: NonNegative
    avg_chunk_size_kb: NonNegative
    # The API's name; the value is the newest chunk's creation time.
    created_at: Timestamp | None = Field(validation_alias=AliasChoices("newest_chunk_at", "created_at"))


class CollectionRow(Model):
    collection_id: str
    name: str | None
    chunked_documents: Count
    total_chunks: Count
    avg_tokens_per_chunk: float | None
    last_chunk_created: Timestamp | None
    partition_num: PartitionNum


class PartitionServer(Model):
    """One server's share of the table (``coordinator`` is the database holding ``chunks``), from its own
    statistics; a server that did not answer has ``reachable`` false, its ``error``, and zeros."""

    server: str
    partitions: list[PartitionNum]
    rows: Count
    size_bytes: Count
    reachable: bool
    error: str | None


# -- the API's responses (also the Celery monitor task's result) -----------------------------------


class PartitionHealthReport(Model):
    """A completed health check: alerts, aggregate metrics and the overall verdict; ``degraded`` when a
    server holding partitions did not answer (``unreachable`` names it; its partitions count as empty)."""

    status: CheckStatus
    timestamp: Timestamp
    alerts: list[PartitionAlert]
    metrics: PartitionHealthMetrics
    error: None
    overall: PartitionHealthStatus
    verdict: HealthVerdict
    unreachable: list[PartitionServer] = []


class PartitionHealthCheckFailed(Model):
    """The health check could not read the database (503)."""

    status: Literal["failed"]
    timestamp: Timestamp
    alerts: list[PartitionAlert]
    metrics: dict[str, Any]
    error: str
    overall: None
    verdict: None


class PartitionStatisticsResponse(Model):
    partition_num: PartitionNum | None
    statistics: PartitionStatisticsSummary | PartitionStatisticsDetail


class RebalancingRecommendations(Model):
    count: Count
    recommendations: list[RebalancingRecommendation]


class IsolatedCollectionRow(Model):
    """A collection with a sub-partition of its own (``semantik-chunks isolate``; the view
    ``partition_isolated_collections``): its partition's capacity is judged per leaf table."""

    collection_id: str
    partition_num: PartitionNum
    sub_partition: Annotated[str, _Schema(description="The collection's sub-partition (a table, or K hash parts)")]
    parts: Annotated[int, _Schema(minimum=1, maximum=MAX_SPLIT_PARTS, description="1, or K hash parts on id")]
    rows: Count
    bytes: Count


class IsolatedCollections(Model):
    """``GET /api/v2/partitions/isolated``: every isolated collection, by partition then id."""

    count: Count
    isolated: list[IsolatedCollectionRow]


class PartitionHealthEntry(Model):
    partition_num: PartitionNum
    health_status: PartitionHealthStatus
    chunk_percentage: Percentage
    chunk_skew: NonNegative
    chunk_count: Count
    size_bytes: Count
    size_percentage: Percentage
    size_skew: NonNegative
    recommendation: str | None


class PartitionHealthSummary(Model):
    total_partitions: Count
    healthy_count: Count
    warning_count: Count
    unbalanced_count: Count
    health_percentage: Percentage
    partitions: list[PartitionHealthEntry]


class PartitionServers(Model):
    status: CheckStatus
    servers: list[PartitionServer]


class PartitionsError(Model):
    detail: str


def health_report(result: MonitoringResult) -> PartitionHealthReport | PartitionHealthCheckFailed:
    """A health check's result as the API answers it and the monitor task returns it (a failed
    check has no metrics: ``{}``)."""
    fields: dict[str, Any] = {
        "status": result.status.value,
        "timestamp": result.timestamp,
        "alerts": [PartitionAlert.model_validate(a) for a in result.alerts],
        "metrics": {} if result.metrics is None else PartitionHealthMetrics.model_validate(result.metrics),
        "error": result.error,
        "overall": result.overall,
        "verdict": None if result.verdict is None else HealthVerdict.model_validate(result.verdict),
    }
    if result.succeeded:
        fields["unreachable"] = [PartitionServer.model_validate(s) for s in result.unreachable]
        return PartitionHealthReport.model_validate(fields)
    return PartitionHealthCheckFailed.model_validate(fields)


# -- history and forecast (API and CLI) ------------------------------------------------------------


class HistoryPoint(Model):
    taken_at: Timestamp
    row_count: Count
    size_bytes: Count
    dead_rows: Count
    writes: Count


class PartitionHistoryEntry(Model):
    partition_num: PartitionNum
    partition_name: str
    row_count: Count
    row_change: int
    rows_per_day: float | None
    writes: Count
    points: list[HistoryPoint]


class PartitionHistoryResponse(Model):
    since: Timestamp
    partition_num: PartitionNum | None
    snapshots: Count
    partitions: list[PartitionHistoryEntry]


class CapacityBudget(Model):
    share_factor: Annotated[float, _Schema(exclusiveMinimum=1)]
    max_bytes: Annotated[int | None, _Schema(exclusiveMinimum=0)]


class PartitionForecastEntry(Model):
    partition_num: PartitionNum
    partition_name: str
    samples: Count
    row_count: Count
    size_bytes: Count
    rows_per_day: float | None
    bytes_per_day: float | None
    share_of_fair: NonNegative
    status: ForecastStatus
    budget_kind: Literal["share", "bytes"] | None
    crosses_at: Timestamp | None
    days_to_budget: Annotated[float | None, _Schema(minimum=0)]
    summary: str


class PartitionForecastResponse(Model):
    generated_at: Timestamp
    window_days: Annotated[float, _Schema(exclusiveMinimum=0)]
    snapshots: Count
    min_snapshots: Count
    estimator: str
    budget: CapacityBudget
    partitions: list[PartitionForecastEntry]


# -- the CLI's documents ---------------------------------------------------------------------------


class HealthDocument(Model):
    command: Literal["health"]
    generated_at: Timestamp
    partition_count: PartitionCount
    mode: Mode
    overall: Verdict
    exit_code: Literal[0, 1, 4]
    verdict: HealthVerdict
    status: CheckStatus
    timestamp: Timestamp
    alerts: list[PartitionAlert]
    metrics: PartitionHealthMetrics
    error: None
    unreachable: list[PartitionServer]
    partitions: list[PartitionHealthRow]


class DistributionDocument(Model):
    command: Literal["distribution"]
    generated_at: Timestamp
    partition_count: PartitionCount
    mode: Mode
    summary: DistributionSummary
    partitions: list[PartitionHealthRow]


class SizesDocument(Model):
    command: Literal["sizes"]
    generated_at: Timestamp
    partition_count: PartitionCount
    summary: PartitionStatisticsSummary
    partitions: list[PartitionHealthRow]
    isolated: list[IsolatedCollectionRow]


class HotDocument(Model):
    command: Literal["hot"]
    generated_at: Timestamp
    partition_count: PartitionCount
    hot_hour_share: Fraction
    hot_partitions: list[HotPartitionRow]


class SkewDocument(Model):
    command: Literal["skew"]
    generated_at: Timestamp
    partition_count: PartitionCount
    mode: Mode
    metrics: list[SkewMetricRow]
    effective_collections: float | None
    chance_skew: float | None


class CollectionsDocument(Model):
    command: Literal["collections"]
    generated_at: Timestamp
    partition_count: PartitionCount
    total_collections: Count
    total_chunks: Count
    collections: list[CollectionRow]


class FullDocument(Model):
    command: Literal["full"]
    generated_at: Timestamp
    partition_count: PartitionCount
    mode: Mode
    overall: Verdict
    exit_code: Literal[0, 1, 4]
    verdict: HealthVerdict
    status: CheckStatus
    timestamp: Timestamp
    alerts: list[PartitionAlert]
    metrics: PartitionHealthMetrics
    error: None
    unreachable: list[PartitionServer]
    partitions: list[PartitionHealthRow]
    distribution: DistributionSummary
    skew_metrics: list[SkewMetricRow]
    hot_hour_share: Fraction
    hot_partitions: list[HotPartitionRow]
    recommendations: list[RebalancingRecommendation]
    total_collections: Count
    top_collections: Annotated[list[CollectionRow], _Schema(maxItems=10)]
    isolated: list[IsolatedCollectionRow]


class RefreshDocument(Model):
    command: Literal["refresh"]
    generated_at: Timestamp
    collections: Count
    duration_seconds: NonNegative


class MigrateDocument(Model):
    """``rows_moved`` and ``move_seconds`` appear only when the migration ran on a database."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    command: Literal["migrate"]
    generated_at: Timestamp
    database: DatabaseLabel
    revisions: list[str]
    rows_moved: Annotated[
        Count, _Schema(description="misplaced rows of an adopted host table moved to their partitions")
    ] = 0
    move_seconds: NonNegative = 0.0


class LargestCollection(Model):
    collection_id: str
    name: str
    chunk_count: Count


class DemoDocument(Model):
    command: Literal["demo"]
    generated_at: Timestamp
    database: DatabaseLabel
    seed: Count
    generation: Count
    collections: Count
    documents: Count
    chunks: Count
    duration_seconds: NonNegative
    chunks_per_second: Annotated[int | None, _Schema(minimum=0)]
    largest_collection: LargestCollection | None
    ingesting_collections: list[str]


class PartitionMove(Model):
    partition_num: PartitionNum
    gain: Count
    lose: Count


class MigratePreviewDocument(Model):
    command: Literal["migrate"]
    generated_at: Timestamp
    database: DatabaseLabel
    dry_run: Literal[True]
    partition_count: PartitionCount
    rows_to_move: Count
    partitions: list[PartitionMove]


class MigrateCurrentDocument(Model):
    """``migrate current``: the library's revisions the database has (empty before the first migration)."""

    command: Literal["migrate current"]
    generated_at: Timestamp
    database: DatabaseLabel
    revisions: Annotated[list[str], _Schema(description="applied revisions; empty: none of the library's schema")]


class MigrationRevision(Model):
    revision: str
    down_revision: Annotated[str | None, _Schema(description="the revision it follows; null for the first")]
    description: str
    applied: bool


class MigrateHistoryDocument(Model):
    """``migrate history``: every revision of the library, oldest first, and which the database has."""

    command: Literal["migrate history"]
    generated_at: Timestamp
    database: DatabaseLabel
    revisions: list[MigrationRevision]


class SnapshotDocument(Model):
    command: Literal["snapshot"]
    generated_at: Timestamp
    partition_count: PartitionCount
    taken_at: Timestamp
    partitions: Count
    pruned: Count
    retention_days: Annotated[float, _Schema(exclusiveMinimum=0)]


class PartitionHistoryRow(Model):
    partition_num: PartitionNum
    partition_name: str
    first_taken_at: Timestamp
    last_taken_at: Timestamp
    row_count: Count
    row_change: int
    rows_per_day: float | None
    writes: Count
    points: Annotated[list[HistoryPoint], _Schema(minItems=1)]


class HistoryDocument(Model):
    command: Literal["history"]
    generated_at: Timestamp
    partition_count: PartitionCount
    since: Timestamp
    partition: PartitionNum | None
    snapshots: Count
    partitions: list[PartitionHistoryRow]


class ForecastDocument(Model):
    command: Literal["forecast"]
    generated_at: Timestamp
    partition_count: PartitionCount
    window_days: Annotated[float, _Schema(exclusiveMinimum=0)]
    snapshots: Count
    min_snapshots: Count
    estimator: str
    budget: CapacityBudget
    partitions: list[PartitionForecastEntry]


class ServerRow(Model):
    """A server as ``servers`` shows it: where it is (never its credentials), what it holds, whether it answered."""

    name: str
    host: str
    port: int | None
    database: str
    partitions: list[PartitionNum]
    rows: Count | None
    size_bytes: Count | None
    reachable: bool
    error: str | None


class ServersAddDocument(Model):
    command: Literal["servers add"]
    generated_at: Timestamp
    server: ServerRow


class ServersListDocument(Model):
    command: Literal["servers list"]
    generated_at: Timestamp
    servers: list[ServerRow]


class ServersRemoveDocument(Model):
    command: Literal["servers remove"]
    generated_at: Timestamp
    server: str


class PartitionPlacementMove(Model):
    partition: PartitionNum
    source: str
    target: str
    rows: Count
    rows_copied: Count
    rows_replayed: Count
    seconds: NonNegative
    rows_per_second: NonNegative
    checksum: str
    already_done: bool


class PlannedPartitionMove(Model):
    partition: PartitionNum
    source: str
    target: str
    size_bytes: Count


class SpreadPlanRow(Model):
    servers: list[str]
    moves: list[PlannedPartitionMove]
    bytes_before: dict[str, Count]
    bytes_after: dict[str, Count]


class PlaceDocument(Model):
    """``place``: the moves made; with ``--spread`` also the plan, whether it was applied, and how long it took."""

    command: Literal["place"]
    generated_at: Timestamp
    moves: list[PartitionPlacementMove]
    plan: SpreadPlanRow | None = None
    applied: bool | None = None
    duration_seconds: NonNegative | None = None


# -- statements on chunks that miss pruning (``semantik-chunks queries``, ``GET /queries``) ----------


class UnprunedStatementEntry(Model):
    query_id: int | None
    query: str
    calls: Count
    total_time_ms: NonNegative
    mean_time_ms: NonNegative
    rows: Count
    partitions_read: Annotated[int, _Schema(minimum=2)]
    reads_every_partition: bool
    share_of_chunks_time: Fraction
    fix: str


class UnanalysedStatementEntry(Model):
    query_id: int | None
    query: str | None
    calls: Count
    total_time_ms: NonNegative
    reason: str


class StatementPruning(Model):
    """Statements on chunks (from pg_stat_statements) judged by how many partitions their plans read."""

    partition_count: PartitionCount
    statements: Count
    analysed: Count
    pruned: Count
    chunks_time_ms: NonNegative
    every_partition_time_ms: NonNegative
    every_partition_time_share: Fraction
    alert_share: Annotated[float, _Schema(exclusiveMinimum=0, maximum=1)]
    alerts: Annotated[list[PartitionAlert], _Schema(description="The pruning alert (cause pruning), if raised")]
    unpruned: list[UnprunedStatementEntry]
    not_analysed: list[UnanalysedStatementEntry]


class QueriesDocument(StatementPruning):
    """``semantik-chunks queries``: the same fields as ``GET /queries``, with the command's envelope."""

    command: Literal["queries"]
    generated_at: Timestamp
    exit_code: Literal[0, 1]


def statement_pruning_fields(report: PruningReport) -> dict[str, Any]:
    """The fields of ``StatementPruning`` from the domain's report."""
    return {
        "partition_count": report.partition_count,
        "statements": report.statements,
        "analysed": report.analysed,
        "pruned": report.pruned,
        "chunks_time_ms": report.chunks_time_ms,
        "every_partition_time_ms": report.every_partition_time_ms,
        "every_partition_time_share": report.every_partition_time_share,
        "alert_share": report.alert_share,
        "alerts": [PartitionAlert.model_validate(a) for a in report.alerts],
        "unpruned": [UnprunedStatementEntry.model_validate(s) for s in report.unpruned],
        "not_analysed": [UnanalysedStatementEntry.model_validate(s) for s in report.not_analysed],
    }


CLI_DOCUMENTS: tuple[type[Model], ...] = (
    HealthDocument,
    DistributionDocument,
    SizesDocument,
    HotDocument,
    SkewDocument,
    CollectionsDocument,
    FullDocument,
    RefreshDocument,
    MigrateDocument,
    DemoDocument,
    MigratePreviewDocument,
    MigrateCurrentDocument,
    MigrateHistoryDocument,
    SnapshotDocument,
    HistoryDocument,
    ForecastDocument,
    ServersAddDocument,
    ServersListDocument,
    ServersRemoveDocument,
    PlaceDocument,
    QueriesDocument,
)


def dumps(document: Model) -> str:
    """A CLI document as printed: two-space indents, non-ASCII escaped (terminal-safe), no NaN."""
    return json.dumps(document.model_dump(mode="json", exclude_unset=isinstance(document, MigrateDocument)), indent=2)


# -- the published schema ----------------------------------------------------------------------------


class _Untitled(GenerateJsonSchema):
    """No ``title`` on every property: the key says it."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def cli_json_schema() -> dict[str, Any]:
    """The JSON Schema of every ``--format json`` document (``docs/cli.schema.json``)."""
    refs, definitions = models_json_schema(
        [(model, "serialization") for model in CLI_DOCUMENTS],
        ref_template="#/$defs/{model}",
        schema_generator=_Untitled,
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/semantik/semantik-chunks/docs/cli.schema.json",
        "title": "semantik-chunks --format json",
        "description": (
            "Every document the CLI prints with --format json; the command key says which one. Keys are stable: "
            "a key is never dropped or renamed within a major version, and no key appears that is not listed here. "
            "Generated from semantik_chunks.entrypoints.report_models; do not edit by hand."
        ),
        "oneOf": [refs[(model, "serialization")] for model in CLI_DOCUMENTS],
        "$defs": definitions["$defs"],
    }


def cli_json_schema_text() -> str:
    return json.dumps(cli_json_schema(), indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m semantik_chunks.entrypoints.report_models [PATH]``: write the schema (stdout without PATH)."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = cli_json_schema_text()
    if args:
        Path(args[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
