"""The statistics port and the monitoring services on both adapters: the same scenarios, the same answers.

Sizes are bytes on disk in PostgreSQL and an estimate in memory, so what is compared is what both
can know exactly: row counts, statuses, skews of row counts, partitions and collection names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest

from semantik_chunks.domain.hashing import partition_for, partition_table_name
from semantik_chunks.domain.model import (
    AlertCause,
    AlertLevel,
    PartitionHealthStatus,
    PartitionTemperature,
    Priority,
    SkewStatus,
)
from semantik_chunks.domain.reshape import isolated_name
from semantik_chunks.ports import TableReshaper
from tests.monitoring_data import (
    BURST,
    HUGE,
    MIXED_PARTITION,
    MIXED_WRITERS,
    PARTITION_COUNT,
    SCENARIOS,
    Backend,
    chunks_of,
    days_ago,
    load_burst,
    load_huge,
    load_mixed_burst,
    load_uniform,
    memory_backend,
    now,
    one_collection_per_partition,
    postgres_backend,
)

HUGE_PARTITION = partition_for(HUGE, PARTITION_COUNT)
BURST_PARTITIONS = sorted(partition_for(c, PARTITION_COUNT) for c in BURST)
EARLIER_PARTITIONS = {partition_for(c, PARTITION_COUNT) for c in one_collection_per_partition("earlier")[:10]}


@pytest.fixture(params=["memory", "postgres"])
def adapter_url(request: pytest.FixtureRequest) -> str | None:
    """The migrated database's URL for Postgres, None for memory (sync: the migration blocks)."""
    return str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None


@pytest.fixture
async def adapter(adapter_url: str | None) -> AsyncIterator[Backend]:
    if adapter_url is None:
        yield memory_backend()
        return
    async with postgres_backend(adapter_url) as backend:
        yield backend


async def observe(backend: Backend, *, exact: bool) -> dict[str, Any]:
    """Everything the services say that both adapters can know exactly."""
    monitoring, manager = backend.monitoring(), backend.manager()
    snapshots = await backend.statistics.partition_snapshots(exact=exact)
    summary = await monitoring.get_partition_health_summary(exact=exact)
    skew = await monitoring.analyze_partition_skew(exact=exact)
    recommendations = await monitoring.get_rebalancing_recommendations(exact=exact)
    hot = await monitoring.get_hot_partitions()
    check = await monitoring.check_partition_health(exact=exact)
    distribution = await manager.get_distribution_stats(exact=exact)
    loads = await manager.get_partition_loads(exact=exact)
    return {
        "rows": [(s.partition_num, s.row_count) for s in snapshots],
        "newest": [s.newest_chunk_at is not None for s in snapshots],
        "health": [
            (h.partition_num, h.chunk_count, h.total_chunks, h.health_status, round(h.chunk_skew, 9)) for h in summary
        ],
        "skew": [(m.metric, m.status, round(m.value, 9)) for m in skew if m.metric != "size_distribution"],
        "recommendations": [
            (r.partition_num, r.priority, round(r.current_skew, 9), [c.collection_id for c in r.top_collections])
            for r in recommendations
        ],
        "hot": [(h.partition_num, h.last_hour, [c.collection_id for c in h.top_collections]) for h in hot],
        "activity": [
            (a.partition_num, a.last_hour, a.last_day, a.last_week) for a in await backend.statistics.write_activity()
        ],
        "last_hour": await backend.statistics.last_hour_writes(),
        "check": (
            check.status,
            check.verdict,
            [(a.level, a.cause, a.partitions, a.command) for a in check.alerts],
            {
                k: getattr(check.metrics, k)
                for k in (
                    "total_chunks",
                    "unbalanced_count",
                    "warning_count",
                    "healthy_count",
                    "hot_partitions",
                    "chance_from_collections",
                )
            },
        ),
        "distribution": (
            distribution.partitions_used,
            distribution.empty_partitions,
            distribution.max_chunks,
            distribution.min_chunks,
            distribution.distribution_status,
            distribution.effective_collections,
        ),
        "loads": [(x.partition_num, x.temperature) for x in loads],
        "collections": [
            (c.collection_id, c.partition_num, c.chunk_count)
            for c in await backend.statistics.collection_counts(exact=exact)
        ],
        "collection_stats": [
            (
                s.id,
                s.name,
                s.chunked_documents,
                s.total_chunks,
                s.avg_tokens_per_chunk,
                s.last_chunk_created is not None,
            )
            for s in await backend.statistics.collection_stats()
        ],
    }


# --- each scenario on each adapter --------------------------------------------------------------------------


