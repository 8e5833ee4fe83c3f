"""Celery tasks for the host's worker: refresh collection statistics hourly, check partition health every 6 hours.

The host registers them on its own Celery app with one call and merges the beat schedule::

    register_tasks(celery_app, lambda: bootstrap(Settings.from_env()))
    celery_app.conf.beat_schedule = {**celery_app.conf.beat_schedule, **beat_schedule()}

``container_factory`` is called once per task run and the container is disposed when the run
ends: Celery tasks are synchronous, so each run drives the async services in an event loop of
its own (``asyncio.run``), and a database engine must not outlive the loop it was used in.

The monitor task is the one path that delivers alerts: ``monitoring_service.check_and_alert``
hands them to the container's ``alert_sinks`` (the log, plus the webhook when
``SEMANTIK_ALERT_WEBHOOK_URL`` is set; a host adds or replaces sinks by overriding that provider
in its factory). A delivery that failed after the sink's own retries is counted
(``semantik_chunks_alert_delivery_failures_total``) and makes the task retry with exponential
backoff (``AlertRetry``), then fail: Celery shows it. The same delivery carries the pruning alert
(statements on chunks that read every partition take more than ``SEMANTIK_PRUNING_ALERT_SHARE`` of
the time on chunks, from pg_stat_statements when the database keeps it). Every run, a retry too, also records a
snapshot of the partitions (``semantik-chunks history`` and ``forecast`` read them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
from celery import Celery
from celery.schedules import crontab

from semantik_chunks.container import Container, dispose
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.errors import AlertDeliveryError
from semantik_chunks.domain.model import Alert, MonitoringResult
from semantik_chunks.domain.pruning import StatementStatisticsUnavailableError
from semantik_chunks.entrypoints.metrics import count_alert_delivery_failures
from semantik_chunks.entrypoints.report_models import health_report, timestamp

logger = logging.getLogger(__name__)

REFRESH_TASK = "semantik_chunks.refresh_collection_chunking_stats"
MONITOR_TASK = "semantik_chunks.monitor_partition_health"

ContainerFactory = Callable[[], Container]


@attrs.frozen
class AlertRetry:
    """How the monitor task retries a run whose alerts were not delivered (Celery's ``autoretry_for``):
    up to ``max_retries`` more runs, the n-th after about ``backoff_seconds * 2**(n-1)`` seconds
    (at most ``backoff_max_seconds``; with ``jitter``, a random time up to that), then the task fails.
    Each retry runs the check again, so the alerts it delivers are current."""

    max_retries: int = 3
    backoff_seconds: int = 60
    backoff_max_seconds: int = 900
    jitter: bool = True


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Entries for ``app.conf.beat_schedule``: the refresh on the hour, the health check five
    minutes past every sixth hour, so that it judges chance from freshly refreshed statistics."""
    return {
        "semantik-chunks-refresh-collection-chunking-stats": {"task": REFRESH_TASK, "schedule": crontab(minute=0)},
        "semantik-chunks-monitor-partition-health": {"task": MONITOR_TASK, "schedule": crontab(minute=5, hour="*/6")},
    }


@attrs.frozen
class PartitionTasks:
    """The registered Celery task objects (for ``.delay()`` and the like)."""

    refresh_collection_chunking_stats: Any
    monitor_partition_health: Any


def register_tasks(
    app: Celery, container_factory: ContainerFactory, *, alert_retry: AlertRetry = AlertRetry()
) -> PartitionTasks:
    """Register both tasks on ``app`` under the names ``REFRESH_TASK`` and ``MONITOR_TASK``."""

    def refresh_collection_chunking_stats() -> dict[str, Any]:
        return asyncio.run(_refresh(container_factory))

    def monitor_partition_health() -> dict[str, Any]:
        return asyncio.run(_monitor(container_factory))

    monitor = app.task(
        name=MONITOR_TASK,
        shared=False,
        autoretry_for=(AlertDeliveryError,),
        max_retries=alert_retry.max_retries,
        retry_backoff=alert_retry.backoff_seconds,
        retry_backoff_max=alert_retry.backoff_max_seconds,
        retry_jitter=alert_retry.jitter,
    )(monitor_partition_health)
    return PartitionTasks(
        refresh_collection_chunking_stats=app.task(name=REFRESH_TASK, shared=False)(refresh_collection_chunking_stats),
        monitor_partition_health=monitor,
    )


@asynccontextmanager
async def _container(factory: ContainerFactory) -> AsyncIterator[Container]:
    container = factory()
    try:
        yield container
    finally:
        await dispose(container)


async def _refresh(factory: ContainerFactory) -> dict[str, Any]:
    async with _container(factory) as container:
        try:
            await container.partition_statistics().refresh_collection_stats()
        except Exception as exc:
            # Raised on, so that Celery records the run as failed.
            logger.error("refreshing collection_chunking_stats failed: %s", exc)
            raise
    logger.info("refreshed collection_chunking_stats")
    return {"status": "success", "refreshed_at": timestamp(utc_now())}


async def _pruning_alerts(container: Container) -> list[Alert]:
    """Statements on chunks reading every partition (from pg_stat_statements), as alerts; none when the
    database keeps no statement statistics. Never fails the health check."""
    try:
        return list(await container.pruning_service().pruning_alerts())
    except StatementStatisticsUnavailableError as exc:
        logger.info("statement pruning not checked: %s", exc)
    except Exception:
        logger.exception("statement pruning check failed")
    return []


async def _monitor(factory: ContainerFactory) -> dict[str, Any]:
    async with _container(factory) as container:
        try:
            pruning = await _pruning_alerts(container)
            result = await container.monitoring_service().check_and_alert(container.alert_sinks(), also=pruning)
        except AlertDeliveryError as exc:
            count_alert_delivery_failures(exc.sinks)
            logger.error("partition health alerts not delivered: %s", exc)
            raise  # Celery retries (autoretry_for), then records the failure
        finally:
            await _take_snapshot(container)  # every run, a retry too, records the partitions' history
    if result.succeeded:
        overall = result.overall.value if result.overall else "unknown"
        logger.info("partition health check: %s, %d alerts", overall, len(result.alerts))
    else:
        logger.error("partition health check failed: %s", result.error)
    return monitoring_payload(result)


async def _take_snapshot(container: Container) -> None:
    """Record the partitions' history (``semantik-chunks history`` / ``forecast`` read it). A failure is
    logged, never raised: the health check's result and alerts stand on their own."""
    try:
        taken = await container.history_service().take_snapshot()
    except Exception as exc:
        logger.error("recording the partition snapshot failed: %s", exc)
        return
    logger.info("recorded a snapshot of %d partitions, pruned %d old samples", taken.partitions, taken.pruned)


def monitoring_payload(result: MonitoringResult) -> dict[str, Any]:
    """``result`` as JSON-ready data (what the monitor task returns to the result backend): the
    body ``GET /health`` answers, from the same model."""
    return health_report(result).model_dump(mode="json")
