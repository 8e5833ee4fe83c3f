"""Capacity, the second question of the verdict: a partition beyond its budget, whatever the cause."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.config import Settings, parse_byte_size
from semantik_chunks.container import Container
from semantik_chunks.domain import advice, skew
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.history import ForecastStatus
from semantik_chunks.domain.model import (
    AlertCause,
    AlertLevel,
    CollectionCount,
    CollectionShare,
    IsolatedCollection,
    PartitionHealthStatus,
    PartitionSnapshot,
    decide_verdict,
)
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.entrypoints.metrics import make_metrics_app
from semantik_chunks.services.monitoring import PartitionMonitoringService
from tests.host_data import memory_container

T = Thresholds()


def healths(rows: list[int], sizes: list[int] | None = None) -> list[skew.PartitionHealth]:
    sizes = sizes or [r * 1000 for r in rows]
    snapshots = [PartitionSnapshot(i, r, b) for i, (r, b) in enumerate(zip(rows, sizes, strict=True))]
    return skew.partition_health(snapshots, len(rows), T)


def test_issue_14_one_collection_holding_94_percent_is_never_healthy() -> None:
    # 100 partitions of 10 chunks, and one collection of 17,000 in partition 67: 94.4 % of all chunks.
    rows = [10] * 100
    rows[67] += 17_000
    counts = {67: [CollectionCount("giant", 67, 17_000), CollectionCount("small", 67, 10)]}
    found = advice.capacity_alerts(healths(rows), counts, T)
    # Placement says the giant explains its partition (INFO): the workload's shape, no hash fault.
    large = {67: (CollectionCount("giant", 67, 17_000),)}
    found += advice.alerts(healths(rows), [], 0, 9.4, T, large)
    verdict = decide_verdict(found)
    assert (verdict.status, verdict.placement, verdict.capacity) == (
        PartitionHealthStatus.UNBALANCED,
        PartitionHealthStatus.HEALTHY,
        PartitionHealthStatus.UNBALANCED,
    )
    assert verdict.causes == (AlertCause.CAPACITY,)
    [capacity] = [a for a in found if a.cause is AlertCause.CAPACITY]
    assert capacity.partitions == (67,)
    # The budget is 4 x 18,000 / 100 = 720 rows; parts of at most half of it: ceil(17,000 / 360) = 48.
    assert capacity.command == "semantik-chunks isolate giant --split-documents 48"
    assert "chunks_part_67 is beyond its capacity budget: it holds 94.5% of all chunks" in capacity.message
    assert "collection giant holds 100% of it" in capacity.message


@pytest.mark.parametrize(("extra", "over"), [(29, True), (28, False)])
def test_the_share_budget_is_one_plus_capacity_times_the_fair_share(extra: int, over: bool) -> None:
    # 10 partitions of 10 rows, one of them with 10 + extra: skew = (10 + extra) * 10 / (100 + extra) - 1,
    # at least capacity 2.0 (3x the fair share) from extra = 200 / 7 = 28.6 on.
    thresholds = Thresholds(capacity=2.0)
    rows = [10] * 10
    rows[4] += extra
    snapshots = [PartitionSnapshot(i, r, 0) for i, r in enumerate(rows)]
    found = advice.capacity_alerts(skew.partition_health(snapshots, 10, thresholds), {}, thresholds)
    assert [a.partitions for a in found] == ([(4,)] if over else [])


def test_under_full_partitions_are_never_over_budget() -> None:
    # Two partitions; one empty: skew 1 for both, the empty one is not "beyond" anything.
    thresholds = Thresholds(warning=0.3, rebalance=0.4, critical=0.5, capacity=0.5)
    snapshots = [PartitionSnapshot(0, 0, 0), PartitionSnapshot(1, 100, 0)]
    found = advice.capacity_alerts(skew.partition_health(snapshots, 2, thresholds), {}, thresholds)
    assert [a.partitions for a in found] == [(1,)]


def test_the_byte_budget_is_off_by_default_and_absolute_when_set() -> None:
    rows = [10] * 10
    sizes = [1000] * 10
    sizes[2] = 5_000_001
    assert advice.capacity_alerts(healths(rows, sizes), {}, T) == []
    limited = Thresholds(max_partition_bytes=5_000_000)
    [alert] = advice.capacity_alerts(
        skew.partition_health(
            [PartitionSnapshot(i, r, b) for i, (r, b) in enumerate(zip(rows, sizes, strict=True))], 10, limited
        ),
        {2: [CollectionCount("a", 2, 6), CollectionCount("b", 2, 4)]},
        limited,
    )
    assert (alert.level, alert.cause, alert.partitions) == (AlertLevel.CRITICAL, AlertCause.CAPACITY, (2,))
    assert "takes 5.0 MB on disk (budget 5.0 MB)" in alert.message
    # a holds 60 % of the partition's rows, so about 3.0 MB: two parts of at most half the 5 MB budget.
    assert alert.command == "semantik-chunks isolate a --split-documents 2"


def test_without_a_dominant_collection_the_command_spreads_and_without_statistics_refreshes() -> None:
    rows = [10] * 100
    rows[9] = 1000
    many = {9: [CollectionCount(f"c{i}", 9, 100) for i in range(10)]}
    [spread] = advice.capacity_alerts(healths(rows), many, T)
    assert spread.command == "semantik-chunks reshape --partitions 200"
    assert "no collection holds half of it" in spread.message
    [unknown] = advice.capacity_alerts(healths(rows), {}, T)
    assert unknown.command == "semantik-chunks refresh"


@pytest.mark.parametrize(("count", "suggested"), [(1, 2), (100, 200), (600, 1024), (1024, 1023)])
def test_suggested_partition_count(count: int, suggested: int) -> None:
    assert advice.suggested_partition_count(count) == suggested


def test_capacity_must_be_at_least_critical() -> None:
    with pytest.raises(ValueError, match="capacity must be at least critical"):
        Thresholds(capacity=0.4)
    with pytest.raises(ValueError, match="max_partition_bytes"):
        Thresholds(max_partition_bytes=0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("off", None),
        ("1000", 1000),
        ("50GB", 50 * 10**9),
        ("64 GiB", 64 * 2**30),
        ("500mb", 500 * 10**6),
    ],
)
def test_max_partition_bytes_from_the_environment(raw: str | None, expected: int | None) -> None:
    assert parse_byte_size(raw) == expected
    env = {} if raw is None else {"CHUNK_MAX_PARTITION_BYTES": raw}
    assert Settings.from_env(env).thresholds.max_partition_bytes == expected


@pytest.mark.parametrize("raw", ["0", "-5", "12 parsecs", "1.5GB", "GB"])
def test_a_bad_max_partition_bytes_is_a_clear_error(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="CHUNK_MAX_PARTITION_BYTES must be a positive size such as 50GB"):
        Settings.from_env({"CHUNK_MAX_PARTITION_BYTES": raw})


def _record_growth(container: Container, per_day: int, start_rows: int = 2000) -> None:
    """Nine snapshots six hours apart: every partition at 1,000 rows, partition 13 growing ``per_day``."""
    start = utc_now() - timedelta(hours=48, minutes=5)

    async def go() -> None:
        for i in range(9):
            rows = dict.fromkeys(range(100), 1000)
            rows[13] = start_rows + per_day * i // 4
            snaps = [PartitionSnapshot(p, r, r * 100) for p, r in rows.items()]
            await container.partition_history().record(snaps, start + timedelta(hours=6) * i)

    asyncio.run(go())


def test_a_forecast_crossing_the_budget_within_the_horizon_warns() -> None:
    # 3,000 rows (after two days at 500 a day) among 99 partitions of 1,000: 4x the fair share in 2.25 days.
    container = memory_container(MemoryDatabase(partition_count=100))
    _record_growth(container, per_day=500)
    result = asyncio.run(container.monitoring_service().check_partition_health())
    assert result.verdict is not None
    assert (result.verdict.status, result.verdict.capacity, result.verdict.causes) == (
        PartitionHealthStatus.WARNING,
        PartitionHealthStatus.WARNING,
        (AlertCause.FORECAST,),
    )
    [alert] = [a for a in result.alerts if a.cause is AlertCause.FORECAST]
    assert (alert.level, alert.partitions) == (AlertLevel.WARNING, (13,))
    assert alert.message.startswith("chunks_part_13 reaches 4x its fair share in about 2 days")
    assert alert.command == "semantik-chunks refresh"  # no collection statistics: find out who first


def test_a_forecast_beyond_the_horizon_is_quiet() -> None:
    # 20 rows a day: 4x in about 104 days, beyond the 14-day horizon (and within a 120-day one).
    container = memory_container(MemoryDatabase(partition_count=100))
    _record_growth(container, per_day=20)
    result = asyncio.run(container.monitoring_service().check_partition_health())
    assert result.verdict is not None and result.verdict.status is PartitionHealthStatus.HEALTHY
    assert not [a for a in result.alerts if a.cause is AlertCause.FORECAST]
    patient = memory_container(MemoryDatabase(partition_count=100), thresholds=Thresholds(forecast_horizon_days=120))
    _record_growth(patient, per_day=20)
    later = asyncio.run(patient.monitoring_service().check_partition_health())
    assert [a.partitions for a in later.alerts if a.cause is AlertCause.FORECAST] == [(13,)]


def test_days_until_budget_is_served_per_partition() -> None:
    container = memory_container(MemoryDatabase(partition_count=100))
    _record_growth(container, per_day=500)
    forecasts = {f.partition_num: f for f in asyncio.run(container.monitoring_service().get_forecasts())}

    async def scrape() -> str:
        app = FastAPI()
        app.mount("/metrics", make_metrics_app(container))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
            return (await client.get("/metrics/")).text

    days = {
        int(s.labels["partition"]): s.value
        for family in text_string_to_metric_families(asyncio.run(scrape()))
        for s in family.samples
        if s.name == "semantik_chunks_partition_days_until_budget"
    }
    assert list(days) == [13]  # the others never cross at their (zero) growth: absent, not a number
    assert days[13] == pytest.approx(forecasts[13].days_to_budget) and 1.5 < days[13] < 3


def test_the_forecast_follows_every_new_snapshot_and_the_window_moving_on() -> None:
    container = memory_container(MemoryDatabase(partition_count=100))
    _record_growth(container, per_day=500)
    now = [utc_now()]
    service = PartitionMonitoringService(
        container.partition_statistics(), history_port=container.partition_history(), clock=lambda: now[0]
    )
    first = asyncio.run(service.get_forecasts())
    assert asyncio.run(service.get_forecasts()) == first  # nothing changed: the same forecast
    newest = first[13].taken_at
    assert newest is not None
    later = newest + timedelta(hours=6)
    snaps = [PartitionSnapshot(p, 5000 if p == 13 else 1000, 0) for p in range(100)]
    asyncio.run(container.partition_history().record(snaps, later))
    now[0] = later + timedelta(minutes=1)
    assert asyncio.run(service.get_forecasts())[13].taken_at == later  # a new snapshot: a new forecast
    now[0] = later + timedelta(days=15)  # every snapshot has left the 14-day window
    assert {f.status for f in asyncio.run(service.get_forecasts())} == {ForecastStatus.NOT_ENOUGH_HISTORY}


def test_an_isolate_command_quotes_the_collection_id_for_the_shell() -> None:
    assert advice.isolate_command("plain-id_1") == "semantik-chunks isolate plain-id_1"
    assert advice.isolate_command("a b; rm -rf ~") == "semantik-chunks isolate 'a b; rm -rf ~'"


# -- an isolated collection's partition: the budget per leaf table ----------------------------------------


def _giant(rows_in_giant: int = 17_000) -> tuple[list[skew.PartitionHealth], dict[int, list[CollectionCount]]]:
    """Issue 14's table: 100 partitions of 10 rows, the giant's rows on top of partition 67's."""
    rows = [10] * 100
    rows[67] += rows_in_giant
    counts = {67: [CollectionCount("giant", 67, rows_in_giant), CollectionCount("small", 67, 10)]}
    return healths(rows), counts


