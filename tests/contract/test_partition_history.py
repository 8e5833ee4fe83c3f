"""The history port and the history service on both adapters: same samples, same refusals, same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.history import InMemoryPartitionHistory
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.domain.history import ClockWentBackwardsError, ForecastStatus, PartitionSample
from semantik_chunks.domain.model import PartitionSnapshot
from semantik_chunks.ports import PartitionHistory
from semantik_chunks.services.history import PartitionHistoryService
from tests.monitoring_data import (
    PARTITION_COUNT,
    Backend,
    collection_in,
    days_ago,
    memory_backend,
    postgres_backend,
)
from tests.postgres_servers import run_sql

T0 = datetime(2025, 10, 1, 6, 0, tzinfo=UTC)


def snapshot(partitions: int, rows: int, *, step: int = 0) -> list[PartitionSnapshot]:
    return [
        PartitionSnapshot(p, rows + p * step, (rows + p * step) * 400, dead_rows=p, writes=rows + p)
        for p in range(partitions)
    ]


@pytest.fixture(params=["memory", "postgres"])
def history_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url = str(request.getfixturevalue("pg_url"))
    run_sql(url, "TRUNCATE chunk_partition_history")
    return url


@pytest.fixture
async def port(history_url: str | None) -> AsyncIterator[PartitionHistory]:
    if history_url is None:
        yield InMemoryPartitionHistory(MemoryDatabase())
        return
    from semantik_chunks.adapters.postgres.engine import create_engine
    from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory

    engine = create_engine(history_url)
    try:
        yield PostgresPartitionHistory(engine)
    finally:
        await engine.dispose()


async def test_a_recorded_snapshot_reads_back_in_time_then_partition_order(port: PartitionHistory) -> None:
    assert await port.record(snapshot(3, 10), T0) == 3
    assert await port.record(snapshot(3, 20), T0 + timedelta(hours=6)) == 3
    found = await port.read(T0)
    assert [(s.taken_at, s.partition_num) for s in found] == [
        (T0 + timedelta(hours=h), p) for h in (0, 6) for p in range(3)
    ]
    assert found[4] == PartitionSample(1, T0 + timedelta(hours=6), 20, 8000, dead_rows=1, writes=21)


async def test_read_filters_by_time_and_partition(port: PartitionHistory) -> None:
    for i in range(4):
        await port.record(snapshot(3, 10 * i), T0 + timedelta(hours=6 * i))
    since = T0 + timedelta(hours=12)
    assert [(s.taken_at, s.partition_num) for s in await port.read(since, 2)] == [
        (since, 2),
        (since + timedelta(hours=6), 2),
    ]
    assert len(await port.read(since)) == 6
    assert await port.read(T0 + timedelta(days=1)) == []
    assert await port.read(T0, 7) == []


async def test_an_empty_history_reads_empty(port: PartitionHistory) -> None:
    assert await port.read(T0 - timedelta(days=365)) == []
    assert await port.prune(T0) == 0
    assert await port.record([], T0) == 0
    assert await port.read(T0) == []


@pytest.mark.parametrize("offset", [timedelta(0), -timedelta(seconds=1), -timedelta(days=3)])
async def test_a_clock_that_went_backwards_writes_nothing(port: PartitionHistory, offset: timedelta) -> None:
    await port.record(snapshot(3, 10), T0)
    with pytest.raises(ClockWentBackwardsError, match=r"clock went backwards.*nothing was written"):
        await port.record(snapshot(3, 99), T0 + offset)
    assert [s.row_count for s in await port.read(T0 - timedelta(days=7))] == [10, 10, 10]


async def test_prune_deletes_only_what_is_older(port: PartitionHistory) -> None:
    for i in range(5):
        await port.record(snapshot(2, i), T0 + timedelta(days=i))
    assert await port.prune(T0 + timedelta(days=2)) == 4
    assert sorted({s.taken_at for s in await port.read(T0)}) == [T0 + timedelta(days=d) for d in (2, 3, 4)]
    assert await port.prune(T0 + timedelta(days=2)) == 0


# --- the service over real statistics ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "postgres"])
def adapter_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url = str(request.getfixturevalue("pg_url"))
    run_sql(url, "TRUNCATE chunk_partition_history")
    return url


@pytest.fixture
async def backend(adapter_url: str | None) -> AsyncIterator[tuple[Backend, PartitionHistory]]:
    if adapter_url is None:
        found = memory_backend()
        assert isinstance(found.statistics, InMemoryPartitionStatistics)
        yield found, InMemoryPartitionHistory(found.statistics.database)
        return
    from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory

    async with postgres_backend(adapter_url) as found:
        assert found.engine is not None
        yield found, PostgresPartitionHistory(found.engine)  # type: ignore[arg-type]


class Ticking:
    """A clock the test moves."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def test_snapshots_record_every_partition_and_prune_by_retention(
    backend: tuple[Backend, PartitionHistory],
) -> None:
    found, port = backend
    clock = Ticking(datetime.now(UTC) - timedelta(days=30))
    service = PartitionHistoryService(found.statistics, port, retention=timedelta(days=10), clock=clock)
    heavy = collection_in(7, "history")
    for _ in range(0, 30, 5):
        await found.add(heavy, 50, days_ago(1))
        await found.settle()
        clock.now += timedelta(days=5)
        taken = await service.take_snapshot()
        assert taken.partitions == PARTITION_COUNT
    # Snapshots every 5 days; a retention of 10 days keeps the last three (taken_at >= now - 10 d).
    assert taken.pruned == PARTITION_COUNT  # one snapshot of every partition
    series = await service.history(clock.now - timedelta(days=365), 7)
    assert [s.row_count for s in series[0].samples] == [200, 250, 300]
    assert series[0].writes == 100  # written between the first and the last kept snapshot
    assert all(len(s.samples) == 3 for s in await service.history(clock.now - timedelta(days=365)))


async def test_forecast_from_recorded_snapshots(backend: tuple[Backend, PartitionHistory]) -> None:
    found, port = backend
    clock = Ticking(datetime.now(UTC) - timedelta(days=10))
    service = PartitionHistoryService(found.statistics, port, clock=clock)
    for p in range(PARTITION_COUNT):
        await found.add(collection_in(p, "base"), 10, days_ago(2))
    heavy = collection_in(13, "growing")
    for _ in range(6):
        await found.add(heavy, 40, days_ago(1))
        await found.settle()
        clock.now += timedelta(days=1)
        await service.take_snapshot()
    report = await service.forecast(timedelta(days=14))
    assert report.snapshots == 6
    p13 = report.partitions[13]
    assert p13.rows_per_day == pytest.approx(40.0)
    assert p13.status in (ForecastStatus.CROSSING, ForecastStatus.OVER_BUDGET)
    assert report.partitions[3].status is ForecastStatus.NOT_CROSSING
