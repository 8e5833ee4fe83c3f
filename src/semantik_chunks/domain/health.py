"""Pure functions from per-partition facts to health statuses, skew metrics, alerts and advice.

Skew of a partition is ``|share - 1/N| / (1/N)``, i.e. ``|share * N - 1|``: 0 for a
partition holding exactly its fair share, 1 for an empty one, ``N - 1`` for one
holding everything.

Chance. Rows are placed by collection, so with collections of sizes s_1..s_K the
rows of a partition are a sum of whole collections. Under random (hash) placement
its share has variance ``(1/N)(1 - 1/N) * sum(s_i^2) / S^2``, so its skew has a
standard deviation of ``sqrt((N - 1) / K_eff)`` where ``K_eff = S^2 / sum(s_i^2)`` is
the effective number of collections (K for equal sizes, about 1 when one collection
dominates). ``chance_skew`` returns that figure; an imbalance counts as more than
chance only beyond ``thresholds.chance_z`` of it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence

from semantik_chunks.domain.hashing import partition_name
from semantik_chunks.domain.model import (
    Alert,
    AlertLevel,
    CollectionCount,
    CollectionShare,
    DistributionStats,
    HotPartition,
    PartitionHealth,
    PartitionHealthStatus,
    PartitionLoad,
    PartitionSnapshot,
    PartitionTemperature,
    Priority,
    Recommendation,
    SkewMetric,
    SkewStatus,
    WriteActivity,
)
from semantik_chunks.domain.thresholds import Thresholds

WARNING_RECOMMENDATION = "Monitor partition growth"
UNBALANCED_RECOMMENDATION = "Unbalanced: see the rebalancing recommendations for the collections behind it"


STALE_COLLECTION_STATS_ALERT = Alert(
    level=AlertLevel.INFO,
    message="collection_chunking_stats is missing or stale, so chance is judged from partition totals only",
    action="Refresh it (semantik-chunks refresh) for collection-level advice",
)


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


def _recommendation_text(status: PartitionHealthStatus) -> str | None:
    if status is PartitionHealthStatus.UNBALANCED:
        return UNBALANCED_RECOMMENDATION
    if status is PartitionHealthStatus.WARNING:
        return WARNING_RECOMMENDATION
    return None


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
                recommendation=_recommendation_text(status),
                size_bytes=snap.size_bytes,
            )
        )
    return result


def effective_collections(counts: Iterable[int]) -> float | None:
    """``S^2 / sum(s_i^2)``: how many equal collections would spread like these; None if no rows."""
    sizes = [c for c in counts if c > 0]
    squares = sum(c * c for c in sizes)
    if not squares:
        return None
    return float(sum(sizes)) ** 2 / squares


def chance_estimate(partition_rows: Sequence[int], collection_sizes: Sequence[int]) -> tuple[float | None, bool]:
    """``(K_eff, from_collections)``: K_eff from collection sizes when they account for at least
    half of the rows; otherwise (stale or missing collection statistics) the lower bound that the
    partition totals give, since merging collections into partitions only adds to ``sum(s_i^2)``.
    A lower K_eff means a wider chance band: stale statistics err towards fewer alarms."""
    total = sum(partition_rows)
    if collection_sizes and sum(collection_sizes) * 2 >= total:
        return effective_collections(collection_sizes), True
    return effective_collections(partition_rows), False


def chance_skew(partition_count: int, k_eff: float | None) -> float | None:
    """Standard deviation of a partition's chunk skew under random placement of K_eff collections."""
    if not k_eff:
        return None
    return math.sqrt((partition_count - 1) / k_eff)


def beyond_chance(skew: float, sigma: float | None, thresholds: Thresholds) -> bool:
    """Whether ``skew`` is more than chance explains; with no estimate of chance, it is taken as real."""
    return sigma is None or skew > thresholds.chance_z * sigma


