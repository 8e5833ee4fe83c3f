"""What each report command shows, gathered from the services in one place.

A report is plain data: ``render`` draws it as tables, ``payloads`` turns it into JSON.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import (
    CollectionStats,
    DistributionStats,
    HotPartition,
    MonitoringResult,
    PartitionHealth,
    PartitionHealthStatus,
    Recommendation,
    SkewMetric,
    StatisticsSummary,
)
from semantik_chunks.entrypoints.cli.errors import CommandError, ExitCode

FULL_REPORT_COLLECTIONS = 10


def mode_name(exact: bool) -> str:
    return "exact" if exact else "statistics"


def verdict_exit_code(overall: PartitionHealthStatus | None) -> ExitCode:
    if overall is PartitionHealthStatus.WARNING:
        return ExitCode.WARNING
    if overall in (PartitionHealthStatus.UNBALANCED, PartitionHealthStatus.CRITICAL):
        return ExitCode.UNBALANCED
    if overall is PartitionHealthStatus.HEALTHY:
        return ExitCode.HEALTHY
    return ExitCode.COULD_NOT_CHECK


@attrs.frozen
class HealthReport:
    generated_at: datetime
    mode: str
    partition_count: int
    result: MonitoringResult
    partitions: tuple[PartitionHealth, ...]  # in partition order
    chance_z: float  # how many standard deviations of chance skew count as real

    @property
    def exit_code(self) -> ExitCode:
        return verdict_exit_code(self.result.overall)


@attrs.frozen
class DistributionReport:
    generated_at: datetime
    mode: str
    partition_count: int
    summary: DistributionStats
    partitions: tuple[PartitionHealth, ...]  # in partition order


@attrs.frozen
class SizesReport:
    generated_at: datetime
    partition_count: int
    summary: StatisticsSummary
    partitions: tuple[PartitionHealth, ...]  # largest first


@attrs.frozen
class HotReport:
    generated_at: datetime
    partition_count: int
    hot_hour_share: float
    hot_partitions: tuple[HotPartition, ...]


@attrs.frozen
class SkewReport:
    generated_at: datetime
    mode: str
    partition_count: int
    metrics: tuple[SkewMetric, ...]
    effective_collections: float | None
    chance_skew: float | None


@attrs.frozen
class CollectionRow:
    stats: CollectionStats
    partition_num: int


@attrs.frozen
class CollectionsReport:
    generated_at: datetime
    partition_count: int
    total_collections: int
    total_chunks: int
    collections: tuple[CollectionRow, ...]  # largest first


@attrs.frozen
class FullReport:
    health: HealthReport
    distribution: DistributionStats
    skew: tuple[SkewMetric, ...]
    hot: HotReport
    recommendations: tuple[Recommendation, ...]
    collections: CollectionsReport


async def health(container: Container, *, exact: bool) -> HealthReport:
    service = container.monitoring_service()
    # Read the partitions first: a failure here raises the domain's error (which names the fix),
    # while the health check below reports failure as a result.
    partitions = await service.get_partition_health_summary(exact=exact)
    result = await service.check_partition_health(exact=exact)
    if not result.succeeded:
        raise CommandError(f"the health check failed: {result.error}")
    return HealthReport(
        generated_at=utc_now(),
        mode=mode_name(exact),
        partition_count=service.partition_count,
        result=result,
        partitions=tuple(sorted(partitions, key=lambda p: p.partition_num)),
        chance_z=service.thresholds.chance_z,
    )


async def distribution(container: Container, *, exact: bool) -> DistributionReport:
    service = container.monitoring_service()
    partitions = await service.get_partition_health_summary(exact=exact)
    return DistributionReport(
        generated_at=utc_now(),
        mode=mode_name(exact),
        partition_count=service.partition_count,
        summary=await service.get_distribution(exact=exact),
        partitions=tuple(sorted(partitions, key=lambda p: p.partition_num)),
    )


async def sizes(container: Container) -> SizesReport:
    service = container.monitoring_service()
    summary = await service.get_partition_statistics()
    assert isinstance(summary, StatisticsSummary)
    partitions = await service.get_partition_health_summary()
    return SizesReport(
        generated_at=utc_now(),
        partition_count=service.partition_count,
        summary=summary,
        partitions=tuple(sorted(partitions, key=lambda p: (-p.size_bytes, p.partition_num))),
    )


async def hot(container: Container) -> HotReport:
    service = container.monitoring_service()
    return HotReport(
        generated_at=utc_now(),
        partition_count=service.partition_count,
        hot_hour_share=service.thresholds.hot_hour_share,
        hot_partitions=tuple(await service.get_hot_partitions()),
    )


async def skew(container: Container, *, exact: bool) -> SkewReport:
    service = container.monitoring_service()
    metrics = await service.analyze_partition_skew(exact=exact)
    spread = await service.get_distribution(exact=exact)
    return SkewReport(
        generated_at=utc_now(),
        mode=mode_name(exact),
        partition_count=service.partition_count,
        metrics=tuple(metrics),
        effective_collections=spread.effective_collections,
        chance_skew=spread.chance_skew,
    )


async def collections(container: Container, *, limit: int | None) -> CollectionsReport:
    """The rows of ``collection_chunking_stats`` (as fresh as its last refresh), largest first."""
    statistics = container.partition_statistics()
    partition_count = statistics.partition_count
    rows = sorted(await statistics.collection_stats(), key=lambda s: (-s.total_chunks, s.id))
    shown = rows if limit is None else rows[:limit]
    return CollectionsReport(
        generated_at=utc_now(),
        partition_count=partition_count,
        total_collections=len(rows),
        total_chunks=sum(s.total_chunks for s in rows),
        collections=tuple(CollectionRow(s, partition_for(s.id, partition_count)) for s in shown),
    )


async def refresh(container: Container) -> int:
    """Refresh ``collection_chunking_stats``; return how many collections it now holds."""
    statistics = container.partition_statistics()
    await statistics.refresh_collection_stats()
    return len(await statistics.collection_stats())


async def full(container: Container, *, exact: bool) -> FullReport:
    service = container.monitoring_service()
    checked = await health(container, exact=exact)
    return FullReport(
        health=checked,
        distribution=await service.get_distribution(exact=exact),
        skew=tuple(await service.analyze_partition_skew(exact=exact)),
        hot=await hot(container),
        recommendations=tuple(await service.get_rebalancing_recommendations(exact=exact)),
        collections=await collections(container, limit=FULL_REPORT_COLLECTIONS),
    )
