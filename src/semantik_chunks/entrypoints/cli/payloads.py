"""Reports as JSON documents: the CLI's reports mapped onto ``report_models``, the one serialisation layer.

Every document starts with ``command``, ``generated_at`` and ``partition_count``; reports that
can count exactly add ``mode`` ("statistics" or "exact"). Domain objects keep their field names.
Timestamps are ISO 8601 in UTC with a ``Z``. ``docs/cli.schema.json`` is generated from the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.entrypoints import report_models as m
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

if TYPE_CHECKING:
    from semantik_chunks.domain.adoption import MoveReport
    from semantik_chunks.domain.schema import SchemaRevision

JSON = m.Model  # a CLI document; ``dumps`` prints it
dumps = m.dumps


def _health_fields(report: HealthReport) -> dict[str, Any]:
    checked = m.health_report(report.result)
    return {
        "overall": checked.overall,
        "exit_code": int(report.exit_code),
        "verdict": checked.verdict,
        "status": checked.status,
        "timestamp": checked.timestamp,
        "alerts": checked.alerts,
        "metrics": checked.metrics,
        "error": checked.error,
        "unreachable": getattr(checked, "unreachable", []),
        "partitions": report.partitions,
    }


def health(report: HealthReport) -> m.HealthDocument:
    return m.HealthDocument.model_validate(
        {
            "command": "health",
            "generated_at": report.generated_at,
            "partition_count": report.partition_count,
            "mode": report.mode,
            **_health_fields(report),
        }
    )


def distribution(report: DistributionReport) -> m.DistributionDocument:
    return m.DistributionDocument(
        command="distribution",
        generated_at=report.generated_at,
        partition_count=report.partition_count,
        mode=report.mode,  # type: ignore[arg-type]
        summary=m.DistributionSummary.model_validate(report.summary),
        partitions=[m.PartitionHealthRow.model_validate(p) for p in report.partitions],
    )


def isolated(found: Sequence[IsolatedCollection]) -> list[m.IsolatedCollectionRow]:
    return [m.IsolatedCollectionRow.model_validate(i) for i in found]


def sizes(report: SizesReport, isolated_collections: Sequence[IsolatedCollection] = ()) -> m.SizesDocument:
    return m.SizesDocument(
        command="sizes",
        generated_at=report.generated_at,
        partition_count=report.partition_count,
        summary=m.PartitionStatisticsSummary.model_validate(report.summary),
        partitions=[m.PartitionHealthRow.model_validate(p) for p in report.partitions],
        isolated=isolated(isolated_collections),
    )


def _hot_rows(report: HotReport) -> list[m.HotPartitionRow]:
    return [m.HotPartitionRow.model_validate(h) for h in report.hot_partitions]


def hot(report: HotReport) -> m.HotDocument:
    return m.HotDocument(
        command="hot",
        generated_at=report.generated_at,
        partition_count=report.partition_count,
        hot_hour_share=report.hot_hour_share,
        hot_partitions=_hot_rows(report),
    )


def skew(report: SkewReport) -> m.SkewDocument:
    return m.SkewDocument.model_validate(
        {
            "command": "skew",
            "generated_at": report.generated_at,
            "partition_count": report.partition_count,
            "mode": report.mode,
            "metrics": report.metrics,
            "effective_collections": report.effective_collections,
            "chance_skew": report.chance_skew,
        }
    )


def _collection(row: CollectionRow) -> m.CollectionRow:
    # ``collection_id`` as everywhere else in these documents (the view calls the column ``id``).
    s = row.stats
    return m.CollectionRow(
        collection_id=s.id,
        name=s.name,
        chunked_documents=s.chunked_documents,
        total_chunks=s.total_chunks,
        avg_tokens_per_chunk=s.avg_tokens_per_chunk,
        last_chunk_created=s.last_chunk_created,
        partition_num=row.partition_num,
    )


def collections(report: CollectionsReport) -> m.CollectionsDocument:
    return m.CollectionsDocument(
        command="collections",
        generated_at=report.generated_at,
        partition_count=report.partition_count,
        total_collections=report.total_collections,
        total_chunks=report.total_chunks,
        collections=[_collection(row) for row in report.collections],
    )


def full(report: FullReport, isolated_collections: Sequence[IsolatedCollection] = ()) -> m.FullDocument:
    checked = report.health
    return m.FullDocument.model_validate(
        {
            "command": "full",
            "generated_at": checked.generated_at,
            "partition_count": checked.partition_count,
            "mode": checked.mode,
            **_health_fields(checked),
            "distribution": report.distribution,
            "skew_metrics": report.skew,
            "hot_hour_share": report.hot.hot_hour_share,
            "hot_partitions": _hot_rows(report.hot),
            "recommendations": report.recommendations,
            "total_collections": report.collections.total_collections,
            "top_collections": [_collection(row) for row in report.collections.collections],
            "isolated": isolated(isolated_collections),
        }
    )


_COMMAND_RESULTS: dict[str, type[m.Model]] = {
    "refresh": m.RefreshDocument,
    "migrate": m.MigrateDocument,
    "servers add": m.ServersAddDocument,
    "servers list": m.ServersListDocument,
    "servers remove": m.ServersRemoveDocument,
    "place": m.PlaceDocument,
}


def command_result(command: str, generated_at: datetime, **fields: Any) -> JSON:
    """The document of a command that changes something (``refresh``, ``migrate``)."""
    return _COMMAND_RESULTS[command].model_validate({"command": command, "generated_at": generated_at, **fields})


def demo(summary: DemoSummary, took: float, database: str) -> m.DemoDocument:
    largest = summary.largest
    return m.DemoDocument(
        command="demo",
        generated_at=utc_now(),
        database=database,
        seed=summary.seed,
        generation=summary.generation,
        collections=len(summary.collections),
        documents=summary.documents,
        chunks=summary.chunks,
        duration_seconds=round(took, 3),
        chunks_per_second=round(summary.chunks / took) if took else None,
        largest_collection=(
            m.LargestCollection(collection_id=largest.collection_id, name=largest.name, chunk_count=largest.chunk_count)
            if largest
            else None
        ),
        ingesting_collections=[c.collection_id for c in summary.collections if c.ingesting],
    )


def migrate_current(applied: Sequence[str], database: str) -> m.MigrateCurrentDocument:
    """``migrate current``: the revisions the database has."""
    return m.MigrateCurrentDocument(
        command="migrate current", generated_at=utc_now(), database=database, revisions=list(applied)
    )


def migrate_history(revisions: Sequence[SchemaRevision], database: str) -> m.MigrateHistoryDocument:
    """``migrate history``: every revision, oldest first, each saying whether the database has it."""
    return m.MigrateHistoryDocument(
        command="migrate history",
        generated_at=utc_now(),
        database=database,
        revisions=[m.MigrationRevision.model_validate(r) for r in revisions],
    )


def move_preview(preview: MoveReport, database: str) -> m.MigratePreviewDocument:
    """``migrate --dry-run``: rows each partition would gain and lose, partitions without change left out."""
    partitions = sorted(set(preview.would_gain) | set(preview.would_lose))
    return m.MigratePreviewDocument(
        command="migrate",
        generated_at=utc_now(),
        database=database,
        dry_run=True,
        partition_count=preview.partition_count,
        rows_to_move=preview.would_move,
        partitions=[
            m.PartitionMove(partition_num=p, gain=preview.would_gain.get(p, 0), lose=preview.would_lose.get(p, 0))
            for p in partitions
        ],
    )