def skew_metrics(
    snapshots: Sequence[PartitionSnapshot], partition_count: int, thresholds: Thresholds
) -> list[SkewMetric]:
    """``analyze_partition_skew()``: the worst chunk and size skew and the spread of chunk counts."""
    healths = partition_health(snapshots, partition_count, thresholds)
    counts = [h.chunk_count for h in healths]
    total = sum(counts)
    max_chunk = max((h.chunk_skew for h in healths), default=0.0)
    max_size = max((h.size_skew for h in healths), default=0.0)
    mean = total / partition_count
    variation = statistics.pstdev(counts) / mean if mean and len(counts) > 1 else 0.0
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
        stddev_chunks=statistics.stdev(counts) if len(counts) > 1 else 0.0,
        max_chunks=max_chunks,
        min_chunks=min(counts, default=0),
        max_skew_ratio=max_chunks / avg if avg else 0.0,
        empty_partitions=partition_count - sum(1 for c in counts if c > 0),
        effective_collections=k_eff,
        chance_skew=chance_skew(partition_count, k_eff),
        distribution_status=health_status(max_skew, thresholds),
    )


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
    activity: Sequence[WriteActivity],
    thresholds: Thresholds,
    collections_by_partition: Mapping[int, Sequence[CollectionShare]] | None = None,
) -> list[HotPartition]:
    """Partitions taking at least ``hot_hour_share`` of last hour's writes, hottest first."""
    hour_total = sum(a.last_hour for a in activity)
    if not hour_total:
        return []
    collections_by_partition = collections_by_partition or {}
    hot = [
        HotPartition(
            partition_num=a.partition_num,
            last_hour=a.last_hour,
            hour_share=a.last_hour / hour_total,
            top_collections=tuple(collections_by_partition.get(a.partition_num, ())),
        )
        for a in activity
        if a.last_hour / hour_total >= thresholds.hot_hour_share
    ]
    return sorted(hot, key=lambda h: (-h.hour_share, h.partition_num))


def explained_by_large_collections(
    h: PartitionHealth, large_total: int, partition_count: int, thresholds: Thresholds
) -> bool:
    """Whether the partition would be within the warning threshold without its large collections.

    A collection larger than a partition's fair share makes its partition over-full wherever it
    hashes, and in a heavy-tailed workload two of them sharing a partition is routine. Such a
    partition is big because its collections are: the workload's shape, not a placement fault, and
    no hash fixes it."""
    if not h.total_chunks or large_total <= 0:
        return False
    residual_skew = (h.chunk_count - large_total) * partition_count / h.total_chunks - 1.0
    return residual_skew < thresholds.warning


def collision_by_chance(sharing: int, large_collections: int, partition_count: int, thresholds: Thresholds) -> bool:
    """Whether ``sharing`` of ``large_collections`` large collections landing in one partition is
    what random placement produces: the chance that some partition gets that many
    (``N * C(L, m) / N^m``, a union bound) is above the two-sided tail of ``chance_z``."""
    if sharing <= 1:
        return True
    some_partition = partition_count * math.comb(large_collections, sharing) / float(partition_count) ** sharing
    return some_partition >= math.erfc(thresholds.chance_z / math.sqrt(2))


def large_collections_by_partition(
    counts: Iterable[CollectionCount], total_rows: int, partition_count: int
) -> dict[int, tuple[CollectionCount, ...]]:
    """Per partition, its collections holding more than a partition's fair share of all rows, largest first."""
    fair = total_rows / partition_count if partition_count else 0.0
    large: dict[int, list[CollectionCount]] = {}
    for count in counts:
        if total_rows and count.chunk_count > fair:
            large.setdefault(count.partition_num, []).append(count)
    return {p: tuple(sorted(found, key=lambda c: (-c.chunk_count, c.collection_id))) for p, found in large.items()}


