"""The Prometheus collector and /metrics app, scraped over ASGI and parsed with prometheus_client's parser."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import DuplicateTimeseries

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper
from semantik_chunks.adapters.memory.statistics import row_size
from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import Chunk, IsolatedCollection, PartitionSnapshot
from semantik_chunks.entrypoints.metrics import (
    PartitionMetricsCollector,
    count_alert_delivery_failures,
    make_metrics_app,
)
from tests.host_data import (
    HEAVY_PARTITION,
    PARTITIONS,
    UnreachableStatistics,
    collections_in,
    memory_container,
    seed_skewed,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(container: Container, *, max_age_seconds: float = 15.0) -> tuple[str, Samples]:
    app = FastAPI()
    app.mount("/metrics", make_metrics_app(container, max_age_seconds=max_age_seconds))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        response = await client.get("/metrics/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text, parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def per_partition(samples: Samples, name: str) -> dict[int, float]:
    return {int(dict(labels)["partition"]): value for (n, labels), value in samples.items() if n == name}


@pytest.fixture
async def seeded() -> Container:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS))
    await seed_skewed(container)
    return container


async def test_partition_series_match_the_service(seeded: Container) -> None:
    text, samples = await scrape(seeded)
    healths = {h.partition_num: h for h in await seeded.monitoring_service().get_partition_health_summary()}

    assert samples[("semantik_chunks_up", ())] == 1.0
    assert samples[("semantik_chunks_statistics_read_timestamp_seconds", ())] > 1.7e9
    assert per_partition(samples, "semantik_chunks_partition_rows") == {p: h.chunk_count for p, h in healths.items()}
    assert per_partition(samples, "semantik_chunks_partition_rows")[HEAVY_PARTITION] == 60
    assert per_partition(samples, "semantik_chunks_partition_size_bytes") == {
        p: h.size_bytes for p, h in healths.items()
    }
    assert per_partition(samples, "semantik_chunks_partition_chunk_skew") == pytest.approx(
        {p: h.chunk_skew for p, h in healths.items()}
    )
    assert per_partition(samples, "semantik_chunks_partition_size_skew") == pytest.approx(
        {p: h.size_skew for p, h in healths.items()}
    )
    assert per_partition(samples, "semantik_chunks_partition_chunk_share_ratio") == pytest.approx(
        {p: h.chunk_count / h.total_chunks for p, h in healths.items()}
    )
    assert sum(per_partition(samples, "semantik_chunks_partition_size_share_ratio").values()) == pytest.approx(1.0)
    assert all(name.startswith("semantik_chunks_") for name, _ in samples)
    assert "# TYPE semantik_chunks_partition_size_bytes gauge" in text


async def test_health_status_is_one_hot_and_counted(seeded: Container) -> None:
    _, samples = await scrape(seeded)
    status = {
        (int(dict(labels)["partition"]), dict(labels)["status"]): value
        for (name, labels), value in samples.items()
        if name == "semantik_chunks_partition_health_status"
    }
    assert len(status) == PARTITIONS * 3  # CRITICAL is never a partition's status: no series for it
    for partition in range(PARTITIONS):
        lit = [s for (p, s), value in status.items() if p == partition and value == 1.0]
        assert lit == (["UNBALANCED"] if partition == HEAVY_PARTITION else ["HEALTHY"])
    counts = {
        dict(labels)["status"]: value for (n, labels), value in samples.items() if n == "semantik_chunks_partitions"
    }
    assert counts == {"HEALTHY": 3.0, "WARNING": 0.0, "UNBALANCED": 1.0}


async def test_the_verdict_alerts_chance_and_top_collections_come_from_one_health_check(seeded: Container) -> None:
    _, samples = await scrape(seeded)
    result = await seeded.monitoring_service().check_partition_health()
    assert result.verdict is not None and result.metrics is not None
    assert samples[("semantik_chunks_verdict", ())] == result.verdict.level == 2
    alerts = {
        (dict(labels)["cause"], dict(labels)["level"]): value
        for (name, labels), value in samples.items()
        if name == "semantik_chunks_alerts"
    }
    expected: dict[tuple[str, str], float] = {}
    for alert in result.alerts:
        key = (alert.cause.value, alert.level.value)
        expected[key] = expected.get(key, 0.0) + 1
    assert alerts == expected
    assert alerts[("placement", "CRITICAL")] == 1.0
    assert samples[("semantik_chunks_chance_skew", ())] == pytest.approx(result.metrics.chance_skew)
    assert samples[("semantik_chunks_effective_collections", ())] == pytest.approx(result.metrics.effective_collections)
    assert samples[("semantik_chunks_capacity_budget_share_ratio", ())] == 1.0  # 4x the fair 1/4, capped at 1
    assert not any(name == "semantik_chunks_capacity_budget_bytes" for name, _ in samples)  # no byte budget set
    top = {
        dict(labels)["collection"]: (int(dict(labels)["partition"]), value)
        for (name, labels), value in samples.items()
        if name == "semantik_chunks_collection_rows"
    }
    counts = await seeded.partition_statistics().collection_counts()
    assert top == {c.collection_id: (c.partition_num, float(c.chunk_count)) for c in counts[:10]}


async def test_ratios_stay_within_zero_and_one(seeded: Container) -> None:
    _, samples = await scrape(seeded)
    ratios = [value for (name, _), value in samples.items() if name.endswith("_ratio")]
    assert ratios and all(0.0 <= value <= 1.0 for value in ratios)


async def test_a_down_database_is_up_0_without_stale_series() -> None:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS))
    container.partition_statistics.override(providers.Object(UnreachableStatistics()))
    _, samples = await scrape(container)
    # Left out: the statement series (their own up gauge) and the worker's process-wide delivery-failure
    # counter, which other tests in the same process may have counted; neither comes from this database.
    table = {
        key: value
        for key, value in samples.items()
        if not key[0].startswith(("semantik_chunks_statements", "semantik_chunks_alert_delivery_failures"))
    }
    assert table == {("semantik_chunks_up", ()): 0.0}


async def test_the_snapshot_is_reused_within_max_age_and_refreshed_after() -> None:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS))
    now = [1000.0]
    collector = PartitionMetricsCollector(container.monitoring_service(), max_age_seconds=60, monotonic=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)

    def rows() -> float:
        return sum(s.value for m in registry.collect() for s in m.samples if s.name.endswith("partition_rows"))

    await collector.refresh_if_stale()
    assert rows() == 0
    [collection] = collections_in(1, 1)
    await container.collection_repository().add(collection)
    await container.chunk_repository().add_many([Chunk(collection_id=collection, chunk_index=0, content="x")])
    now[0] += 59
    await collector.refresh_if_stale()
    assert rows() == 0
    now[0] += 1
    await collector.refresh_if_stale()
    assert rows() == 1


async def test_before_any_refresh_the_collector_reports_down() -> None:
    collector = PartitionMetricsCollector(
        memory_container(MemoryDatabase(partition_count=PARTITIONS)).monitoring_service()
    )
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("semantik_chunks_up") == 0.0
    assert registry.get_sample_value("semantik_chunks_partition_rows", {"partition": "0"}) is None


def test_the_collector_declares_its_names_so_a_registry_rejects_duplicates(seeded: Container) -> None:
    registry = CollectorRegistry()
    registry.register(PartitionMetricsCollector(seeded.monitoring_service()))
    with pytest.raises(DuplicateTimeseries):
        registry.register(PartitionMetricsCollector(seeded.monitoring_service()))


async def test_metrics_app_serves_openmetrics_when_asked(seeded: Container) -> None:
    app = FastAPI()
    app.mount("/metrics", make_metrics_app(seeded))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        response = await client.get("/metrics/", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def count_samples(text: str) -> int:
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def partitions_with_series(samples: Samples) -> set[int]:
    return set(per_partition(samples, "semantik_chunks_partition_rows"))


@pytest.fixture(scope="module")
def wide() -> Container:
    """1,024 partitions holding 3,000 one-chunk collections: chance makes most of them non-HEALTHY."""
    import asyncio

    container = memory_container(MemoryDatabase(partition_count=1024))

    async def seed() -> None:
        chunks, collections = container.chunk_repository(), container.collection_repository()
        for i in range(3000):
            collection_id = f"wide-{i}"
            await collections.add(collection_id)
            await chunks.add_many([Chunk(collection_id=collection_id, chunk_index=0, content="x")])
        await container.partition_statistics().refresh_collection_stats()

    asyncio.run(seed())
    return container


async def test_at_1024_partitions_the_default_scrape_stays_under_1000_samples(wide: Container) -> None:
    text, samples = await scrape(wide)
    healths = await wide.monitoring_service().get_partition_health_summary()
    unhealthy = [h for h in healths if h.health_status.value != "HEALTHY"]
    assert len(unhealthy) > 100  # the limit, not the data, keeps the scrape small
    assert count_samples(text) < 1000
    exported = partitions_with_series(samples)
    assert len(exported) == samples[("semantik_chunks_partition_series_exported", ())] == 64
    assert samples[("semantik_chunks_partition_series_omitted", ())] == len(unhealthy) - 64
    most_skewed = sorted(healths, key=lambda h: (-h.chunk_skew, h.partition_num))[:64]
    assert exported == {h.partition_num for h in most_skewed}
    # Table-level series describe every partition, exported or not.
    assert samples[("semantik_chunks_partition_count", ())] == 1024
    assert samples[("semantik_chunks_table_rows", ())] == 3000
    by_status = {dict(k[1])["status"]: v for k, v in samples.items() if k[0] == "semantik_chunks_partitions"}
    assert sum(by_status.values()) == 1024
    assert samples[("semantik_chunks_max_chunk_skew", ())] == pytest.approx(max(h.chunk_skew for h in healths))


async def test_with_all_every_partition_has_its_series(wide: Container) -> None:
    app = FastAPI()
    app.mount("/metrics", make_metrics_app(wide, partition_series="all"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        samples = parse((await client.get("/metrics/")).text)
    assert partitions_with_series(samples) == set(range(1024))
    assert samples[("semantik_chunks_partition_series_omitted", ())] == 0


async def test_with_none_only_table_series_remain(seeded: Container) -> None:
    app = FastAPI()
    app.mount("/metrics", make_metrics_app(seeded, partition_series="none"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        samples = parse((await client.get("/metrics/")).text)
    assert partitions_with_series(samples) == set()
    assert samples[("semantik_chunks_table_rows", ())] == 150


async def test_top_keeps_the_k_most_skewed_and_every_partition_that_is_not_healthy(seeded: Container) -> None:
    for top_k, expected in ((0, {HEAVY_PARTITION}), (1, {HEAVY_PARTITION}), (2, {HEAVY_PARTITION, 1})):
        collector = PartitionMetricsCollector(seeded.monitoring_service(), top_k=top_k)
        await collector.refresh()
        registry = CollectorRegistry()
        registry.register(collector)
        names = {
            s.labels.get("partition")
            for m in registry.collect()
            for s in m.samples
            if s.name.endswith("partition_rows")
        }
        assert len(names) == len(expected)
        assert HEAVY_PARTITION in {int(n) for n in names if n is not None}


async def test_the_settings_choose_the_partition_series() -> None:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS), metrics_partitions="none")
    _, samples = await scrape(container)
    assert partitions_with_series(samples) == set()


async def test_top_shares_name_the_largest_partitions(seeded: Container) -> None:
    _, samples = await scrape(seeded)
    shares = {
        int(dict(labels)["rank"]): (int(dict(labels)["partition"]), value)
        for (name, labels), value in samples.items()
        if name == "semantik_chunks_top_partition_share_ratio"
    }
    assert shares[1] == (HEAVY_PARTITION, pytest.approx(60 / 150))
    assert sorted(shares) == list(range(1, PARTITIONS + 1))


async def test_statement_series_count_statements_and_time_by_kind(seeded: Container) -> None:
    statements = seeded.statement_statistics()
    statements.record("SELECT * FROM chunks WHERE collection_id = $1", partitions_read=4, calls=10, total_time_ms=3000)
    statements.record("SELECT * FROM chunks WHERE partition_key IN ($1, $2)", partitions_read=2, total_time_ms=500)
    statements.record("SELECT * FROM chunks WHERE partition_key = $1", partitions_read=1, calls=5, total_time_ms=1000)
    statements.record("COPY chunks FROM STDIN", partitions_read=None, total_time_ms=500)
    _, samples = await scrape(seeded)

    def kind(name: str) -> dict[str, float]:
        return {dict(labels)["kind"]: value for (n, labels), value in samples.items() if n == name}

    assert samples[("semantik_chunks_statements_up", ())] == 1.0
    assert kind("semantik_chunks_statements") == {
        "pruned": 1,
        "reads_several_partitions": 1,
        "reads_every_partition": 1,
        "not_analysed": 1,
    }
    assert kind("semantik_chunks_statements_time_seconds") == pytest.approx(
        {"pruned": 1.0, "reads_several_partitions": 0.5, "reads_every_partition": 3.0, "not_analysed": 0.5}
    )
    assert samples[("semantik_chunks_statements_every_partition_time_ratio", ())] == pytest.approx(0.6)
    configured = seeded.pruning_service().alert_share
    assert samples[("semantik_chunks_statements_alert_share_ratio", ())] == pytest.approx(configured)


async def test_without_pg_stat_statements_only_the_statement_series_are_down(seeded: Container) -> None:
    seeded.statement_statistics().available = False
    _, samples = await scrape(seeded)
    assert samples[("semantik_chunks_statements_up", ())] == 0.0
    assert not [key for key in samples if key[0] == "semantik_chunks_statements"]
    assert samples[("semantik_chunks_up", ())] == 1.0
    assert per_partition(samples, "semantik_chunks_partition_rows")[HEAVY_PARTITION] == 60


async def test_statements_are_read_at_most_once_per_their_own_max_age(seeded: Container) -> None:
    now = [1000.0]
    collector = PartitionMetricsCollector(
        seeded.monitoring_service(),
        max_age_seconds=15,
        pruning=seeded.pruning_service(),
        statements_max_age_seconds=300,
        monotonic=lambda: now[0],
    )
    registry = CollectorRegistry()
    registry.register(collector)
    await collector.refresh_if_stale()
    seeded.statement_statistics().record("SELECT * FROM chunks", partitions_read=4)
    now[0] += 299
    await collector.refresh_if_stale()
    assert registry.get_sample_value("semantik_chunks_statements", {"kind": "reads_every_partition"}) == 0
    now[0] += 1
    await collector.refresh_if_stale()
    assert registry.get_sample_value("semantik_chunks_statements", {"kind": "reads_every_partition"}) == 1


async def test_each_isolated_collection_has_its_rows_bytes_and_parts(seeded: Container) -> None:
    _, before = await scrape(seeded)
    assert before[("semantik_chunks_isolated_collections", ())] == 0
    assert not [name for name, _ in before if name.startswith("semantik_chunks_isolated_collection_")]
    database = seeded.memory_database()
    by_collection: dict[str, list[Chunk]] = {}
    for chunk in database.all_chunks():
        by_collection.setdefault(chunk.collection_id, []).append(chunk)
    (one, one_chunks), (two, two_chunks) = sorted(by_collection.items())[:2]
    reshaper = InMemoryTableReshaper(database)
    await reshaper.isolate(one, 4)
    await reshaper.isolate(two, 1)
    _, after = await scrape(seeded)
    assert after[("semantik_chunks_isolated_collections", ())] == 2
    for collection, chunks, parts in ((one, one_chunks, 4), (two, two_chunks, 1)):
        labels = (("collection", collection), ("partition", str(chunks[0].partition_key)))
        assert after[("semantik_chunks_isolated_collection_rows", labels)] == len(chunks)
        assert after[("semantik_chunks_isolated_collection_size_bytes", labels)] == sum(row_size(c) for c in chunks)
        assert after[("semantik_chunks_isolated_collection_parts", labels)] == parts
    series = [name for name, _ in after if name.startswith("semantik_chunks_isolated_collection_")]
    assert len(series) == 3 * 2  # one series of each per isolated collection


async def test_no_days_until_budget_for_a_partition_with_an_isolated_collection() -> None:
    # Partition 13 grows 500 rows a day from 2,000 among 99 partitions of 1,000: 4x its fair share in
    # about two days. Once a collection in it is isolated, its budget is judged per leaf: no days for it.
    database = MemoryDatabase(partition_count=100)
    container = memory_container(database)
    start = utc_now() - timedelta(hours=48, minutes=5)
    for i in range(9):
        rows = dict.fromkeys(range(100), 1000)
        rows[13] = 2000 + 500 * i // 4
        samples = [PartitionSnapshot(p, r, r * 100) for p, r in rows.items()]
        await container.partition_history().record(samples, start + timedelta(hours=6) * i)
    _, before = await scrape(container)
    assert 0 < per_partition(before, "semantik_chunks_partition_days_until_budget")[13] < 14
    database.isolated["x"] = IsolatedCollection("x", 13, "chunks_part_13_cx", 4)
    _, after = await scrape(memory_container(database))
    assert 13 not in per_partition(after, "semantik_chunks_partition_days_until_budget")


async def test_names_follow_prometheus_conventions(seeded: Container) -> None:
    text, _ = await scrape(seeded)
    families = list(text_string_to_metric_families(text))
    for family in families:
        assert family.name.startswith("semantik_chunks_")
        if family.type == "counter":  # the parser strips a counter's _total
            assert family.name == "semantik_chunks_alert_delivery_failures"
            continue
        assert family.type == "gauge"
        assert not family.name.endswith("_total")  # gauges, not counters
        assert "_percent" not in family.name  # fractions are 0..1 and say so with _ratio
        if "share" in family.name:
            assert family.name.endswith("_ratio")
        if "skew" in family.name:  # a skew reaches N - 1: not a ratio
            assert not family.name.endswith("_ratio")


async def test_alert_delivery_failures_are_counted_per_sink_and_served(seeded: Container) -> None:
    _, before = await scrape(seeded)
    key = ("semantik_chunks_alert_delivery_failures_total", (("sink", "ExampleSink"),))
    count_alert_delivery_failures(["ExampleSink", "ExampleSink"])
    _, after = await scrape(seeded)
    assert after[key] == before.get(key, 0.0) + 2
    # The worker exposes it from prometheus_client's default registry.
    assert REGISTRY.get_sample_value(key[0], dict(key[1])) == after[key]