async def test_an_empty_table_is_healthy_with_every_partition_listed(adapter: Backend) -> None:
    await SCENARIOS["empty"](adapter)
    for exact in (False, True):
        snapshots = await adapter.statistics.partition_snapshots(exact=exact)
        assert [(s.partition_num, s.row_count, s.newest_chunk_at) for s in snapshots] == [
            (p, 0, None) for p in range(PARTITION_COUNT)
        ]
    monitoring = adapter.monitoring()
    summary = await monitoring.get_partition_health_summary()
    assert {(h.health_status, h.chunk_skew, h.total_chunks) for h in summary} == {
        (PartitionHealthStatus.HEALTHY, 0.0, 0)
    }
    assert {(m.status, m.value) for m in await monitoring.analyze_partition_skew()} == {(SkewStatus.NORMAL, 0.0)}
    assert await monitoring.get_rebalancing_recommendations() == []
    assert await monitoring.get_hot_partitions() == []
    check = await monitoring.check_partition_health()
    assert (check.status, check.overall, check.alerts) == ("success", PartitionHealthStatus.HEALTHY, ())
    assert await adapter.statistics.collection_counts() == []
    distribution = await adapter.manager().get_distribution_stats()
    assert (distribution.partitions_used, distribution.empty_partitions) == (0, PARTITION_COUNT)


async def test_a_uniform_table_is_healthy_and_raises_nothing(adapter: Backend) -> None:
    await load_uniform(adapter)
    monitoring = adapter.monitoring()
    summary = await monitoring.get_partition_health_summary()
    assert {(h.chunk_count, h.health_status, h.chunk_skew) for h in summary} == {
        (20, PartitionHealthStatus.HEALTHY, 0.0)
    }
    check = await monitoring.check_partition_health()
    assert (check.status, check.overall, check.alerts) == ("success", PartitionHealthStatus.HEALTHY, ())
    assert check.metrics.effective_collections == pytest.approx(PARTITION_COUNT)
    assert check.metrics.chance_from_collections is True
    assert await monitoring.get_rebalancing_recommendations() == []
    activity = await adapter.statistics.write_activity()
    assert {(a.last_hour, a.last_day, a.last_week) for a in activity} == {(0, 0, 20)}
    stats = {s.id: s for s in await adapter.statistics.collection_stats()}
    assert len(stats) == PARTITION_COUNT + 1
    assert (stats["no-chunks-yet"].total_chunks, stats["no-chunks-yet"].avg_tokens_per_chunk) == (0, None)
    assert {(s.chunked_documents, s.total_chunks) for cid, s in stats.items() if cid != "no-chunks-yet"} == {(4, 20)}
    loads = await adapter.manager().get_partition_loads()
    assert {x.temperature for x in loads} == {PartitionTemperature.NORMAL}


async def test_one_huge_collection_is_named_as_the_cause_of_its_partition(adapter: Backend) -> None:
    await load_huge(adapter)
    monitoring = adapter.monitoring()
    for exact in (False, True):
        recommendations = await monitoring.get_rebalancing_recommendations(exact=exact)
        assert [r.partition_num for r in recommendations] == [HUGE_PARTITION]
        (advice,) = recommendations
        assert advice.priority is Priority.HIGH
        assert advice.top_collections[0].collection_id == HUGE
        assert advice.top_collections[0].share_of_partition == pytest.approx(3000 / 3010)
        assert "always lives in one partition" in advice.action
        # One collection explains the partition: no placement fault (INFO), but a partition beyond its
        # capacity budget whatever the cause, with the command that isolates the collection.
        check = await monitoring.check_partition_health(exact=exact)
        assert check.overall is PartitionHealthStatus.UNBALANCED
        assert [(a.level, a.cause, a.partitions, a.command) for a in check.alerts] == [
            (
                AlertLevel.CRITICAL,
                AlertCause.CAPACITY,
                (HUGE_PARTITION,),
                f"semantik-chunks isolate {HUGE} --split-documents 38",
            ),
            (AlertLevel.INFO, AlertCause.PLACEMENT, (HUGE_PARTITION,), None),
        ]
        assert all(HUGE in a.message for a in check.alerts)
        assert check.metrics.unbalanced_count == PARTITION_COUNT  # the 99 others are under-full
    summary = {h.partition_num: h for h in await monitoring.get_partition_health_summary()}
    assert summary[HUGE_PARTITION].chunk_count == 3010
    assert summary[HUGE_PARTITION].chunk_skew == pytest.approx(3010 / 4000 * PARTITION_COUNT - 1)
    skew = {m.metric: m for m in await monitoring.analyze_partition_skew()}
    assert skew["chunk_distribution"].status is SkewStatus.CRITICAL
    assert f"at partition {HUGE_PARTITION}" in skew["chunk_distribution"].details
    assert skew["size_distribution"].status is SkewStatus.CRITICAL
    overfull = await adapter.manager().get_overfull_partitions()
    assert [x.partition_num for x in overfull] == [HUGE_PARTITION]
    top = await adapter.statistics.collection_counts(partition_num=HUGE_PARTITION, limit=1)
    assert [(c.collection_id, c.chunk_count) for c in top] == [(HUGE, 3000)]