def recommendations(
    healths: Sequence[PartitionHealth],
    thresholds: Thresholds,
    collections_by_partition: Mapping[int, Sequence[CollectionShare]],
    sigma: float | None,
    partition_count: int,
    large_collections: int | None = None,
) -> list[Recommendation]:
    """Advice for every over-full partition at or above the rebalance threshold, worst first.

    Under-full partitions need no action: they only mean the others carry more.
    Rows go where their collection hashes, so the advice names the collections behind
    a partition; no change of hash spreads a single collection over partitions.
    """
    result = []
    fair = 100.0 / partition_count
    for h in sorted(healths, key=lambda h: (-h.chunk_skew, h.partition_num)):
        if h.chunk_skew < thresholds.rebalance or h.chunk_percentage <= fair:
            continue
        shares = tuple(collections_by_partition.get(h.partition_num, ()))
        real = beyond_chance(h.chunk_skew, sigma, thresholds)
        fair_rows = h.total_chunks / partition_count
        large = [c for c in shares if c.chunk_count > fair_rows]
        by_chance = large_collections is None or collision_by_chance(
            len(large), large_collections, partition_count, thresholds
        )
        dominant = (
            large
            if by_chance
            and explained_by_large_collections(h, sum(c.chunk_count for c in large), partition_count, thresholds)
            else None
        )
        if dominant:
            held = sum(c.share_of_partition for c in dominant)
            who = (
                f"Collection {dominant[0].collection_id} alone holds"
                if len(dominant) == 1
                else f"Collections {', '.join(c.collection_id for c in dominant)} together hold"
            )
            action = (
                f"{who} {held:.0%} of this partition; a collection always lives in one partition, so no hash "
                "or partition-count change spreads it. If it keeps growing, give it a sub-partition of its own: "
                f"`semantik-chunks isolate {dominant[0].collection_id} --split-documents 4` "
                "(online; see docs/reshape.md)."
            )
        elif real:
            action = (
                "Several collections hash here and together exceed what chance explains. Check that every "
                "writer uses partition_for; if they do, more partitions spread collections thinner: see "
                "`semantik-chunks plan --partitions M`, then `semantik-chunks reshape --partitions M` (online)."
            )
        else:
            action = (
                "Within what random placement of this many collections produces; no action needed. "
                "It evens out as collections are added."
            )
        if h.chunk_skew >= thresholds.critical and real:
            priority = Priority.HIGH
        elif h.chunk_skew >= thresholds.critical:
            priority = Priority.MEDIUM
        else:
            priority = Priority.LOW
        result.append(
            Recommendation(
                partition=h.partition_num,
                reason=(f"High chunk skew: {h.chunk_percentage:.2f}% of chunks against a fair share of {fair:.2f}%"),
                current_skew=h.chunk_skew,
                action=action,
                priority=priority,
                top_collections=shares,
            )
        )
    return result


def _count_alert(
    partitions: Sequence[PartitionHealth],
    sigma: float | None,
    thresholds: Thresholds,
    *,
    level: AlertLevel,
    what: str,
    action: str,
) -> list[Alert]:
    if not partitions:
        return []
    real = [p for p in partitions if beyond_chance(p.chunk_skew, sigma, thresholds)]
    chance = [p for p in partitions if p not in real]
    alerts = []
    if real:
        alerts.append(
            Alert(
                level=level,
                message=f"{len(real)} partitions {what}",
                action=action,
                partitions=tuple(p.partition_num for p in real),
            )
        )
    if chance:
        alerts.append(
            Alert(
                level=AlertLevel.INFO,
                message=(
                    f"{len(chance)} partitions {what}, within what chance produces for this spread of "
                    f"collections (skew standard deviation {sigma:.2f})"
                ),
                action="None needed; the spread narrows as collections are added",
                partitions=tuple(p.partition_num for p in chance),
            )
        )
    return alerts


def _large_collections_alert(
    partitions: Sequence[PartitionHealth], large: Mapping[int, Sequence[CollectionCount]]
) -> Alert:
    names = ", ".join(
        f"{'+'.join(c.collection_id for c in large[p.partition_num])} in {p.partition_num}" for p in partitions[:3]
    )
    more = f" and {len(partitions) - 3} more" if len(partitions) > 3 else ""
    return Alert(
        level=AlertLevel.INFO,
        message=f"{len(partitions)} partitions are large because of collections larger than a fair share "
        f"({names}{more})",
        action=(
            "None for the hash: a collection always lives in one partition. If such a partition keeps "
            "growing, see the recommendations (autovacuum, sub-partitioning)"
        ),
        partitions=tuple(p.partition_num for p in partitions),
    )


