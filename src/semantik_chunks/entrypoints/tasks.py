"""Celery tasks for the host's worker: refresh collection statistics hourly, check partition health every 6 hours.

The host registers them on its own Celery app with one call and merges the beat schedule::

    register_tasks(celery_app, lambda: bootstrap(Settings.from_env()))
    celery_app.conf.beat_schedule = {**celery_app.conf.beat_schedule, **beat_schedule()}

``container_factory`` is called once per task run and the container is disposed when the run
ends: Celery tasks are synchronous, so each run drives the async services in an event loop of
its own (``asyncio.run``), and a database engine must not outlive the loop it was used in.

The health check's alerts, and the pruning alert (statements on chunks that read every partition take
more than ``SEMANTIK_PRUNING_ALERT_SHARE`` of the time on chunks, from pg_stat_statements when the
database keeps it), go to the container's ``monitor_alert_sinks`` (the log, plus the
webhook when ``SEMANTIK_ALERT_WEBHOOK_URL`` is set); a host adds or replaces sinks by
overriding that provider in its factory.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import attrs
from celery import Celery
from celery.schedules import crontab

from semantik_chunks.container import Container, dispose
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.model import Alert, AlertLevel, MonitoringResult
from semantik_chunks.domain.pruning import StatementStatisticsUnavailableError
from semantik_chunks.ports import AlertSink

logger = logging.getLogger(__name__)

REFRESH_TASK = "semantik_chunks.refresh_collection_chunking_stats"
MONITOR_TASK = "semantik_chunks.monitor_partition_health"

ContainerFactory = Callable[[], Container]


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


def register_tasks(app: Celery, container_factory: ContainerFactory) -> PartitionTasks:
    """Register both tasks on ``app`` under the names ``REFRESH_TASK`` and ``MONITOR_TASK``."""

    def refresh_collection_chunking_stats() -> dict[str, Any]:
        return asyncio.run(_refresh(container_factory))

    def monitor_partition_health() -> dict[str, Any]:
        return asyncio.run(_monitor(container_factory))

    return PartitionTasks(
        refresh_collection_chunking_stats=app.task(name=REFRESH_TASK, shared=False)(refresh_collection_chunking_stats),
        monitor_partition_health=app.task(name=MONITOR_TASK, shared=False)(monitor_partition_health),
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
    return {"status": "success", "refreshed_at": utc_now().isoformat()}


def failure_alert(result: MonitoringResult) -> Alert:
    """What the sinks hear when the check itself failed: a monitor that cannot read is news."""
    return Alert(
        level=AlertLevel.CRITICAL,
        message=f"partition health check failed: {result.error}",
        action="Check that the database is reachable and migrated (semantik-chunks migrate)",
    )


async def _monitor(factory: ContainerFactory) -> dict[str, Any]:
    async with _container(factory) as container:
        result = await container.monitoring_service().check_partition_health()
        if result.succeeded:
            overall = result.overall.value if result.overall else "unknown"
            logger.info("partition health check: %s, %d alerts", overall, len(result.alerts))
            alerts: Sequence[Alert] = [*result.alerts, *await _pruning_alerts(container)]
        else:
            logger.error("partition health check failed: %s", result.error)
            alerts = [failure_alert(result)]
        await _deliver(alerts, container.monitor_alert_sinks())
        await _take_snapshot(container)
    return monitoring_payload(result)


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


async def _take_snapshot(container: Container) -> None:
    """Record the partitions' history (``semantik-chunks history`` / ``forecast`` read it). A failure is
    logged, never raised: the health check's result and alerts stand on their own."""
    try:
        taken = await container.history_service().take_snapshot()
    except Exception as exc:
        logger.error("recording the partition snapshot failed: %s", exc)
        return
    logger.info("recorded a snapshot of %d partitions, pruned %d old samples", taken.partitions, taken.pruned)


async def _deliver(alerts: Sequence[Alert], sinks: Sequence[AlertSink]) -> None:
    """Hand ``alerts`` to every sink; one sink failing neither stops the others nor fails the task."""
    if not alerts:
        return
    for sink in sinks:
        try:
            await sink.send(alerts)
        except Exception:
            logger.exception("alert sink %s failed", type(sink).__name__)


def _jsonable(_instance: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def monitoring_payload(result: MonitoringResult) -> dict[str, Any]:
    """``result`` as JSON-ready data (what the monitor task returns to the result backend); ``metrics``
    as the API gives them (``skew_metrics`` keyed by metric name, ``{}`` for a failed check)."""
    payload = attrs.asdict(result, value_serializer=_jsonable)
    metrics = payload["metrics"]
    if metrics is None:
        payload["metrics"] = {}
    else:
        metrics["skew_metrics"] = {m.pop("metric"): m for m in metrics["skew_metrics"]}
    return payload
