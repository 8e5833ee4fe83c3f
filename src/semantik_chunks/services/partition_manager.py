"""Routing questions (which partition?) and the table-wide view of seed 000's PartitionManager."""

from __future__ import annotations

import uuid
from typing import ClassVar

from semantik_chunks.domain import chance, skew
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import partition_for, partition_table_name, validate_partition_count
from semantik_chunks.domain.model import (
    DistributionStats,
    EfficiencyReport,
    PartitionHealth,
    PartitionLoad,
    PartitionTemperature,
)
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds
from semantik_chunks.ports import PartitionStatistics


class PartitionManager:
    """``PartitionManager().get_partition_name(collection_id)`` needs no database; the health
    methods need a statistics port."""

    # The host's PartitionManager (seed 000) declares its partition count here; its tests read it.
    # An instance's own count is ``partition_count`` (CHUNK_PARTITION_COUNT may configure another).
    PARTITION_COUNT: ClassVar[int] = 100

    def __init__(
        self,
        partition_count: int = PARTITION_COUNT,
        statistics_port: PartitionStatistics | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self.partition_count = validate_partition_count(partition_count)
        if statistics_port is not None and statistics_port.partition_count != partition_count:
            raise ConfigurationError(
                f"the statistics port has {statistics_port.partition_count} partitions, "
                f"the manager was configured for {partition_count}"
            )
        self._stats = statistics_port
        self.thresholds = thresholds

    def get_partition_num(self, collection_id: str | uuid.UUID) -> int:
        return partition_for(collection_id, self.partition_count)

    def get_partition_name(self, collection_id: str | uuid.UUID) -> str:
        return partition_table_name(self.get_partition_num(collection_id), self.partition_count)

    def get_all_partition_names(self) -> list[str]:
        return [partition_table_name(i, self.partition_count) for i in range(self.partition_count)]

    def _port(self) -> PartitionStatistics:
        if self._stats is None:
            raise ConfigurationError("this PartitionManager has no statistics port; pass statistics_port=")
        return self._stats

    async def get_partition_health(self, *, exact: bool = False) -> list[PartitionHealth]:
        snapshots = await self._port().partition_snapshots(exact=exact)
        return skew.partition_health(snapshots, self.partition_count, self.thresholds)

    async def get_partition_loads(self, *, exact: bool = False) -> list[PartitionLoad]:
        snapshots = await self._port().partition_snapshots(exact=exact)
        return skew.partition_loads(snapshots, self.partition_count, self.thresholds)

    async def get_distribution_stats(self, *, exact: bool = False) -> DistributionStats:
        port = self._port()
        snapshots = await port.partition_snapshots(exact=exact)
        sizes = [c.chunk_count for c in await port.collection_counts(exact=exact)]
        k_eff, _ = chance.chance_estimate([s.row_count for s in snapshots], sizes)
        return skew.distribution_stats(snapshots, self.partition_count, self.thresholds, k_eff)

    async def get_overfull_partitions(self, *, exact: bool = False) -> list[PartitionLoad]:
        """Partitions holding more rows than the average by the warning threshold (HOT in ``partition_health``).
        For partitions taking many of last hour's writes, see ``PartitionMonitoringService.get_hot_partitions``."""
        loads = await self.get_partition_loads(exact=exact)
        return [load for load in loads if load.temperature is PartitionTemperature.HOT]

    async def get_cold_partitions(self, *, exact: bool = False) -> list[PartitionLoad]:
        loads = await self.get_partition_loads(exact=exact)
        return [load for load in loads if load.temperature is PartitionTemperature.COLD]

    async def get_efficiency_report(self, *, exact: bool = False) -> EfficiencyReport:
        stats = await self.get_distribution_stats(exact=exact)
        loads = await self.get_partition_loads(exact=exact)
        hot = tuple(x.partition_num for x in loads if x.temperature is PartitionTemperature.HOT)
        cold = tuple(x.partition_num for x in loads if x.temperature is PartitionTemperature.COLD)
        largest = stats.max_chunks / stats.total_chunks if stats.total_chunks else 0.0
        # The coefficient of variation of analyze_partition_skew()'s chunk_count_variation (population).
        balance = max(0.0, 1.0 - skew.coefficient_of_variation([x.row_count for x in loads]))
        if not stats.total_chunks:
            summary = "The table is empty."
        else:
            summary = (
                f"{stats.partitions_used} of {stats.partition_count} partitions hold data; "
                f"the largest holds {largest:.1%} of chunks ({stats.max_skew_ratio:.2f}x the average)."
            )
            if stats.chance_skew is not None:
                summary += (
                    f" With about {stats.effective_collections:.0f} equally sized collections' worth of data, "
                    f"chance alone gives a per-partition skew of about {stats.chance_skew:.2f}."
                )
        return EfficiencyReport(
            partition_count=stats.partition_count,
            partitions_used=stats.partitions_used,
            utilization=stats.partitions_used / stats.partition_count,
            balance_score=balance,
            largest_partition_share=largest,
            effective_collections=stats.effective_collections,
            chance_skew=stats.chance_skew,
            hot_partitions=hot,
            cold_partitions=cold,
            summary=summary,
        )
