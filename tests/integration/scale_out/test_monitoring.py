"""Monitoring as one table: partitions on other servers counted from those servers' own statistics, in the
views the host reads, the reports, the API and the metrics; a server stopped during a health check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from examples.host_app.app import create_app
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from semantik_chunks import partition_for
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics
from semantik_chunks.config import Settings
from semantik_chunks.domain.model import (
    AlertCause,
    AlertLevel,
    CheckOutcome,
    Chunk,
    CollectionStats,
    PartitionHealthStatus,
    PartitionSnapshot,
)
from semantik_chunks.entrypoints.api import INTERNAL_KEY_HEADER
from semantik_chunks.entrypoints.cli.app import app
from semantik_chunks.services.monitoring import PartitionMonitoringService
from tests.integration.scale_out.conftest import REMOTE_PASSWORD, REMOTE_USER, Cluster, fetch, run_sql, with_user
from tests.integration.scale_out.test_through_coordinator import CLI_SCHEMA
from tests.postgres_servers import database_factory, postgres_server
from tests.postgres_servers import run_sql as run_sql_blocking

ON_ALPHA = "6b4f0c1e-0d55-4a3e-9d6e-3f0f4b8b2a11"  # partition 20
ON_BETA = "collection-b"  # partition 40
LOCAL = "local-collection"
ALPHA_PARTITION = partition_for(ON_ALPHA, 100)
BETA_PARTITION = partition_for(ON_BETA, 100)
LOCAL_PARTITION = partition_for(LOCAL, 100)
SIZES = {ON_ALPHA: 300, ON_BETA: 200, LOCAL: 100}
KEY = "scale-out-internal-key"


def _chunks(collection: str, n: int) -> list[Chunk]:
    return [Chunk(collection_id=collection, chunk_index=i, content=f"{collection} {i}") for i in range(n)]


async def _load(coordinator: str, servers: dict[str, str]) -> None:
    """Partition 20 on alpha, 40 on beta (``servers``: name -> URL), chunks in both and in a local partition,
    statistics settled on every server (ANALYZE where the rows are)."""
    engine = create_engine(coordinator)
    try:
        placement = PostgresPlacement(engine, 100)
        for name, url in servers.items():
            await placement.add_server(name, url)
        await placement.move(ALPHA_PARTITION, "alpha")
        await placement.move(BETA_PARTITION, "beta")
        collections = PostgresCollectionRepository(engine)
        repo = PostgresChunkRepository(engine, 100)
        for collection, n in SIZES.items():
            await collections.add(collection)
            await repo.add_many(_chunks(collection, n))
        await PostgresPartitionStatistics(engine, 100).analyze([LOCAL_PARTITION])
    finally:
        await engine.dispose()
    await run_sql(servers["alpha"], f"ANALYZE chunks_part_{ALPHA_PARTITION}")
    await run_sql(servers["beta"], f"ANALYZE chunks_part_{BETA_PARTITION}")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_views_reports_api_and_metrics_count_remote_partitions_from_their_servers(cluster: Cluster) -> None:
    await _load(cluster.coordinator, cluster.servers)
    total = sum(SIZES.values())

    rows = await fetch(cluster.coordinator, "SELECT * FROM partition_health_summary")
    summary = {r["partition_num"]: r for r in rows}
    assert summary[ALPHA_PARTITION]["chunk_count"] == 300 and summary[BETA_PARTITION]["chunk_count"] == 200
    assert summary[ALPHA_PARTITION]["total_chunks"] == total
    assert summary[ALPHA_PARTITION]["partition_size"] != "0 bytes"
    stats = {r["partition_num"]: r for r in await fetch(cluster.coordinator, "SELECT * FROM partition_stats")}
    assert len(stats) == 100
    assert stats[ALPHA_PARTITION]["server"] == "alpha" and stats[ALPHA_PARTITION]["reachable"]
    assert stats[ALPHA_PARTITION]["created_at"] is not None and stats[LOCAL_PARTITION]["created_at"] is not None
    assert stats[ALPHA_PARTITION]["size_bytes"] > 0
    hot = {r["partition_num"]: r for r in await fetch(cluster.coordinator, "SELECT * FROM partition_hot_spots")}
    assert hot[ALPHA_PARTITION]["chunks_last_hour"] == 300 and hot[BETA_PARTITION]["chunks_last_week"] == 200
    health = {r["partition_id"]: r for r in await fetch(cluster.coordinator, "SELECT * FROM partition_health")}
    assert health[BETA_PARTITION]["row_count"] == 200
    [distribution] = await fetch(cluster.coordinator, "SELECT * FROM partition_distribution")
    assert distribution["partitions_used"] == 3

    engine = create_engine(cluster.coordinator)
    try:
        service = PartitionMonitoringService(PostgresPartitionStatistics(engine, 100))
        result = await service.check_partition_health()
        assert result.status is CheckOutcome.SUCCESS and not result.unreachable
        assert result.metrics is not None and result.metrics.total_chunks == total
        exact = await service.check_partition_health(exact=True)
        assert exact.metrics is not None and exact.metrics.total_chunks == total
        totals = {s.server: s for s in await service.get_server_totals()}
        assert [totals[n].rows for n in ("coordinator", "alpha", "beta")] == [100, 300, 200]
        assert totals["alpha"].partitions == (ALPHA_PARTITION,) and len(totals["coordinator"].partitions) == 98
    finally:
        await engine.dispose()

    settings = Settings(partition_count=100, database_url=cluster.coordinator, internal_api_key=KEY)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        assert (await client.get("/api/v2/partitions/servers")).status_code == 401
        answer = (await client.get("/api/v2/partitions/servers", headers={INTERNAL_KEY_HEADER: KEY})).json()
        assert answer["status"] == "success"
        assert {s["server"]: s["rows"] for s in answer["servers"]} == {"coordinator": 100, "alpha": 300, "beta": 200}
        metrics = _samples((await client.get("/metrics/")).text)
    assert metrics[("semantik_chunks_server_rows", (("server", "alpha"),))] == 300
    assert metrics[("semantik_chunks_server_up", (("server", "beta"),))] == 1
    assert metrics[("semantik_chunks_server_partitions", (("server", "coordinator"),))] == 98
    assert metrics[("semantik_chunks_partition_rows", (("partition", str(BETA_PARTITION)),))] == 200


class _StopFirst:
    """The statistics port of a health check that stops a server as the check begins to read."""

    def __init__(self, inner: PostgresPartitionStatistics, stop: Callable[[], None]) -> None:
        self._inner = inner
        self._stop: Callable[[], None] | None = stop

    @property
    def partition_count(self) -> int:
        return self._inner.partition_count

    async def partition_snapshots(self, *, exact: bool = False) -> list[PartitionSnapshot]:
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()
        return await self._inner.partition_snapshots(exact=exact)

    def __getattr__(self, name: str) -> Any:
        # Every other read of the port as the real adapter answers it (the stop happens once, above).
        return getattr(self._inner, name)

    async def collection_stats(self) -> list[CollectionStats]:
        return await self._inner.collection_stats()

    async def refresh_collection_stats(self) -> None:
        await self._inner.refresh_collection_stats()

    async def analyze(self, partitions: Sequence[int]) -> None:
        await self._inner.analyze(partitions)


@pytest.fixture
def stoppable_server() -> Iterator[tuple[str, Callable[[], None]]]:
    """A server of this test's own (``beta``): the URL of a fresh database on it, and how to stop it."""
    stack = ExitStack()
    root = stack.enter_context(postgres_server())
    run_sql_blocking(root, f"CREATE ROLE {REMOTE_USER} LOGIN SUPERUSER PASSWORD '{REMOTE_PASSWORD}'")
    create, _ = database_factory(root)
    with stack:
        yield with_user(create(), REMOTE_USER, REMOTE_PASSWORD), stack.close


