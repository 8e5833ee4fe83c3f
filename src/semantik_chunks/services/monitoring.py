"""Partition health monitoring over the statistics port: the use cases of seed 002."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from semantik_chunks.domain import advice, chance, history, skew
from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.concurrency import concurrently
from semantik_chunks.domain.errors import AlertDeliveryError, ChunksError
from semantik_chunks.domain.model import (
    Alert,
    AlertCause,
    AlertLevel,
    CheckOutcome,
    CollectionCount,
    DistributionStats,
    HealthMetrics,
    HotPartition,
    IsolatedCollection,
    MonitoringResult,
    PartitionDetail,
    PartitionHealth,
    PartitionHealthStatus,
    PartitionSnapshot,
    Recommendation,
    ServerTotals,
    SkewMetric,
    StatisticsSummary,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.ports import AlertSink, PartitionHistory, PartitionStatistics

logger = logging.getLogger(__name__)

TOP_COLLECTIONS = 5
_TICK = timedelta(microseconds=1)  # timestamptz's resolution
_MB = 1024 * 1024


class PartitionMonitoringService:
    """Health, skew, statistics and advice for the partitions. Speaks domain types only."""

    def __init__(
        self,
        statistics_port: PartitionStatistics,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        clock: Clock = utc_now,
        history_port: PartitionHistory | None = None,
        forecast_window: timedelta = history.DEFAULT_FORECAST_WINDOW,
    ) -> None:
        self._stats = statistics_port
        self.thresholds = thresholds
        self._clock = clock
        self._history = history_port
        self._forecast_window = forecast_window
        # The last forecast, with the oldest and newest snapshot times it was computed from.
        self._forecast_cache: tuple[datetime, datetime, list[history.PartitionForecast]] | None = None

    @property
    def partition_count(self) -> int:
        return self._stats.partition_count

    # -- reads -------------------------------------------------------------------------
    async def _snapshots(self, exact: bool) -> list[PartitionSnapshot]:
        return await self._stats.partition_snapshots(exact=exact)

    async def get_server_totals(self) -> list[ServerTotals]:
        """Per server (the coordinator first): partitions, rows, bytes, and whether it answered."""
        return skew.server_totals(await self._snapshots(exact=False))

    async def get_partition_health_summary(self, *, exact: bool = False) -> list[PartitionHealth]:
        """Every partition's health, most skewed first."""
        healths = skew.partition_health(await self._snapshots(exact), self.partition_count, self.thresholds)
        return sorted(healths, key=lambda h: (-h.chunk_skew, h.partition_num))

    async def analyze_partition_skew(self, *, exact: bool = False) -> list[SkewMetric]:
        return skew.skew_metrics(await self._snapshots(exact), self.partition_count, self.thresholds)

    async def get_distribution(self, *, exact: bool = False) -> DistributionStats:
        snapshots = await self._snapshots(exact)
        _, k_eff, _ = self._chance(snapshots, await self._stats.collection_counts(exact=exact))
        return skew.distribution_stats(snapshots, self.partition_count, self.thresholds, k_eff)

    def _chance(
        self, snapshots: Sequence[PartitionSnapshot], counts: Sequence[CollectionCount]
    ) -> tuple[float | None, float | None, bool]:
        """``(sigma, K_eff, from_collections)``: how much skew chance explains (``chance.chance_estimate``)."""
        k_eff, from_collections = chance.chance_estimate(
            [s.row_count for s in snapshots], [c.chunk_count for c in counts]
        )
        return chance.chance_skew(self.partition_count, k_eff), k_eff, from_collections

    async def get_forecasts(self) -> list[history.PartitionForecast]:
        """Every partition's forecast against the capacity budget, from the snapshots of the forecast
        window (its cost follows the window, not the retention); empty without a history."""
        if self._history is None:
            return []
        since = self._clock() - self._forecast_window
        cached = self._forecast_cache
        # The samples of the window change only when a snapshot is recorded (a newer sample; pruning
        # happens then too) or when the oldest one leaves the window: until then the forecast stands,
        # and asking for samples newer than the newest one is one probe of the history's index.
        if cached is not None and cached[0] >= since and not await self._history.read(cached[1] + _TICK):
            return cached[2]
        samples = await self._history.read(since)
        found = history.forecast(samples, self.partition_count, history.capacity_budget(self.thresholds))
        if samples:
            taken = [s.taken_at for s in samples]
            self._forecast_cache = (min(taken), max(taken), found)
        return found

    async def get_isolated_collections(self) -> list[IsolatedCollection]:
        """The collections with a sub-partition of their own, with their parts, rows and bytes."""
        return await self._stats.isolated_collections()

    async def get_top_collections(self, limit: int) -> list[CollectionCount]:
        """The ``limit`` largest collections, largest first (statistics: ``collection_chunking_stats``)."""
        return await self._stats.collection_counts(limit=limit)

    async def get_hot_partitions(self) -> list[HotPartition]:
        """Partitions taking at least the hot share of last hour's writes, with who wrote there."""
        return await self._hot_with_collections(await self._stats.last_hour_writes())

    async def _hot_with_collections(self, last_hour: Mapping[int, int]) -> list[HotPartition]:
        hot = skew.hot_partitions(last_hour, self.thresholds)
        hour_total = sum(last_hour.values())
        result = []
        for h in hot:
            counts = await self._stats.recent_collection_counts(h.partition_num, TOP_COLLECTIONS)
            shares = skew.collection_shares(counts, h.last_hour, hour_total)
            result.append(attrs.evolve(h, top_collections=shares))
        return result

    async def get_rebalancing_recommendations(self, *, exact: bool = False) -> list[Recommendation]:
        snapshots, counts, isolated = await concurrently(
            self._snapshots(exact), self._stats.collection_counts(exact=exact), self._stats.isolated_collections()
        )
        healths = skew.partition_health(snapshots, self.partition_count, self.thresholds)
        total = sum(h.chunk_count for h in healths)
        by_partition: dict[int, list[CollectionCount]] = {}
        for count in counts:
            by_partition.setdefault(count.partition_num, []).append(count)
        shares = {
            h.partition_num: list(
                skew.collection_shares(by_partition.get(h.partition_num, ()), h.chunk_count, total, TOP_COLLECTIONS)
            )
            for h in healths
            if h.chunk_skew >= self.thresholds.rebalance
        }
        sigma, _, from_collections = self._chance(snapshots, counts)
        large = chance.large_collections_by_partition(counts, total, self.partition_count)
        large_count = sum(len(found) for found in large.values()) if from_collections else None
        return advice.recommendations(
            healths, self.thresholds, shares, sigma, self.partition_count, large_count, isolated
        )

    async def get_partition_statistics(self, partition_num: int | None = None) -> StatisticsSummary | PartitionDetail:
        """One partition's ``partition_stats`` row, or the aggregate over all partitions."""
        snapshots = await self._snapshots(exact=False)
        if partition_num is None:
            counts = [s.row_count for s in snapshots]
            return StatisticsSummary(
                partition_count=len(snapshots),
                total_chunks=sum(counts),
                total_size_mb=sum(s.size_bytes for s in snapshots) / _MB,
                avg_chunks_per_partition=sum(counts) / len(counts) if counts else 0.0,
                chunk_count_stddev=statistics.stdev(counts) if len(counts) > 1 else 0.0,
            )
        if not 0 <= partition_num < self.partition_count:
            raise ValueError(f"partition_num must be between 0 and {self.partition_count - 1}, got {partition_num}")
        snap = next(s for s in snapshots if s.partition_num == partition_num)
        return PartitionDetail(
            partition_num=partition_num,
            chunk_count=snap.row_count,
            total_size_mb=snap.size_bytes / _MB,
            avg_chunk_size_kb=snap.size_bytes / snap.row_count / 1024 if snap.row_count else 0.0,
            newest_chunk_at=snap.newest_chunk_at,
        )

    # -- the health check ----------------------------------------------------------------
    async def check_partition_health(self, *, exact: bool = False) -> MonitoringResult:
        """Everything at once, with alerts, delivered to nobody (the API's and the CLI's check).
        Never raises: a failure is a "failed" result."""
        try:
            return await self._check(exact)
        except Exception as exc:  # the contract: a health check reports failure, it does not raise
            logger.warning("partition health check failed: %s", exc)
            reason = str(exc) if isinstance(exc, ChunksError) else f"{type(exc).__name__}: {exc}"
            return MonitoringResult(status=CheckOutcome.FAILED, timestamp=self._clock(), error=reason)

    async def check_and_alert(self, sinks: Sequence[AlertSink], *, also: Sequence[Alert] = ()) -> MonitoringResult:
        """The scheduled health check, the one path that delivers alerts: check, then hand the
        alerts (for a failed check, one CRITICAL alert saying so) and the verdict to every sink.

        Every sink is tried; if any could not deliver, raises ``AlertDeliveryError`` naming them
        afterwards, so that the caller (the monitor task) retries and finally fails visibly. ``also``:
        alerts of other checks (the pruning alert) delivered with those of a check that succeeded."""
        result = await self.check_partition_health()
        alerts = (*result.alerts, *also) if result.succeeded else (check_failed_alert(result.error),)
        if not alerts:
            return result
        failed: list[str] = []
        for sink in sinks:
            try:
                await sink.send(alerts, overall=result.overall)
            except Exception as exc:  # one broken sink must not silence the others
                logger.error("alert sink %s failed: %s", type(sink).__name__, exc)
                failed.append(type(sink).__name__)
        if failed:
            raise AlertDeliveryError(
                f"could not deliver {len(alerts)} alerts to {', '.join(failed)} "
                f"({len(sinks) - len(failed)} of {len(sinks)} sinks delivered)",
                tuple(failed),
            )
        return result

    async def _check(self, exact: bool) -> MonitoringResult:
        # Independent reads: concurrently, each on a connection of its own; if one fails, the
        # others are cancelled and awaited before its error goes on (``concurrently``: no orphans). Of
        # the writes, only last hour's: the week that write_activity also counts is read by nobody here.
        snapshots, counts, last_hour, forecasts, isolated = await concurrently(
            self._snapshots(exact),
            self._stats.collection_counts(exact=exact),
            self._stats.last_hour_writes(),
            self.get_forecasts(),
            self._stats.isolated_collections(),
        )
        if exact:
            # The isolated collections' rows as counted now, like the partitions' (bytes stay the catalog's).
            counted = {(c.collection_id, c.partition_num): c.chunk_count for c in counts}
            isolated = [attrs.evolve(i, rows=counted.get((i.collection_id, i.partition_num), 0)) for i in isolated]
        healths = skew.partition_health(snapshots, self.partition_count, self.thresholds)
        skews = skew.skew_metrics(snapshots, self.partition_count, self.thresholds)
        sigma, k_eff, from_collections = self._chance(snapshots, counts)
        total = sum(h.chunk_count for h in healths)
        large = chance.large_collections_by_partition(counts, total, self.partition_count) if from_collections else {}
        hot = await self._hot_with_collections(last_hour)
        by_partition: dict[int, list[CollectionCount]] = {}
        for count in counts:
            by_partition.setdefault(count.partition_num, []).append(count)
        # Capacity first: it is the question a partition beyond its budget raises whatever placement says.
        # An isolated collection's partition is judged per leaf table (the remedy applied: advice.capacity_alerts).
        found = advice.capacity_alerts(healths, by_partition, self.thresholds, isolated)
        horizon, now = timedelta(days=self.thresholds.forecast_horizon_days), self._clock()
        crossing = [
            f
            for f in forecasts
            if f.status is history.ForecastStatus.CROSSING and history.crosses_within(f, horizon, now)
        ]
        found += advice.forecast_alerts(crossing, by_partition, self.partition_count, self.thresholds, isolated)
        found += advice.alerts(healths, hot, sum(last_hour.values()), sigma, self.thresholds, large)
        if healths and healths[0].total_chunks and not from_collections:
            found.append(advice.STALE_COLLECTION_STATS_ALERT)
        unreachable = tuple(s for s in skew.server_totals(snapshots) if not s.reachable)
        if unreachable:
            found.insert(0, advice.unreachable_alert(unreachable))
        by_status = {s: sum(1 for h in healths if h.health_status is s) for s in PartitionHealthStatus}
        metrics = HealthMetrics(
            total_partitions=len(healths),
            total_chunks=sum(h.chunk_count for h in healths),
            unbalanced_count=by_status[PartitionHealthStatus.UNBALANCED],
            warning_count=by_status[PartitionHealthStatus.WARNING],
            healthy_count=by_status[PartitionHealthStatus.HEALTHY],
            effective_collections=k_eff,
            chance_skew=sigma,
            chance_from_collections=from_collections,
            hot_partitions=tuple(h.partition_num for h in hot),
            skew_metrics=tuple(skews),
            mode="exact" if exact else "statistics",
        )
        return MonitoringResult(
            status=CheckOutcome.DEGRADED if unreachable else CheckOutcome.SUCCESS,
            timestamp=self._clock(),
            alerts=tuple(found),
            metrics=metrics,
            unreachable=unreachable,
        )


def check_failed_alert(error: str | None) -> Alert:
    """What the sinks hear when the check itself failed: a monitor that cannot read is news."""
    return Alert(
        level=AlertLevel.CRITICAL,
        message=f"partition health check failed: {error}",
        action="Check that the database is reachable and migrated",
        cause=AlertCause.MONITORING,
        command="semantik-chunks migrate",
    )
