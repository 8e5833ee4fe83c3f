"""History and forecast use cases: take a snapshot of every partition, read the history, forecast growth."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from semantik_chunks.domain import history
from semantik_chunks.domain.clock import Clock, utc_now
from semantik_chunks.domain.history import (
    DEFAULT_FORECAST_WINDOW,
    DEFAULT_RETENTION,
    Budget,
    PartitionForecast,
    PartitionSeries,
    capacity_budget,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.ports import PartitionHistory, PartitionStatistics


@attrs.frozen
class SnapshotTaken:
    taken_at: datetime
    partitions: int
    pruned: int
    retention: timedelta


@attrs.frozen
class ForecastReport:
    generated_at: datetime
    window: timedelta
    budget: Budget
    snapshots: int  # distinct snapshots in the window
    partitions: tuple[PartitionForecast, ...]  # in partition order


class PartitionHistoryService:
    """Snapshots (O(partitions) each), the history of a window, and forecasts from it."""

    def __init__(
        self,
        statistics_port: PartitionStatistics,
        history_port: PartitionHistory,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        retention: timedelta = DEFAULT_RETENTION,
        clock: Clock = utc_now,
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError(f"retention must be positive, got {retention}")
        self._stats = statistics_port
        self._history = history_port
        self.thresholds = thresholds
        self.retention = retention
        self._clock = clock

    @property
    def partition_count(self) -> int:
        return self._stats.partition_count

    @property
    def budget(self) -> Budget:
        """A partition's capacity budget, the verdict's (``Thresholds.capacity``, ``max_partition_bytes``)."""
        return capacity_budget(self.thresholds)

    def check_partition(self, partition_num: int | None) -> None:
        if partition_num is not None and not 0 <= partition_num < self.partition_count:
            raise ValueError(f"partition must be between 0 and {self.partition_count - 1}, got {partition_num}")

    async def take_snapshot(self) -> SnapshotTaken:
        """Record every partition's rows, bytes, dead rows and writes now, then prune what is older than
        the retention period. A clock behind the newest snapshot raises ``ClockWentBackwardsError``
        and changes nothing."""
        snapshots = await self._stats.partition_snapshots(exact=False)
        # A partition whose server did not answer reads as empty (a degraded check, docs/scale-out.md):
        # recorded, that zero would look like the partition emptied and refilled, so its history keeps a
        # gap there instead.
        readable = [s for s in snapshots if s.unreachable is None]
        taken_at = self._clock()
        stored = await self._history.record(readable, taken_at)
        pruned = await self._history.prune(taken_at - self.retention)
        return SnapshotTaken(taken_at=taken_at, partitions=stored, pruned=pruned, retention=self.retention)

    async def history(self, since: datetime, partition_num: int | None = None) -> list[PartitionSeries]:
        """Each partition's samples since ``since`` (partitions without any left out)."""
        self.check_partition(partition_num)
        return history.series_by_partition(await self._history.read(since, partition_num))

    async def forecast(self, window: timedelta = DEFAULT_FORECAST_WINDOW) -> ForecastReport:
        """Every partition's growth over the last ``window`` and when it crosses its budget."""
        if window <= timedelta(0):
            raise ValueError(f"the forecast window must be positive, got {window}")
        now = self._clock()
        samples = await self._history.read(now - window)
        budget = self.budget
        return ForecastReport(
            generated_at=now,
            window=window,
            budget=budget,
            snapshots=len({s.taken_at for s in samples}),
            partitions=tuple(history.forecast(samples, self.partition_count, budget)),
        )
