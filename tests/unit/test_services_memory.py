"""The services over the in-memory adapters: PartitionManager and PartitionMonitoringService."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from semantik_chunks import partition_for
from semantik_chunks.adapters.memory.alerts import CollectingAlertSink
from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.domain import advice, chance
from semantik_chunks.domain.errors import AlertDeliveryError, ConfigurationError, DatabaseUnavailableError
from semantik_chunks.domain.model import (
    Alert,
    AlertLevel,
    Chunk,
    PartitionDetail,
    PartitionHealthStatus,
    PartitionTemperature,
    Priority,
    StatisticsSummary,
    WriteActivity,
)
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def ids_in(partition: int, partition_count: int, how_many: int, prefix: str = "c") -> list[str]:
    """``how_many`` collection ids that hash to ``partition``."""
    found = (f"{prefix}-{i}" for i in itertools.count())
    return list(itertools.islice((c for c in found if partition_for(c, partition_count) == partition), how_many))


class Store:
    def __init__(self, partition_count: int) -> None:
        self.db = MemoryDatabase(partition_count=partition_count, clock=clock)
        self.chunks = InMemoryChunkRepository(self.db)
        self.stats = InMemoryPartitionStatistics(self.db)

    async def load(self, collection_id: str, how_many: int, *, age: timedelta = timedelta(0)) -> None:
        self.db.collections.setdefault(collection_id, None)
        await self.chunks.add_many(
            [
                Chunk(collection_id=collection_id, chunk_index=i, content="x" * 50, created_at=NOW - age)
                for i in range(how_many)
            ]
        )


class BrokenSink:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        self.calls += 1
        raise RuntimeError("the webhook is down")


class FailingStatistics(InMemoryPartitionStatistics):
    def __init__(self, database: MemoryDatabase, error: Exception) -> None:
        super().__init__(database)
        self.error = error

    async def write_activity(self) -> list[WriteActivity]:
        raise self.error

    async def last_hour_writes(self) -> dict[int, int]:
        raise self.error


# -- PartitionManager ---------------------------------------------------------------------------


def test_manager_and_port_must_agree_on_the_partition_count() -> None:
    port = InMemoryPartitionStatistics(MemoryDatabase(partition_count=10))
    with pytest.raises(ConfigurationError, match="the statistics port has 10 partitions"):
        PartitionManager(partition_count=100, statistics_port=port)
    assert PartitionManager(partition_count=10, statistics_port=port).partition_count == 10


async def test_manager_without_a_port_routes_but_cannot_report() -> None:
    manager = PartitionManager()
    assert manager.get_partition_name("x") == f"chunks_part_{partition_for('x'):02d}"
    with pytest.raises(ConfigurationError, match="no statistics port"):
        await manager.get_partition_health()


async def test_manager_reports_over_memory() -> None:
    store = Store(4)
    hot_id, cold_id = ids_in(0, 4, 1)[0], ids_in(1, 4, 1)[0]
    others = [ids_in(2, 4, 1)[0], ids_in(3, 4, 1)[0]]
    await store.load(hot_id, 60)
    await store.load(cold_id, 10)
    for cid in others:
        await store.load(cid, 15)
    manager = PartitionManager(partition_count=4, statistics_port=store.stats)

    healths = await manager.get_partition_health(exact=True)
    assert [h.chunk_count for h in healths] == [60, 10, 15, 15]
    assert healths[0].health_status is PartitionHealthStatus.UNBALANCED

    loads = await manager.get_partition_loads()
    assert [load.temperature for load in loads] == [
        PartitionTemperature.HOT,
        PartitionTemperature.COLD,
        PartitionTemperature.COLD,
        PartitionTemperature.COLD,
    ]
    assert [load.partition_num for load in await manager.get_overfull_partitions()] == [0]
    assert [load.partition_num for load in await manager.get_cold_partitions()] == [1, 2, 3]

    stats = await manager.get_distribution_stats(exact=True)
    assert (stats.total_chunks, stats.max_chunks, stats.min_chunks, stats.partitions_used) == (100, 60, 10, 4)
    assert stats.effective_collections == pytest.approx(100**2 / (60**2 + 10**2 + 2 * 15**2))
    assert stats.chance_skew == pytest.approx(chance.chance_skew(4, stats.effective_collections))

    report = await manager.get_efficiency_report(exact=True)
    assert report.partitions_used == 4
    assert report.utilization == 1.0
    assert report.largest_partition_share == pytest.approx(0.6)
    assert report.hot_partitions == (0,)
    assert report.cold_partitions == (1, 2, 3)
    assert 0.0 <= report.balance_score < 1.0
    # One coefficient of variation (population standard deviation / mean), the skew metric's.
    assert report.balance_score == pytest.approx(1.0 - statistics.pstdev([60, 10, 15, 15]) / 25)
    assert "4 of 4 partitions hold data" in report.summary
    assert "60.0% of chunks" in report.summary
    assert "chance alone gives" in report.summary


async def test_efficiency_report_of_an_empty_table() -> None:
    manager = PartitionManager(partition_count=3, statistics_port=Store(3).stats)
    report = await manager.get_efficiency_report()
    assert report.summary == "The table is empty."
    assert (report.partitions_used, report.utilization, report.largest_partition_share) == (0, 0.0, 0.0)
    assert report.chance_skew is None


# -- PartitionMonitoringService ---------------------------------------------------------------------


async def test_health_check_of_an_empty_table() -> None:
    sink = CollectingAlertSink()
    service = PartitionMonitoringService(Store(10).stats, clock=clock)
    assert await service.check_and_alert([sink]) == await service.check_partition_health()
    result = await service.check_partition_health()
    assert result.succeeded
    assert result.timestamp == NOW
    assert result.alerts == ()
    assert result.overall is PartitionHealthStatus.HEALTHY
    assert result.metrics.total_partitions == 10
    assert result.metrics.total_chunks == 0
    assert result.metrics.healthy_count == 10
    assert result.metrics.mode == "statistics"
    assert sink.sent == []  # nothing to say, nothing sent


async def test_few_collections_skewed_by_chance_stay_healthy() -> None:
    store = Store(10)
    for partition in (0, 1, 2):
        await store.load(ids_in(partition, 10, 1)[0], 100)
    await store.stats.refresh_collection_stats()
    service = PartitionMonitoringService(store.stats, clock=clock)
    result = await service.check_partition_health()
    assert result.metrics.unbalanced_count == 10  # 3 partitions over-full, 7 empty
    assert result.metrics.effective_collections == pytest.approx(3.0)
    assert result.metrics.chance_from_collections is True
    levels = [a.level for a in result.alerts]
    assert AlertLevel.CRITICAL not in levels
    assert AlertLevel.WARNING not in levels
    assert levels.count(AlertLevel.INFO) == 2  # the chance note and the (too few writes) hot note
    assert result.overall is PartitionHealthStatus.HEALTHY


async def test_stale_collection_statistics_add_an_info_alert() -> None:
    store = Store(10)
    await store.load("only", 50)
    result = await PartitionMonitoringService(store.stats, clock=clock).check_partition_health()
    assert result.metrics.chance_from_collections is False
    assert advice.STALE_COLLECTION_STATS_ALERT in result.alerts
    exact = await PartitionMonitoringService(store.stats, clock=clock).check_partition_health(exact=True)
    assert exact.metrics.chance_from_collections is True
    assert exact.metrics.mode == "exact"
    assert advice.STALE_COLLECTION_STATS_ALERT not in exact.alerts


async def test_a_truly_skewed_table_is_critical_and_the_alerts_reach_every_working_sink() -> None:
    store = Store(4)
    for partition in range(4):  # 50 collections of 5 chunks per partition: balanced so far
        for cid in ids_in(partition, 4, 50, prefix=f"base{partition}"):
            await store.load(cid, 5, age=timedelta(days=2))
    for cid in ids_in(0, 4, 100, prefix="extra"):  # then 100 more collections, all in partition 0
        await store.load(cid, 5)
    await store.stats.refresh_collection_stats()
    broken, collecting = BrokenSink(), CollectingAlertSink()
    service = PartitionMonitoringService(store.stats, clock=clock)

    result = await service.check_partition_health()
    assert collecting.sent == []  # an interactive check delivers nothing
    with pytest.raises(
        AlertDeliveryError, match=r"could not deliver \d+ alerts to BrokenSink \(1 of 2 sinks"
    ) as failed:
        await service.check_and_alert([broken, collecting])
    assert failed.value.sinks == ("BrokenSink",)
    assert result.succeeded
    critical = [a for a in result.alerts if a.level is AlertLevel.CRITICAL]
    assert [a.partitions for a in critical] == [(0,)]
    assert result.overall is PartitionHealthStatus.UNBALANCED
    assert result.metrics.hot_partitions == (0,)
    assert result.metrics.skew_metric("chunk_distribution").status == "CRITICAL"
    assert broken.calls == 1
    assert collecting.sent == list(result.alerts)  # the broken sink did not silence the other
    assert collecting.verdicts == [PartitionHealthStatus.UNBALANCED]
    # 500 writes in the last hour, all to partition 0: hot, yet too few to warn by default
    hot_alert = next(a for a in result.alerts if "hot partitions" in a.message)
    assert hot_alert.level is AlertLevel.INFO
    strict = PartitionMonitoringService(store.stats, thresholds=Thresholds(hot_min_writes=500), clock=clock)
    hot_alert = next(a for a in (await strict.check_partition_health()).alerts if "hot partitions" in a.message)
    assert hot_alert.level is AlertLevel.WARNING


@pytest.mark.parametrize(
    ("error", "reported"),
    [
        (DatabaseUnavailableError("database unreachable"), "database unreachable"),
        (RuntimeError("boom"), "RuntimeError: boom"),
    ],
)
async def test_a_failing_check_is_reported_not_raised(error: Exception, reported: str) -> None:
    sink = CollectingAlertSink()
    service = PartitionMonitoringService(FailingStatistics(MemoryDatabase(), error), clock=clock)
    result = await service.check_partition_health()
    assert result.status == "failed"
    assert not result.succeeded
    assert result.error == reported
    assert result.alerts == ()
    assert result.timestamp == NOW
    # The scheduled check tells the sinks that it could not check.
    assert await service.check_and_alert([sink]) == result
    [alert] = sink.sent
    assert alert.level is AlertLevel.CRITICAL
    assert alert.message == f"partition health check failed: {reported}"
    assert sink.verdicts == [None]


async def test_monitoring_reads() -> None:
    store = Store(4)
    big = ids_in(2, 4, 1, prefix="big")[0]
    await store.load(big, 80)
    for partition in (0, 1, 3):
        await store.load(ids_in(partition, 4, 1)[0], 10)
    await store.load(ids_in(2, 4, 1, prefix="small")[0], 10)
    service = PartitionMonitoringService(store.stats, clock=clock)
    assert service.partition_count == 4

    summary = await service.get_partition_health_summary()
    assert summary[0].partition_num == 2
    assert [h.chunk_skew for h in summary] == sorted((h.chunk_skew for h in summary), reverse=True)

    metrics = {m.metric: m for m in await service.analyze_partition_skew()}
    assert metrics["chunk_distribution"].value == pytest.approx(90 * 4 / 120 - 1)

    distribution = await service.get_distribution(exact=True)
    assert distribution.total_chunks == 120
    assert distribution.effective_collections == pytest.approx(120**2 / (80**2 + 4 * 10**2))

    (rec,) = await service.get_rebalancing_recommendations(exact=True)
    assert rec.partition_num == 2
    assert f"Collection {big} alone holds 89% of this partition" in rec.action
    assert rec.top_collections[0].collection_id == big
    assert rec.priority in (Priority.MEDIUM, Priority.HIGH)

    hot = await service.get_hot_partitions()
    assert hot[0].partition_num == 2
    assert hot[0].hour_share == pytest.approx(90 / 120)
    assert hot[0].top_collections[0].collection_id == big
    assert hot[0].top_collections[0].share_of_partition == pytest.approx(80 / 90)

    total = await service.get_partition_statistics()
    assert isinstance(total, StatisticsSummary)
    assert (total.partition_count, total.total_chunks) == (4, 120)
    assert total.avg_chunks_per_partition == pytest.approx(30.0)
    detail = await service.get_partition_statistics(2)
    assert isinstance(detail, PartitionDetail)
    assert detail.chunk_count == 90
    assert detail.newest_chunk_at == NOW
    assert detail.avg_chunk_size_kb == pytest.approx(detail.total_size_mb * 1024 / 90)
    with pytest.raises(ValueError, match="between 0 and 3"):
        await service.get_partition_statistics(4)
