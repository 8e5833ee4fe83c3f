"""Reports as JSON documents: stable keys (docs/cli.md lists them), ISO-8601 UTC timestamps.

Every document starts with ``command``, ``generated_at`` and ``partition_count``; reports that
can count exactly add ``mode`` ("statistics" or "exact"). Domain objects keep their field names.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import HealthMetrics, Recommendation
from semantik_chunks.entrypoints.cli.reports import (
    CollectionRow,
    CollectionsReport,
    DistributionReport,
    FullReport,
    HealthReport,
    HotReport,
    SizesReport,
    SkewReport,
)
from semantik_chunks.services.demo import DemoSummary

JSON = dict[str, Any]

if TYPE_CHECKING:
    from semantik_chunks.domain.adoption import MoveReport


def timestamp(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``, e.g. ``2025-10-20T10:15:00.123456Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _serialize(_instance: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def plain(value: Any) -> Any:
    """A domain object (or a list of them) as JSON-ready dicts under its own field names."""
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return attrs.asdict(value, value_serializer=_serialize)


def dumps(document: JSON) -> str:
    return json.dumps(document, indent=2, allow_nan=False)


def _envelope(command: str, generated_at: datetime, partition_count: int, **fields: Any) -> JSON:
    return {"command": command, "generated_at": timestamp(generated_at), "partition_count": partition_count, **fields}


def health_metrics(metrics: HealthMetrics | None) -> JSON:
    """The health check's metrics, ``skew_metrics`` keyed by metric name; ``{}`` for a failed check."""
    if metrics is None:
        return {}
    fields = attrs.asdict(metrics, value_serializer=_serialize)
    fields["skew_metrics"] = {m.pop("metric"): m for m in fields["skew_metrics"]}
    return fields


def _health_fields(report: HealthReport) -> JSON:
    result = report.result
    return {
        "overall": result.overall.value if result.overall else None,
        "exit_code": int(report.exit_code),
        "status": result.status.value,
        "timestamp": timestamp(result.timestamp),
        "alerts": plain(result.alerts),
        "metrics": health_metrics(result.metrics),
        "error": result.error,
        "partitions": plain(report.partitions),
    }


def health(report: HealthReport) -> JSON:
    return _envelope("health", report.generated_at, report.partition_count, mode=report.mode, **_health_fields(report))


def distribution(report: DistributionReport) -> JSON:
    return _envelope(
        "distribution",
        report.generated_at,
        report.partition_count,
        mode=report.mode,
        summary=plain(report.summary),
        partitions=plain(report.partitions),
    )


def sizes(report: SizesReport) -> JSON:
    return _envelope(
        "sizes",
        report.generated_at,
        report.partition_count,
        summary=plain(report.summary),
        partitions=plain(report.partitions),
    )


def hot(report: HotReport) -> JSON:
    return _envelope(
        "hot",
        report.generated_at,
        report.partition_count,
        hot_hour_share=report.hot_hour_share,
        hot_partitions=plain(report.hot_partitions),
    )


def skew(report: SkewReport) -> JSON:
    return _envelope(
        "skew",
        report.generated_at,
        report.partition_count,
        mode=report.mode,
        metrics=plain(report.metrics),
        effective_collections=report.effective_collections,
        chance_skew=report.chance_skew,
    )


def _collection(row: CollectionRow) -> JSON:
    # ``collection_id`` as everywhere else in these documents (the view calls the column ``id``).
    fields = plain(row.stats)
    return {"collection_id": fields.pop("id"), **fields, "partition_num": row.partition_num}


def collections(report: CollectionsReport) -> JSON:
    return _envelope(
        "collections",
        report.generated_at,
        report.partition_count,
        total_collections=report.total_collections,
        total_chunks=report.total_chunks,
        collections=[_collection(row) for row in report.collections],
    )


def _recommendation(recommendation: Recommendation) -> JSON:
    # ``partition`` as the API names it (the domain's ``partition_num``).
    fields = plain(recommendation)
    return {"partition": fields.pop("partition_num"), **fields}


def full(report: FullReport) -> JSON:
    checked = report.health
    return _envelope(
        "full",
        checked.generated_at,
        checked.partition_count,
        mode=checked.mode,
        **_health_fields(checked),
        distribution=plain(report.distribution),
        skew_metrics=plain(report.skew),
        hot_hour_share=report.hot.hot_hour_share,
        hot_partitions=plain(report.hot.hot_partitions),
        recommendations=[_recommendation(r) for r in report.recommendations],
        total_collections=report.collections.total_collections,
        top_collections=[_collection(row) for row in report.collections.collections],
    )


def command_result(command: str, generated_at: datetime, **fields: Any) -> JSON:
    """The document of a command that changes something (refresh, migrate, demo)."""
    return {"command": command, "generated_at": timestamp(generated_at), **fields}


def demo(summary: DemoSummary, took: float, database: str) -> JSON:
    largest = summary.largest
    return command_result(
        "demo",
        utc_now(),
        database=database,
        seed=summary.seed,
        generation=summary.generation,
        collections=len(summary.collections),
        documents=summary.documents,
        chunks=summary.chunks,
        duration_seconds=round(took, 3),
        chunks_per_second=round(summary.chunks / took) if took else None,
        largest_collection=(
            {"collection_id": largest.collection_id, "name": largest.name, "chunk_count": largest.chunk_count}
            if largest
            else None
        ),
        ingesting_collections=[c.collection_id for c in summary.collections if c.ingesting],
    )


def move_preview(preview: MoveReport, database: str) -> JSON:
    """``migrate --dry-run``: rows each partition would gain and lose, partitions without change left out."""
    partitions = sorted(set(preview.would_gain) | set(preview.would_lose))
    return command_result(
        "migrate",
        utc_now(),
        database=database,
        dry_run=True,
        partition_count=preview.partition_count,
        rows_to_move=preview.would_move,
        partitions=[
            {"partition_num": p, "gain": preview.would_gain.get(p, 0), "lose": preview.would_lose.get(p, 0)}
            for p in partitions
        ],
    )
