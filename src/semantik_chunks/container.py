"""The composition root: the only place where adapters are chosen and wired to services.

Tests swap an adapter in one line, e.g. ``container.chunk_repository.override(fake)``.
The Postgres adapters are imported only when selected, so that the core install
(attrs + dependency-injector) works without SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statements import InMemoryStatementStatistics
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.config import Settings
from semantik_chunks.services.demo import DemoWorkload
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager
from semantik_chunks.services.queries import StatementPruningService


def _postgres_engine(url: str) -> Any:
    from semantik_chunks.adapters.postgres.engine import create_engine

    return create_engine(url)


def _postgres_chunks(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository

    return PostgresChunkRepository(engine, partition_count)


def _postgres_collections(engine: Any) -> Any:
    from semantik_chunks.adapters.postgres.chunks import PostgresCollectionRepository

    return PostgresCollectionRepository(engine)


def _postgres_statistics(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics

    return PostgresPartitionStatistics(engine, partition_count)


def _postgres_statements(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics

    return PostgresStatementStatistics(engine, partition_count)


def _monitor_alert_sinks(settings: Settings) -> list[Any]:
    # Imported when used: the webhook sink needs httpx (the ``tasks`` extra).
    from semantik_chunks.adapters.alerting import LoggingAlertSink, WebhookAlertSink

    sinks: list[Any] = [LoggingAlertSink()]
    if settings.alert_webhook_url:
        sinks.append(WebhookAlertSink(settings.alert_webhook_url))
    return sinks


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings.from_env)
    partition_count = settings.provided.partition_count
    thresholds = settings.provided.thresholds
    backend = settings.provided.backend

    memory_database = providers.Singleton(MemoryDatabase, partition_count=partition_count)
    engine: providers.Provider[Any] = providers.Singleton(_postgres_engine, settings.provided.database_url)

    chunk_repository = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryChunkRepository, memory_database),
        postgres=providers.Singleton(_postgres_chunks, engine, partition_count),
    )
    collection_repository = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryCollectionRepository, memory_database),
        postgres=providers.Singleton(_postgres_collections, engine),
    )
    partition_statistics = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryPartitionStatistics, memory_database),
        postgres=providers.Singleton(_postgres_statistics, engine, partition_count),
    )
    statement_statistics = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryStatementStatistics, partition_count),
        postgres=providers.Singleton(_postgres_statements, engine, partition_count),
    )
    # Interactive checks (API, CLI) notify nobody; the scheduled monitor uses monitor_alert_sinks.
    alert_sinks = providers.List()
    # Where the scheduled health check (entrypoints/tasks.py) sends its alerts: the log, and the
    # webhook when SEMANTIK_ALERT_WEBHOOK_URL is set.
    monitor_alert_sinks = providers.Callable(_monitor_alert_sinks, settings)

    monitoring_service = providers.Singleton(
        PartitionMonitoringService,
        statistics_port=partition_statistics,
        thresholds=thresholds,
        alert_sinks=alert_sinks,
    )
    partition_manager = providers.Singleton(
        PartitionManager,
        partition_count=partition_count,
        statistics_port=partition_statistics,
        thresholds=thresholds,
    )
    pruning_service = providers.Singleton(
        StatementPruningService,
        statements_port=statement_statistics,
        alert_share=settings.provided.pruning_alert_share,
    )
    demo_workload = providers.Factory(
        DemoWorkload,
        chunk_repository=chunk_repository,
        collection_repository=collection_repository,
        statistics_port=partition_statistics,
    )


def bootstrap(settings: Settings | None = None) -> Container:
    """A container for ``settings`` (default: from the environment)."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container


async def dispose(container: Container) -> None:
    """Close what the container opened (the database engine, if one was made)."""
    if container.settings().backend == "postgres":
        await container.engine().dispose()