def _hot_alerts(hot: Sequence[HotPartition], activity_last_hour: int, thresholds: Thresholds) -> list[Alert]:
    """Hot partitions. One collection being ingested makes its partition hot by design: INFO."""
    if not hot:
        return []
    ingest = [h for h in hot if h.top_collections and h.top_collections[0].share_of_partition >= 0.5]
    other = [h for h in hot if h not in ingest]
    enough = activity_last_hour >= thresholds.hot_min_writes
    share = f">= {thresholds.hot_hour_share:.1%} of {activity_last_hour} writes in the last hour"
    result = []
    if ingest:
        names = ", ".join(f"{h.top_collections[0].collection_id} in {h.partition_num}" for h in ingest[:3])
        result.append(
            Alert(
                level=AlertLevel.INFO,
                message=f"{len(ingest)} hot partitions took {share}, each mostly one collection's ingest ({names})",
                action="None: an ingest writes to its collection's partition only",
                partitions=tuple(h.partition_num for h in ingest),
            )
        )
    if other:
        result.append(
            Alert(
                level=AlertLevel.WARNING if enough else AlertLevel.INFO,
                message=f"{len(other)} hot partitions took {share}",
                action=(
                    "Check which collections write there (see hot partitions)"
                    if enough
                    else f"Too few writes to matter (fewer than {thresholds.hot_min_writes} in the last hour)"
                ),
                partitions=tuple(h.partition_num for h in other),
            )
        )
    return result


def alerts(
    healths: Sequence[PartitionHealth],
    hot: Sequence[HotPartition],
    activity_last_hour: int,
    sigma: float | None,
    thresholds: Thresholds,
    large: Mapping[int, Sequence[CollectionCount]] | None = None,
) -> list[Alert]:
    """Alerts from partition health and recent writes.

    Over-full partitions beyond chance raise CRITICAL (unbalanced) or WARNING. Those that chance
    explains, or that their large collections explain (``large``: per partition, its collections
    larger than a fair share), raise INFO only: both are the shape of the workload, not a fault."""
    large = large or {}
    partition_count = len(healths)
    fair = 100.0 / partition_count if healths else 0.0
    over = [h for h in healths if h.chunk_percentage > fair and h.health_status is not PartitionHealthStatus.HEALTHY]
    large_count = sum(len(found) for found in large.values())
    by_large = [
        h
        for h in over
        if explained_by_large_collections(
            h, sum(c.chunk_count for c in large.get(h.partition_num, ())), partition_count, thresholds
        )
        and collision_by_chance(len(large.get(h.partition_num, ())), large_count, partition_count, thresholds)
    ]
    rest = [h for h in over if h not in by_large]
    result = [_large_collections_alert(by_large, large)] if by_large else []
    result += _count_alert(
        [h for h in rest if h.health_status is PartitionHealthStatus.UNBALANCED],
        sigma,
        thresholds,
        level=AlertLevel.CRITICAL,
        what="are unbalanced",
        action="Review the rebalancing recommendations for the collections behind them",
    )
    result += _count_alert(
        [h for h in rest if h.health_status is PartitionHealthStatus.WARNING],
        sigma,
        thresholds,
        level=AlertLevel.WARNING,
        what="showing early signs of imbalance",
        action="Monitor closely and plan preventive maintenance",
    )
    return result + _hot_alerts(hot, activity_last_hour, thresholds)


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
                partition_name=partition_name(snap.partition_num, partition_count),
                row_count=snap.row_count,
                size_bytes=snap.size_bytes,
                dead_rows=snap.dead_rows,
                pct_deviation_from_avg=100.0 * deviation,
                temperature=temperature,
            )
        )
    return loads


def overall_status(found: Sequence[Alert]) -> PartitionHealthStatus:
    """The verdict a cron job acts on: the worst alert that is more than noise."""
    levels = {a.level for a in found}
    if AlertLevel.CRITICAL in levels:
        return PartitionHealthStatus.UNBALANCED
    if AlertLevel.WARNING in levels:
        return PartitionHealthStatus.WARNING
    return PartitionHealthStatus.HEALTHY
