"""Skew measures: from per-partition facts to skews, statuses, loads and hot partitions.

Skew of a partition is ``|share - 1/N| / (1/N)``, i.e. ``|share * N - 1|``: 0 for a
partition holding exactly its fair share, 1 for an empty one, ``N - 1`` for one
holding everything.

The coefficient of variation of chunk counts (``coefficient_of_variation``) is the
*population* standard deviation over the mean: the N partitions are the whole
population, not a sample of it. ``analyze_partition_skew()`` computes the same in SQL
(``stddev_pop``); ``DistributionStats.stddev_chunks`` stays the sample deviation that the
host's ``partition_distribution`` view (``stddev``) reports.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

from semantik_chunks.domain.advice import recommendation_text
from semantik_chunks.domain.chance import chance_skew
from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.model import (
    COORDINATOR_SERVER,
    CollectionCount,
    CollectionShare,
    DistributionStats,
    HotPartition,
    PartitionHealth,
    PartitionHealthStatus,
    PartitionLoad,
    PartitionSnapshot,
    PartitionTemperature,
    ServerTotals,
    SkewMetric,
    SkewStatus,
)
from semantik_chunks.domain.thresholds import Thresholds


def skew_factor(part: float, total: float, partition_count: int) -> float:
    """``|share - 1/N| / (1/N)``; 0 for an empty table."""
    if total <= 0:
        return 0.0
    # One rounding (of an exact integer ratio) keeps a skew of exactly 0.3 at 0.3, as numeric in SQL does.
    return abs(part * partition_count - total) / total


def health_status(chunk_skew: float, thresholds: Thresholds) -> PartitionHealthStatus:
    if chunk_skew >= thresholds.critical:
        return PartitionHealthStatus.UNBALANCED
    if chunk_skew >= thresholds.warning:
        return PartitionHealthStatus.WARNING
    return PartitionHealthStatus.HEALTHY


def skew_status(value: float, thresholds: Thresholds) -> SkewStatus:
    if value >= thresholds.critical:
        return SkewStatus.CRITICAL
    if value >= thresholds.warning:
        return SkewStatus.WARNING
    return SkewStatus.NORMAL


def coefficient_of_variation(counts: Sequence[int]) -> float:
    """Population standard deviation of ``counts`` over their mean (``stddev_pop / avg``, see the module
    docstring); 0 for an empty table or a single partition."""
    total = sum(counts)
    if len(counts) < 2 or not total:
        return 0.0
    return statistics.pstdev(counts) / (total / len(counts))


def partition_health(
    snapshots: Sequence[PartitionSnapshot], partition_count: int, thresholds: Thresholds
) -> list[PartitionHealth]:
    """Health of every partition, in partition order. Status follows the chunk skew."""
    total_rows = sum(s.row_count for s in snapshots)
    total_bytes = sum(s.size_bytes for s in snapshots)
    result = []
    for snap in sorted(snapshots, key=lambda s: s.partition_num):
        chunk_skew = skew_factor(snap.row_count, total_rows, partition_count)
        status = health_status(chunk_skew, thresholds)
        result.append(
            PartitionHealth(
                partition_num=snap.partition_num,
                chunk_count=snap.row_count,
                total_chunks=total_rows,
                chunk_percentage=100.0 * snap.row_count / total_rows if total_rows else 0.0,
                size_percentage=100.0 * snap.size_bytes / total_bytes if total_bytes else 0.0,
                health_status=status,
                chunk_skew=chunk_skew,
                size_skew=skew_factor(snap.size_bytes, total_bytes, partition_count),
                recommendation=recommendation_text(status),
                size_bytes=snap.size_bytes,
            )
        )
    return result


def skew_metrics(
    snapshots: Sequence[PartitionSnapshot], partition_count: int, thresholds: Thresholds
) -> list[SkewMetric]:
    """``analyze_partition_skew()``: the worst chunk and size skew and the spread of chunk counts."""
    healths = partition_health(snapshots, partition_count, thresholds)
    counts = [h.chunk_count for h in healths]
    total = sum(counts)
    max_chunk = max((h.chunk_skew for h in healths), default=0.0)
    max_size = max((h.size_skew for h in healths), default=0.0)
    variation = coefficient_of_variation(counts)
    worst_chunk = max(healths, key=lambda h: h.chunk_skew, default=None)
    worst_size = max(healths, key=lambda h: h.size_skew, default=None)
    return [
        SkewMetric(
            metric="chunk_distribution",
            value=max_chunk,
            status=skew_status(max_chunk, thresholds),
            details=(
                f"max chunk skew {max_chunk:.3f} at partition {worst_chunk.partition_num}"
                if worst_chunk and total
                else "no chunks stored"
            ),
        ),
        SkewMetric(
            metric="size_distribution",
            value=max_size,
            status=skew_status(max_size, thresholds),
            details=(
                f"max size skew {max_size:.3f} at partition {worst_size.partition_num}"
                if worst_size and total
                else "no chunks stored"
            ),
        ),
        SkewMetric(
            metric="chunk_count_variation",
            value=variation,
            status=skew_status(variation, thresholds),
            details=f"coefficient of variation of chunk counts over {partition_count} partitions",
        ),
    ]


def distribution_stats(
    snapshots: Sequence[PartitionSnapshot],
    partition_count: int,
    thresholds: Thresholds,
    k_eff: float | None = None,
) -> DistributionStats:
    counts = [s.row_count for s in snapshots]
    total = sum(counts)
    avg = total / partition_count if partition_count else 0.0
    max_chunks = max(counts, default=0)
    max_skew = skew_factor(max_chunks, total, partition_count)
    return DistributionStats(
        partition_count=partition_count,
        partitions_used=sum(1 for c in counts if c > 0),
        total_chunks=total,
        total_size_bytes=sum(s.size_bytes for s in snapshots),
        avg_chunks_per_partition=avg,
        stddev_chunks=statistics.stdev(counts) if len(counts) > 1 else 0.0,  # sample, as SQL's stddev
        max_chunks=max_chunks,
        min_chunks=min(counts, default=0),
        max_skew_ratio=max_chunks / avg if avg else 0.0,
        empty_partitions=partition_count - sum(1 for c in counts if c > 0),
        effective_collections=k_eff,
        chance_skew=chance_skew(partition_count, k_eff),
        distribution_status=health_status(max_skew, thresholds),
    )


def partition_loads(
    snapshots: Sequence[PartitionSnapshot], partition_count: int, thresholds: Thresholds
) -> list[PartitionLoad]:
    """HOT / COLD / NORMAL by deviation from the average, at the warning threshold."""
    total = sum(s.row_count for s in snapshots)
    avg = total / partition_count if partition_count else 0.0
    loads = []
    for snap in sorted(snapshots, key=lambda s: s.partition_num):
        deviation = (snap.row_count * partition_count - total) / total if avg else 0.0  # one rounding, as above
        if avg and deviation >= thresholds.warning:
            temperature = PartitionTemperature.HOT
        elif avg and -deviation >= thresholds.warning:
            temperature = PartitionTemperature.COLD
        else:
            temperature = PartitionTemperature.NORMAL
        loads.append(
            PartitionLoad(
                partition_num=snap.partition_num,
                partition_name=partition_table_name(snap.partition_num, partition_count),
                row_count=snap.row_count,
                size_bytes=snap.size_bytes,
                dead_rows=snap.dead_rows,
                pct_deviation_from_avg=100.0 * deviation,
                temperature=temperature,
            )
        )
    return loads


def collection_shares(
    counts: Iterable[CollectionCount], partition_rows: int, total_rows: int, limit: int = 5
) -> tuple[CollectionShare, ...]:
    """The largest collections of one partition, with their weight in it and in the table."""
    top = sorted(counts, key=lambda c: (-c.chunk_count, c.collection_id))[:limit]
    return tuple(
        CollectionShare(
            collection_id=c.collection_id,
            chunk_count=c.chunk_count,
            share_of_partition=c.chunk_count / partition_rows if partition_rows else 0.0,
            share_of_total=c.chunk_count / total_rows if total_rows else 0.0,
        )
        for c in top
    )


def hot_partitions(
    last_hour: Mapping[int, int],
    thresholds: Thresholds,
    collections_by_partition: Mapping[int, Sequence[CollectionShare]] | None = None,
) -> list[HotPartition]:
    """Partitions taking at least ``hot_hour_share`` of last hour's writes (``last_hour``: rows written
    per partition), hottest first."""
    hour_total = sum(last_hour.values())
    if not hour_total:
        return []
    collections_by_partition = collections_by_partition or {}
    hot = [
        HotPartition(
            partition_num=partition,
            last_hour=written,
            hour_share=written / hour_total,
            top_collections=tuple(collections_by_partition.get(partition, ())),
        )
        for partition, written in last_hour.items()
        if written / hour_total >= thresholds.hot_hour_share
    ]
    return sorted(hot, key=lambda h: (-h.hour_share, h.partition_num))


def server_totals(snapshots: Sequence[PartitionSnapshot]) -> list[ServerTotals]:
    """Per server (the coordinator first, then by name): its partitions, rows, bytes, and whether it answered."""
    by_server: dict[str, list[PartitionSnapshot]] = {}
    for snap in sorted(snapshots, key=lambda s: s.partition_num):
        by_server.setdefault(snap.server, []).append(snap)
    result = []
    for server in sorted(by_server, key=lambda name: (name != COORDINATOR_SERVER, name)):
        held = by_server[server]
        errors = [s.unreachable for s in held if s.unreachable]
        result.append(
            ServerTotals(
                server=server,
                partitions=tuple(s.partition_num for s in held),
                rows=sum(s.row_count for s in held),
                size_bytes=sum(s.size_bytes for s in held),
                reachable=not errors,
                error=errors[0] if errors else None,
            )
        )
    return result
