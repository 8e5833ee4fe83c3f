"""When the statistics cannot be read: the adapter raises a domain error, the health check reports "failed"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.domain.errors import ConfigurationError, DatabaseUnavailableError, SchemaMissingError
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager
from tests.postgres_servers import run_sql

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/x"


@pytest.fixture(scope="module")
def unmigrated_url(make_database: Callable[[], str]) -> str:
    return make_database()


@pytest.fixture(scope="module")
def migrated_url(make_database: Callable[[], str]) -> str:
    url = make_database()
    migrate.upgrade(url, 100)
    return url


@asynccontextmanager
async def statistics_of(url: str, partition_count: int = 100) -> AsyncIterator[PostgresPartitionStatistics]:
    engine = create_engine(url)
    try:
        yield PostgresPartitionStatistics(engine, partition_count)
    finally:
        await engine.dispose()


@pytest.fixture
async def unreachable() -> AsyncIterator[PostgresPartitionStatistics]:
    async with statistics_of(UNREACHABLE) as statistics:
        yield statistics


def every_read(statistics: PostgresPartitionStatistics) -> list[Callable[[], Awaitable[object]]]:
    return [
        lambda: statistics.partition_snapshots(),
        lambda: statistics.partition_snapshots(exact=True),
        lambda: statistics.write_activity(),
        lambda: statistics.last_hour_writes(),
        lambda: statistics.collection_counts(),
        lambda: statistics.collection_counts(partition_num=3, exact=True),
        lambda: statistics.recent_collection_counts(3, 5),
        lambda: statistics.collection_stats(),
        lambda: statistics.refresh_collection_stats(),
    ]


async def test_an_unreachable_database_is_a_domain_error_on_every_read(
    unreachable: PostgresPartitionStatistics,
) -> None:
    for read in every_read(unreachable):
        with pytest.raises(DatabaseUnavailableError, match="unreachable") as caught:
            await read()
        assert not isinstance(caught.value, SchemaMissingError)


async def test_the_health_check_reports_an_unreachable_database_and_does_not_raise(
    unreachable: PostgresPartitionStatistics,
) -> None:
    service = PartitionMonitoringService(unreachable)
    result = await service.check_partition_health()
    assert (result.status, result.succeeded, result.alerts, result.overall) == ("failed", False, (), None)
    assert result.error is not None and "unreachable" in result.error
    assert (await service.check_partition_health(exact=True)).status == "failed"
    with pytest.raises(DatabaseUnavailableError):
        await service.get_partition_health_summary()
    with pytest.raises(DatabaseUnavailableError):
        await service.get_rebalancing_recommendations()
    with pytest.raises(DatabaseUnavailableError):
        await PartitionManager(100, unreachable).get_efficiency_report()


async def test_a_database_without_the_schema_says_to_migrate(unmigrated_url: str) -> None:
    async with statistics_of(unmigrated_url) as statistics:
        for read in every_read(statistics):
            with pytest.raises(SchemaMissingError, match="semantik-chunks migrate"):
                await read()
        result = await PartitionMonitoringService(statistics).check_partition_health()
    assert result.status == "failed"
    assert result.error is not None and "semantik-chunks migrate" in result.error


@pytest.mark.parametrize(
    ("dropped", "failing"),
    [
        ("DROP VIEW partition_stats", "partition_snapshots"),
        ("DROP VIEW partition_hot_spots", "write_activity"),
        ("DROP FUNCTION chunks_written_since(interval) CASCADE", "last_hour_writes"),
        ("DROP MATERIALIZED VIEW collection_chunking_stats", "collection_stats"),
        ("DROP FUNCTION refresh_collection_chunking_stats()", "refresh_collection_stats"),
    ],
)
async def test_a_missing_monitoring_object_fails_the_check_with_its_name(
    migrated_url: str, dropped: str, failing: str
) -> None:
    await asyncio.to_thread(run_sql, migrated_url, dropped)
    try:
        async with statistics_of(migrated_url) as statistics:
            with pytest.raises(SchemaMissingError):
                await getattr(statistics, failing)()
            result = await PartitionMonitoringService(statistics).check_partition_health()
        # The health check reads everything but the refresh function and the week of partition_hot_spots
        # (last hour's writes come from chunks, through chunks_written_since).
        if failing not in ("refresh_collection_stats", "write_activity"):
            assert result.status == "failed"
            assert result.error is not None and "schema is missing" in result.error
        else:
            assert result.succeeded, result.error
    finally:
        # The downgrade drops whatever is left and the upgrade brings everything back.
        await asyncio.to_thread(migrate.downgrade, migrated_url, "sc0002")
        await migrate.upgrade_async(migrated_url, 100)


async def test_a_partition_count_other_than_the_databases_is_refused(migrated_url: str) -> None:
    async with statistics_of(migrated_url, 16) as statistics:
        with pytest.raises(ConfigurationError, match="100 partitions"):
            await statistics.partition_snapshots()
        result = await PartitionMonitoringService(statistics).check_partition_health()
    assert result.status == "failed"
    assert result.error is not None and "CHUNK_PARTITION_COUNT" in result.error