def _isolated(parts: int, rows: int = 17_000, collection_id: str = "giant") -> IsolatedCollection:
    return IsolatedCollection(collection_id, 67, "chunks_part_67_cgiant", parts, rows, rows * 1000)


def test_an_isolation_in_enough_parts_remedies_its_partition() -> None:
    # The budget is 4 x 18,000 / 100 = 720 rows per table; 48 parts of 354 rows, and 10 neighbours.
    found, counts = _giant()
    alerts = advice.capacity_alerts(found, counts, T, [_isolated(48)])
    assert alerts == []
    placement = advice.alerts(found, [], 0, 9.4, T, {67: (CollectionCount("giant", 67, 17_000),)})
    verdict = decide_verdict(alerts + placement)
    assert (verdict.status, verdict.capacity) == (PartitionHealthStatus.HEALTHY, PartitionHealthStatus.HEALTHY)
    # An isolation elsewhere does not excuse this partition.
    elsewhere = attrs.evolve(_isolated(48), partition_num=3)
    assert [a.partitions for a in advice.capacity_alerts(found, counts, T, [elsewhere])] == [(67,)]


@pytest.mark.parametrize(("parts", "asked"), [(1, 48), (4, 48), (24, 48), (40, 64), (48, None)])
def test_parts_still_over_the_budget_ask_for_more_parts(parts: int, asked: int | None) -> None:
    # 17,000 / 24 = 708 rows a part: within 720; 17,000 / 23 = 739 is not. More parts: twice as many, or
    # the 48 that keep each within half the budget if that is more, at most 64.
    found, counts = _giant()
    alerts = advice.capacity_alerts(found, counts, T, [_isolated(parts)])
    if parts >= 24:
        assert alerts == []
        return
    [leaf] = alerts
    assert (leaf.level, leaf.cause, leaf.partitions) == (AlertLevel.CRITICAL, AlertCause.CAPACITY, (67,))
    assert "collection giant is isolated (chunks_part_67_cgiant" in leaf.message
    assert leaf.command == (
        f"semantik-chunks isolate giant --undo && semantik-chunks isolate giant --split-documents {asked}"
    )