def reshaper_of(backend: Backend) -> TableReshaper:
    """The backend's table reshaper, over the same storage as its statistics."""
    if backend.engine is None:
        from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper

        return InMemoryTableReshaper(backend.statistics.database)  # type: ignore[attr-defined]
    from sqlalchemy.ext.asyncio import AsyncEngine

    from semantik_chunks.adapters.postgres.reshape import PostgresTableReshaper

    assert isinstance(backend.engine, AsyncEngine)
    return PostgresTableReshaper(backend.engine)


async def test_isolating_the_huge_collection_remedies_its_partition(adapter: Backend) -> None:
    # The huge collection (3,000 of 4,000 rows) holds 75 % of the table: its partition is over the budget
    # of 4 x 4,000 / 100 = 160 rows. Isolated in 2 parts of 1,500 rows each, both parts are still over it:
    # the alert names them and asks for more parts; in the 38 parts the capacity alert asked for (at most
    # 80 rows each, half the budget), no leaf is over it and capacity is HEALTHY.
    await load_huge(adapter)
    statistics, reshaper = adapter.statistics, reshaper_of(adapter)
    assert await statistics.isolated_collections() == []
    monitoring = adapter.monitoring()
    before = await monitoring.check_partition_health()
    [capacity] = [a for a in before.alerts if a.cause is AlertCause.CAPACITY]
    assert capacity.command == f"semantik-chunks isolate {HUGE} --split-documents 38"
    sub = isolated_name(partition_table_name(HUGE_PARTITION, PARTITION_COUNT), HUGE)
    try:
        await reshaper.isolate(HUGE, 2)
        await adapter.settle()
        [found] = await statistics.isolated_collections()
        assert (found.collection_id, found.partition_num, found.sub_partition, found.parts, found.rows) == (
            HUGE,
            HUGE_PARTITION,
            sub,
            2,
            3000,
        )
        assert found.bytes > 0
        assert await monitoring.get_isolated_collections() == [found]
        for exact in (False, True):
            check = await monitoring.check_partition_health(exact=exact)
            assert check.overall is PartitionHealthStatus.UNBALANCED
            [leaf] = [a for a in check.alerts if a.cause is AlertCause.CAPACITY]
            assert (leaf.level, leaf.partitions) == (AlertLevel.CRITICAL, (HUGE_PARTITION,))
            assert f"collection {HUGE} is isolated ({sub}_p0..p1) but each of its 2 parts" in leaf.message
            assert leaf.command == (
                f"semantik-chunks isolate {HUGE} --undo && semantik-chunks isolate {HUGE} --split-documents 38"
            )
        await reshaper.release(HUGE)
        await reshaper.isolate(HUGE, 38)
        await adapter.settle()
        [found] = await statistics.isolated_collections()
        assert (found.parts, found.rows) == (38, 3000)
        for exact in (False, True):
            check = await monitoring.check_partition_health(exact=exact)
            assert check.verdict is not None
            assert (check.overall, check.verdict.capacity) == (
                PartitionHealthStatus.HEALTHY,
                PartitionHealthStatus.HEALTHY,
            )
            assert [a for a in check.alerts if a.cause is AlertCause.CAPACITY] == []
            [advice] = await monitoring.get_rebalancing_recommendations(exact=exact)
            assert f"It is isolated already ({sub}, 38 parts)" in advice.action
    finally:
        if await reshaper.isolated_collections():
            await reshaper.release(HUGE)


