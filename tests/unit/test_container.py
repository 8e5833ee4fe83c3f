"""The composition root: settings flow to adapters and services; tests swap a provider in one line."""

from __future__ import annotations

import pytest

from semantik_chunks.adapters.alerting import WebhookAlertSink
from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.config import MEMORY_URL, Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.model import AlertLevel, Chunk
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager


def test_memory_backend_wires_memory_adapters() -> None:
    container = bootstrap(Settings(database_url=MEMORY_URL))
    assert container.backend() == "memory"
    assert isinstance(container.chunk_repository(), InMemoryChunkRepository)
    assert isinstance(container.collection_repository(), InMemoryCollectionRepository)
    assert isinstance(container.partition_statistics(), InMemoryPartitionStatistics)
    assert isinstance(container.monitoring_service(), PartitionMonitoringService)
    assert isinstance(container.partition_manager(), PartitionManager)
    # The scheduled check's sinks: the log only, without a webhook URL.
    assert [type(s).__name__ for s in container.alert_sinks()] == ["LoggingAlertSink"]


def test_a_webhook_url_adds_the_webhook_sink_with_the_minimum_level() -> None:
    container = bootstrap(
        Settings(
            database_url=MEMORY_URL,
            alert_webhook_url="https://hooks.example.com/services/T0/B0/secret",
            alert_min_level=AlertLevel.CRITICAL,
        )
    )
    logging_sink, webhook = container.alert_sinks()
    assert type(logging_sink).__name__ == "LoggingAlertSink"
    assert isinstance(webhook, WebhookAlertSink)
    assert webhook.min_level is AlertLevel.CRITICAL
    assert webhook.target == "https://hooks.example.com"


def test_no_database_url_is_a_configuration_error_never_a_silent_memory_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for container in (bootstrap(Settings()), bootstrap()):
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            container.backend()
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            container.chunk_repository()
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            container.monitoring_service()


def test_a_postgres_url_selects_the_postgres_backend() -> None:
    # Only the selection is checked here; building the adapters needs a server (tests/integration).
    assert bootstrap(Settings(database_url="postgresql://u@localhost/db")).backend() == "postgres"


async def test_memory_adapters_share_one_database() -> None:
    container = bootstrap(Settings(database_url=MEMORY_URL, partition_count=8))
    await container.collection_repository().add("c")
    await container.chunk_repository().add_many([Chunk(collection_id="c", chunk_index=0, content="x")])
    snapshots = await container.partition_statistics().partition_snapshots()
    assert len(snapshots) == 8
    assert sum(s.row_count for s in snapshots) == 1
    assert container.chunk_repository() is container.chunk_repository()  # singletons
    await dispose(container)  # nothing to close for memory


def test_partition_count_and_thresholds_flow_everywhere() -> None:
    strict = Thresholds(warning=0.1, rebalance=0.2, critical=0.3)
    container = bootstrap(Settings(database_url=MEMORY_URL, partition_count="16", thresholds=strict))
    assert container.partition_count() == 16
    assert container.memory_database().partition_count == 16
    assert container.chunk_repository().partition_count == 16
    assert container.partition_statistics().partition_count == 16
    assert container.partition_manager().partition_count == 16
    assert container.partition_manager().get_all_partition_names()[-1] == "chunks_part_15"
    assert container.monitoring_service().partition_count == 16
    assert container.monitoring_service().thresholds is strict
    assert container.partition_manager().thresholds is strict


def test_bootstrap_without_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "32")
    monkeypatch.setenv("DATABASE_URL", MEMORY_URL)
    container = bootstrap()
    assert container.settings().partition_count == 32
    assert container.partition_manager().partition_count == 32


@pytest.mark.parametrize("raw", ["0", "1025", "abc"])
def test_a_bad_partition_count_in_the_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", raw)
    container = bootstrap()
    with pytest.raises(ConfigurationError, match=r"CHUNK_PARTITION_COUNT must be .*between 1 and 1024"):
        container.monitoring_service()


async def test_a_provider_is_overridden_in_one_line() -> None:
    container = bootstrap(Settings(database_url=MEMORY_URL, partition_count=4))
    elsewhere = MemoryDatabase(partition_count=4)
    elsewhere.collections["c"] = None
    await InMemoryChunkRepository(elsewhere).add_many([Chunk(collection_id="c", chunk_index=0, content="x")])
    fake = InMemoryPartitionStatistics(elsewhere)

    container.partition_statistics.override(fake)

    assert container.partition_statistics() is fake
    assert (await container.partition_manager().get_distribution_stats()).total_chunks == 1
    result = await container.monitoring_service().check_partition_health()
    assert result.metrics.total_chunks == 1
    container.partition_statistics.reset_override()
    assert container.partition_statistics() is not fake


def test_overriding_settings_replaces_the_environment() -> None:
    container = bootstrap(Settings(database_url=MEMORY_URL, partition_count=3))
    assert container.memory_database().partition_count == 3
    other = bootstrap(Settings(database_url=MEMORY_URL, partition_count=5))
    assert other.memory_database().partition_count == 5
    assert container.memory_database() is not other.memory_database()  # containers do not share state


async def test_dispose_builds_no_engine_to_close_it() -> None:
    container = bootstrap(Settings(database_url="postgresql://u@localhost/db"))
    await dispose(container)
    assert container.owned_engines() == []  # no engine was made, so none was made to be disposed


class HostEngine:
    """Stands for a host's AsyncEngine: it records being disposed."""

    def __init__(self) -> None:
        self.disposed = 0

    async def dispose(self) -> None:
        self.disposed += 1


async def test_dispose_closes_the_engine_it_made_and_never_one_it_was_given() -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine

    made = bootstrap(Settings(database_url="postgresql://u@localhost/db"))
    engine = made.engine()  # no connection is opened until a statement runs
    assert isinstance(engine, AsyncEngine)
    assert made.owned_engines() == [engine]
    await dispose(made)
    assert made.owned_engines() == []
    assert made.engine() is not engine  # a later use gets a new engine, owned again
    await dispose(made)

    given = bootstrap(Settings(database_url="postgresql://u@localhost/db"))
    host_engine = HostEngine()
    given.engine.override(host_engine)
    assert given.partition_statistics()._engine is host_engine  # the adapters use the engine they are given
    await dispose(given)
    assert host_engine.disposed == 0


def test_statistics_are_read_once_only_when_asked() -> None:
    from semantik_chunks.adapters.read_once import ReadOnce

    live = bootstrap(Settings(database_url=MEMORY_URL))
    assert isinstance(live.partition_statistics(), InMemoryPartitionStatistics)
    once = bootstrap(Settings(database_url=MEMORY_URL), statistics_read_once=True)
    assert isinstance(once.partition_statistics(), ReadOnce)
    assert once.partition_manager()._stats is once.partition_statistics()


def test_memory_has_no_schema_to_migrate() -> None:
    with pytest.raises(ConfigurationError, match="nothing to migrate"):
        bootstrap(Settings(database_url=MEMORY_URL)).schema_service()