def test_parts_over_the_budget_at_the_most_parts_have_no_command() -> None:
    # 64 parts of a collection of 60,000 among 61,000 rows: 938 a part, budget 4 x 610 = 2,440 rows; with a
    # byte budget of 500 kB, each part's 938 kB is over it, and no isolation makes more parts.
    rows = [10] * 100
    rows[67] += 60_000
    limited = Thresholds(max_partition_bytes=500_000)
    found = skew.partition_health([PartitionSnapshot(i, r, r * 1000) for i, r in enumerate(rows)], 100, limited)
    [leaf] = advice.capacity_alerts(found, {}, limited, [_isolated(64, 60_000)])
    assert leaf.command is None
    assert "the most parts an isolation makes (64)" in leaf.action
    assert "takes 937.5 kB on disk (budget 500.0 kB)" in leaf.message


def test_the_default_sub_partition_over_the_budget_names_who_fills_it() -> None:
    # Partition 67: the isolated giant (48 parts) and, in its DEFAULT sub-partition, a second large
    # collection of 5,000 rows, over the budget of 4 x 23,000 / 100 = 920 rows on its own.
    rows = [10] * 100
    rows[67] += 17_000 + 5_000
    counts = {67: [CollectionCount("giant", 67, 17_000), CollectionCount("second", 67, 5_000)]}
    [leaf] = advice.capacity_alerts(healths(rows), counts, T, [_isolated(48)])
    assert leaf.message.startswith("chunks_part_67_default (the neighbours of the isolated collections in ")
    assert "collection second holds 100% of it" in leaf.message
    assert leaf.command == "semantik-chunks isolate second --split-documents 11"  # ceil(5,000 / 460)
    # Without a collection holding half of it: spread them (after undoing the isolation).
    many = {67: [CollectionCount("giant", 67, 17_000), *(CollectionCount(f"n{i}", 67, 500) for i in range(10))]}
    [spread] = advice.capacity_alerts(healths(rows), many, T, [_isolated(48)])
    assert spread.command == "semantik-chunks reshape --partitions 200"
    assert "needs the isolation of giant undone first" in spread.action