async def test_a_burst_of_writes_makes_its_partitions_hot_and_names_the_writers(adapter: Backend) -> None:
    await load_burst(adapter)
    monitoring = adapter.monitoring()
    hot = await monitoring.get_hot_partitions()
    assert sorted(h.partition_num for h in hot) == BURST_PARTITIONS
    writers = {h.partition_num: [c.collection_id for c in h.top_collections] for h in hot}
    assert writers == {partition_for(c, PARTITION_COUNT): [c] for c in BURST}
    assert {h.hour_share for h in hot} == {0.5}
    activity = {a.partition_num: a for a in await adapter.statistics.write_activity()}
    assert sum(a.last_hour for a in activity.values()) == 1400
    assert sum(a.last_day for a in activity.values()) == 1450
    assert sum(a.last_week for a in activity.values()) == 1450
    # What the check reads instead: last hour's writes alone, every partition, the same counts.
    assert await adapter.statistics.last_hour_writes() == {p: a.last_hour for p, a in sorted(activity.items())}
    assert not set(BURST_PARTITIONS) & EARLIER_PARTITIONS
    for partition in BURST_PARTITIONS:
        assert (activity[partition].last_hour, activity[partition].last_day, activity[partition].last_week) == (
            700,
            700,
            700,
        )
    for partition in EARLIER_PARTITIONS:
        assert (activity[partition].last_hour, activity[partition].last_day) == (0, 5)
    # Each hot partition is one collection's ingest: named, INFO only.
    check = await monitoring.check_partition_health()
    hot_alerts = [a for a in check.alerts if "hot partitions" in a.message]
    assert [(a.level, sorted(a.partitions)) for a in hot_alerts] == [(AlertLevel.INFO, BURST_PARTITIONS)]
    assert all(c in hot_alerts[0].message for c in BURST)
    recent = await adapter.statistics.recent_collection_counts(BURST_PARTITIONS[0], 5)
    assert [(c.collection_id, c.chunk_count) for c in recent] == [
        (next(c for c in BURST if partition_for(c, PARTITION_COUNT) == BURST_PARTITIONS[0]), 700)
    ]


async def test_a_burst_from_many_collections_in_one_partition_warns(adapter: Backend) -> None:
    await load_mixed_burst(adapter)
    monitoring = adapter.monitoring()
    (hot,) = await monitoring.get_hot_partitions()
    assert (hot.partition_num, hot.last_hour, hot.hour_share) == (MIXED_PARTITION, 1200, 1.0)
    assert sorted(c.collection_id for c in hot.top_collections) == sorted(MIXED_WRITERS)
    check = await monitoring.check_partition_health()
    hot_alerts = [a for a in check.alerts if "hot partitions" in a.message]
    assert [(a.level, a.partitions) for a in hot_alerts] == [(AlertLevel.WARNING, (MIXED_PARTITION,))]
    # Three collections, none explaining it alone, beyond what chance gives 103 collections: critical.
    critical = [(a.cause, a.partitions) for a in check.alerts if a.level is AlertLevel.CRITICAL]
    assert (check.overall, critical) == (
        PartitionHealthStatus.UNBALANCED,
        [(AlertCause.CAPACITY, (MIXED_PARTITION,)), (AlertCause.PLACEMENT, (MIXED_PARTITION,))],
    )
    (advice,) = await monitoring.get_rebalancing_recommendations()
    assert (advice.partition_num, advice.priority) == (MIXED_PARTITION, Priority.HIGH)
    assert "Several collections" in advice.action


async def test_collection_counts_without_a_refresh_are_as_old_as_the_last_one(adapter: Backend) -> None:
    await load_uniform(adapter, per_collection=2)
    first = one_collection_per_partition()[0]
    more = [attrs.evolve(c, chunk_index=c.chunk_index + 2) for c in chunks_of(first, 3, now())]
    await adapter.chunks.add_many(more)
    stale = await adapter.statistics.collection_counts(partition_num=0)
    exact = await adapter.statistics.collection_counts(partition_num=0, exact=True)
    assert [(c.collection_id, c.chunk_count) for c in stale] == [(first, 2)]
    assert [(c.collection_id, c.chunk_count) for c in exact] == [(first, 5)]
    await adapter.statistics.refresh_collection_stats()
    fresh = await adapter.statistics.collection_counts(partition_num=0)
    assert [(c.collection_id, c.chunk_count) for c in fresh] == [(first, 5)]


async def test_largest_collections_first_and_the_limit_applies(adapter: Backend) -> None:
    shared = [c for c in (f"team-{i}" for i in range(2000)) if partition_for(c, PARTITION_COUNT) == 7][:3]
    for size, collection_id in zip((3, 9, 9), shared, strict=True):
        await adapter.add(collection_id, size, days_ago(1))
    await adapter.settle()
    tied = sorted(shared[1:])
    for exact in (False, True):
        counts = await adapter.statistics.collection_counts(partition_num=7, exact=exact)
        assert [(c.collection_id, c.partition_num, c.chunk_count) for c in counts] == [
            (tied[0], 7, 9),
            (tied[1], 7, 9),
            (shared[0], 7, 3),
        ]
        assert len(await adapter.statistics.collection_counts(partition_num=7, limit=2, exact=exact)) == 2
        assert await adapter.statistics.collection_counts(partition_num=8, exact=exact) == []


# --- the two adapters side by side --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_both_adapters_tell_the_same_story(pg_url: str, scenario: str) -> None:
    load: Callable[[Backend], Awaitable[None]] = SCENARIOS[scenario]
    memory = memory_backend()
    await load(memory)
    async with postgres_backend(pg_url) as postgres:
        await load(postgres)
        for exact in (False, True):
            assert await observe(postgres, exact=exact) == await observe(memory, exact=exact)