async def test_a_server_stopped_during_a_health_check_is_reported_unreachable_and_the_rest_is_intact(
    cluster: Cluster, stoppable_server: tuple[str, Callable[[], None]]
) -> None:
    beta, stop_beta = stoppable_server
    await _load(cluster.coordinator, {"alpha": cluster.servers["alpha"], "beta": beta})
    engine = create_engine(cluster.coordinator)
    try:
        statistics = PostgresPartitionStatistics(engine, 100)
        before = await PartitionMonitoringService(statistics).check_partition_health()
        assert before.status is CheckOutcome.SUCCESS  # the coordinator's sessions now hold connections to beta

        result = await PartitionMonitoringService(_StopFirst(statistics, stop_beta)).check_partition_health()
        assert result.status is CheckOutcome.DEGRADED and result.succeeded
        # The unreachable server is a CRITICAL alert of cause monitoring: the verdict's worst status.
        assert result.overall is PartitionHealthStatus.UNBALANCED
        assert result.verdict is not None and AlertCause.MONITORING in result.verdict.causes
        [down] = result.unreachable
        assert down.server == "beta" and down.partitions == (BETA_PARTITION,) and not down.reachable
        assert down.error
        alert = result.alerts[0]
        assert alert.level is AlertLevel.CRITICAL and alert.partitions == (BETA_PARTITION,)
        assert "beta" in alert.message and str(BETA_PARTITION) in alert.message
        # The rest of the report: every partition, the local and alpha's counted as before.
        assert result.metrics is not None and result.metrics.total_partitions == 100
        assert result.metrics.total_chunks == SIZES[ON_ALPHA] + SIZES[LOCAL]
        exact = await PartitionMonitoringService(statistics).check_partition_health(exact=True)
        assert exact.status is CheckOutcome.DEGRADED
        assert exact.metrics is not None and exact.metrics.total_chunks == SIZES[ON_ALPHA] + SIZES[LOCAL]
        totals = {s.server: s for s in await PartitionMonitoringService(statistics).get_server_totals()}
        assert totals["alpha"].reachable and totals["alpha"].rows == 300 and not totals["beta"].reachable
    finally:
        await engine.dispose()

    # The views the host reads stay readable, beta's partition flagged and counted as empty.
    for view in ("partition_health_summary", "partition_health", "partition_distribution", "partition_hot_spots"):
        assert await fetch(cluster.coordinator, f"SELECT * FROM {view}")
    stats = {r["partition_num"]: r for r in await fetch(cluster.coordinator, "SELECT * FROM partition_stats")}
    assert len(stats) == 100
    assert not stats[BETA_PARTITION]["reachable"] and stats[BETA_PARTITION]["unreachable_reason"]
    assert stats[BETA_PARTITION]["chunk_count"] == 0 and stats[BETA_PARTITION]["created_at"] is None
    assert stats[ALPHA_PARTITION]["chunk_count"] == 300 and stats[ALPHA_PARTITION]["created_at"] is not None
    [skew] = await fetch(cluster.coordinator, "SELECT count(*) FROM analyze_partition_skew()")
    assert skew[0] == 3

    settings = Settings(partition_count=100, database_url=cluster.coordinator, internal_api_key=KEY)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        headers = {INTERNAL_KEY_HEADER: KEY}
        health = await client.get("/api/v2/partitions/health", headers=headers)
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert [s["server"] for s in health.json()["unreachable"]] == ["beta"]
        servers = (await client.get("/api/v2/partitions/servers", headers=headers)).json()
        assert servers["status"] == "degraded"
        assert {s["server"]: s["reachable"] for s in servers["servers"]} == {
            "coordinator": True,
            "alpha": True,
            "beta": False,
        }
        metrics = _samples((await client.get("/metrics/")).text)
    assert metrics[("semantik_chunks_up", ())] == 1
    assert metrics[("semantik_chunks_server_up", (("server", "beta"),))] == 0
    assert metrics[("semantik_chunks_server_rows", (("server", "alpha"),))] == 300

    for command in ("health", "sizes", "hot", "skew", "full"):
        # The CLI runs its own event loop: in a thread of its own.
        outcome = await asyncio.to_thread(
            CliRunner().invoke, app, [command, "--db-url", cluster.coordinator, "--format", "json"]
        )
        assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.output
        document = json.loads(outcome.stdout)
        assert document["command"] == command
        assert not [e.message for e in CLI_SCHEMA.iter_errors(document)], document
        if command in ("health", "full"):
            assert document["status"] == "degraded"
            assert document["unreachable"][0]["server"] == "beta"