def test_a_forecast_is_not_alerted_for_a_partition_with_an_isolated_collection() -> None:
    database = MemoryDatabase(partition_count=100)
    container = memory_container(database)
    _record_growth(container, per_day=500)
    database.isolated["x"] = IsolatedCollection("x", 13, "chunks_part_13_cx", 4)
    result = asyncio.run(container.monitoring_service().check_partition_health())
    assert not [a for a in result.alerts if a.cause is AlertCause.FORECAST]
    assert result.verdict is not None and result.verdict.status is PartitionHealthStatus.HEALTHY


@pytest.mark.parametrize(
    ("rows", "size_bytes", "max_bytes", "parts"),
    [
        (360, 0, None, 1),  # half the 720-row budget: one sub-partition
        (361, 0, None, 2),
        (17_000, 0, None, 48),
        (1_000_000, 0, None, 64),  # at most 64
        (10, 3_000_001, 3_000_000, 3),  # bytes: parts of at most 1.5 MB
    ],
)
def test_split_parts_keep_each_part_within_half_the_budget(
    rows: int, size_bytes: int, max_bytes: int | None, parts: int
) -> None:
    thresholds = Thresholds(max_partition_bytes=max_bytes)
    assert advice.split_parts(rows, size_bytes, 18_000, 100, thresholds) == parts


def test_the_recommendation_for_a_dominated_partition_is_the_isolate_command() -> None:
    found, counts = _giant()
    total = sum(h.chunk_count for h in found)
    shares = {
        67: [
            CollectionShare(
                c.collection_id, c.chunk_count, c.chunk_count / found[67].chunk_count, c.chunk_count / total
            )
            for c in counts[67]
        ]
    }
    [recommendation] = advice.recommendations(found, T, shares, 0.2, 100, 1)
    assert "`semantik-chunks isolate giant --split-documents 48` (online" in recommendation.action
    # Once isolated, it is not told to isolate it again.
    [after] = advice.recommendations(found, T, shares, 0.2, 100, 1, [_isolated(48)])
    assert "semantik-chunks isolate" not in after.action
    assert "It is isolated already (chunks_part_67_cgiant, 48 parts)" in after.action
