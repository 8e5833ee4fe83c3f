"""The composition root: the only place where adapters are chosen and wired to services.

Tests swap an adapter in one line, e.g. ``container.chunk_repository.override(fake)``.
The Postgres adapters are imported only when selected, so that the core install
(attrs + dependency-injector) works without SQLAlchemy.

Every Postgres adapter is given the container's one engine (``engine``); a host that has an
``AsyncEngine`` of its own overrides ``engine`` with it, and ``dispose`` then leaves it open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dependency_injector import containers, providers

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.history import InMemoryPartitionHistory
from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper
from semantik_chunks.adapters.memory.statements import InMemoryStatementStatistics
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.adapters.memory.unit_of_work import MemoryUnitOfWork
from semantik_chunks.adapters.read_once import ReadOnce
from semantik_chunks.config import Settings
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.timeouts import SessionTimeouts
from semantik_chunks.services.demo import DemoWorkload
from semantik_chunks.services.history import PartitionHistoryService
from semantik_chunks.services.monitoring import PartitionMonitoringService
from semantik_chunks.services.partition_manager import PartitionManager
from semantik_chunks.services.queries import StatementPruningService
from semantik_chunks.services.reshape import ReshapeService
from semantik_chunks.services.scale_out import ScaleOutService
from semantik_chunks.services.schema import SchemaService


def _postgres_engine(url: str, owned: list[Any]) -> Any:
    from semantik_chunks.adapters.postgres.engine import create_engine

    engine = create_engine(url)
    owned.append(engine)  # made here, so closed by dispose()
    return engine


def _postgres_chunks(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository

    return PostgresChunkRepository(engine, partition_count)


def _postgres_collections(engine: Any) -> Any:
    from semantik_chunks.adapters.postgres.chunks import PostgresCollectionRepository

    return PostgresCollectionRepository(engine)


def _postgres_unit_of_work(engine: Callable[[], Any], partition_count: int, connection: Any = None) -> Any:
    from semantik_chunks.adapters.postgres.unit_of_work import PostgresUnitOfWork

    if connection is not None:  # the host's connection or session: the container's engine is not needed
        return PostgresUnitOfWork.on(connection, partition_count)
    return PostgresUnitOfWork(engine(), partition_count)


def _postgres_statistics(engine: Any, partition_count: int, settings: Settings) -> Any:
    from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics

    timeouts = SessionTimeouts(settings.lock_timeout_ms, settings.statement_timeout_ms)
    return PostgresPartitionStatistics(engine, partition_count, timeouts=timeouts)


def _postgres_reshaper(engine: Any) -> Any:
    from semantik_chunks.adapters.postgres.reshape import PostgresTableReshaper

    return PostgresTableReshaper(engine)


def _postgres_statements(engine: Any, partition_count: int, settings: Settings) -> Any:
    from semantik_chunks.adapters.postgres.statements import PostgresStatementStatistics

    # Planning waits for a lock at most the library's lock timeout (SEMANTIK_LOCK_TIMEOUT_MS; 0: none).
    return PostgresStatementStatistics(engine, partition_count, lock_timeout_seconds=settings.lock_timeout_ms / 1000)


def _postgres_history(engine: Any, settings: Settings) -> Any:
    from semantik_chunks.adapters.postgres.history import PostgresPartitionHistory

    # Its reads are monitoring reads (the health check's forecast): bounded like the statistics'.
    timeouts = SessionTimeouts(settings.lock_timeout_ms, settings.statement_timeout_ms)
    return PostgresPartitionHistory(engine, timeouts=timeouts)


def _retention(settings: Settings) -> timedelta:
    return timedelta(days=settings.history_retention_days)


def _postgres_migrations(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.migrate import PostgresSchemaMigrations

    return PostgresSchemaMigrations(engine, partition_count)


def _postgres_adoption(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.mover import PostgresTableAdoption

    return PostgresTableAdoption(engine, partition_count)


def _postgres_placement(engine: Any, partition_count: int) -> Any:
    from semantik_chunks.adapters.postgres.fdw import PostgresPlacement

    return PostgresPlacement(engine, partition_count)


def _no_schema() -> Any:
    raise ConfigurationError("memory:// keeps no schema: there is nothing to migrate or take over")


def _no_servers() -> Any:
    raise ConfigurationError("memory:// has no servers: partitions on other servers need PostgreSQL")


def _embedded_server() -> Any:
    # Imported when used: the embedded server is the ``embedded`` extra.
    from semantik_chunks.adapters.postgres.embedded import EmbeddedPostgres

    return EmbeddedPostgres()


def check_database_url(url: str) -> None:
    """Raise ``ConfigurationError`` naming what a PostgreSQL URL's parameters cannot do (before connecting).

    For the entry points, which may not import an adapter; the translator is pure Python."""
    from semantik_chunks.adapters.postgres.urls import check_url

    check_url(url)


def _alert_sinks(settings: Settings) -> list[Any]:
    # Imported when used: the webhook sink needs httpx (the ``tasks`` extra).
    from semantik_chunks.adapters.alerting import LoggingAlertSink, WebhookAlertSink

    sinks: list[Any] = [LoggingAlertSink()]
    if settings.alert_webhook_url:
        sinks.append(WebhookAlertSink(settings.alert_webhook_url, min_level=settings.alert_min_level))
    return sinks


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings.from_env)
    partition_count = settings.provided.partition_count
    thresholds = settings.provided.thresholds
    backend = settings.provided.backend

    memory_database = providers.Singleton(MemoryDatabase, partition_count=partition_count)
    # The engines this container made (not one a host put in with ``engine.override``): dispose() closes them.
    owned_engines: providers.Singleton[list[Any]] = providers.Singleton(list)
    engine: providers.Singleton[Any] = providers.Singleton(
        _postgres_engine, settings.provided.database_url, owned_engines
    )

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
    # A new unit of work per call: ``async with container.unit_of_work() as uow`` on the container's engine,
    # or ``container.unit_of_work(connection=host_conn)`` in the host's own transaction (docs/library.md).
    unit_of_work = providers.Selector(
        backend,
        memory=providers.Factory(MemoryUnitOfWork, memory_database),
        postgres=providers.Factory(_postgres_unit_of_work, engine.provider, partition_count),
    )
    statistics_source = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryPartitionStatistics, memory_database),
        postgres=providers.Singleton(_postgres_statistics, engine, partition_count, settings),
    )
    table_reshaper = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryTableReshaper, memory_database),
        postgres=providers.Singleton(_postgres_reshaper, engine),
    )
    statement_statistics = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryStatementStatistics, partition_count),
        postgres=providers.Singleton(_postgres_statements, engine, partition_count, settings),
    )
    partition_history = providers.Selector(
        backend,
        memory=providers.Singleton(InMemoryPartitionHistory, memory_database),
        postgres=providers.Singleton(_postgres_history, engine, settings),
    )
    # "live" asks the database every time; "once" (a command of the CLI) answers each question from the
    # first answer, so that the sections of one report describe one moment (adapters/read_once.py).
    statistics_reading = providers.Object("live")
    partition_statistics = providers.Selector(
        statistics_reading,
        live=statistics_source,
        once=providers.Singleton(ReadOnce, statistics_source),
    )
    schema_migrations = providers.Selector(
        backend,
        memory=providers.Callable(_no_schema),
        postgres=providers.Singleton(_postgres_migrations, engine, partition_count),
    )
    table_adoption = providers.Selector(
        backend,
        memory=providers.Callable(_no_schema),
        postgres=providers.Singleton(_postgres_adoption, engine, partition_count),
    )
    partition_placement = providers.Selector(
        backend,
        memory=providers.Callable(_no_servers),
        postgres=providers.Singleton(_postgres_placement, engine, partition_count),
    )
    # The server used when no database is named (the CLI's default); independent of the backend.
    embedded_server = providers.Singleton(_embedded_server)

    # Where the scheduled health check (the monitor task: monitoring_service.check_and_alert) delivers
    # its alerts: the log, and the webhook when SEMANTIK_ALERT_WEBHOOK_URL is set. Built only when
    # asked for; interactive checks (API, CLI) deliver nothing.
    alert_sinks = providers.Callable(_alert_sinks, settings)

    monitoring_service = providers.Singleton(
        PartitionMonitoringService,
        statistics_port=partition_statistics,
        thresholds=thresholds,
        history_port=partition_history,
    )
    history_service = providers.Singleton(
        PartitionHistoryService,
        statistics_port=partition_statistics,
        history_port=partition_history,
        thresholds=thresholds,
        retention=providers.Callable(_retention, settings),
    )
    partition_manager = providers.Singleton(
        PartitionManager,
        partition_count=partition_count,
        statistics_port=partition_statistics,
        thresholds=thresholds,
    )
    reshape_service = providers.Singleton(ReshapeService, reshaper=table_reshaper, thresholds=thresholds)
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
    schema_service = providers.Singleton(SchemaService, migrations=schema_migrations, adoption=table_adoption)
    scale_out_service = providers.Singleton(ScaleOutService, placement=partition_placement)


def bootstrap(settings: Settings | None = None, *, statistics_read_once: bool = False) -> Container:
    """A container for ``settings`` (default: from the environment).

    ``statistics_read_once``: the services see each statistic as first read (one CLI command, one
    report); otherwise every question reads the database afresh (a long-running API or worker)."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    if statistics_read_once:
        container.statistics_reading.override(providers.Object("once"))
    return container


async def dispose(container: Container) -> None:
    """Close what the container opened: the engine it made, if it made one. It builds nothing to do so,
    and never closes an engine it was given (``container.engine.override(host_engine)``)."""
    owned: list[Any] = container.owned_engines()
    while owned:
        await owned.pop().dispose()
    container.engine.reset()  # a later call makes (and owns) a new engine
