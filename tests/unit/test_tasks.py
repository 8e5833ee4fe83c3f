"""The Celery tasks on a real worker (in-memory broker), delivering alerts to a real local webhook server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import attrs
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab
from dependency_injector import providers
from prometheus_client import REGISTRY

from semantik_chunks.adapters.alerting import ALERT_LOGGER, LoggingAlertSink, WebhookAlertSink
from semantik_chunks.adapters.memory.alerts import CollectingAlertSink
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.errors import AlertDeliveryError, ConfigurationError
from semantik_chunks.domain.model import (
    Alert,
    AlertCause,
    AlertLevel,
    CheckOutcome,
    Chunk,
    HealthMetrics,
    MonitoringResult,
    PartitionHealthStatus,
    SkewMetric,
    SkewStatus,
)
from semantik_chunks.entrypoints.tasks import (
    MONITOR_TASK,
    REFRESH_TASK,
    AlertRetry,
    PartitionTasks,
    beat_schedule,
    monitoring_payload,
    register_tasks,
)
from tests.host_data import (
    HEAVY_PARTITION,
    PARTITIONS,
    SECRET_PATH,
    UnreachableStatistics,
    collections_in,
    dead_url,
    memory_container,
    seed_skewed,
    webhook_receiver,
)

SECRET = SECRET_PATH.rsplit("/", 1)[1]
TIMEOUT = 30


# Retries a second apart (Celery's smallest backoff factor), so a failing run ends in seconds.
QUICK_RETRY = AlertRetry(max_retries=2, backoff_seconds=1, backoff_max_seconds=1, jitter=False)
FAILURES_METRIC = "semantik_chunks_alert_delivery_failures_total"


class BrokenSink:
    async def send(self, alerts: Sequence[Alert], *, overall: PartitionHealthStatus | None) -> None:
        raise RuntimeError("this sink is broken")


def delivery_failures(sink: str) -> float:
    return REGISTRY.get_sample_value(FAILURES_METRIC, {"sink": sink}) or 0.0


def quick_webhook(url: str, *, timeout_seconds: float = 2.0) -> WebhookAlertSink:
    # INFO: the module's database is not refreshed, so its check has INFO alerts only.
    return WebhookAlertSink(
        url, attempts=2, backoff_seconds=0.01, timeout_seconds=timeout_seconds, min_level=AlertLevel.INFO
    )


@pytest.fixture
def database() -> MemoryDatabase:
    database = MemoryDatabase(partition_count=PARTITIONS)
    # Not refreshed: the refresh task does that.
    asyncio.run(seed_skewed(memory_container(database), refresh=False))
    return database


def host_celery_app() -> Celery:
    app = Celery("host", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.update(
        worker_hijack_root_logger=False,
        task_serializer="json",
        result_serializer="json",
        broker_transport_options={"polling_interval": 0.05},
    )
    return app


Factory = Callable[[], Container]
UseFactory = Callable[[Factory], PartitionTasks]


@attrs.define
class RunningWorker:
    """One real worker for the module (starting and stopping one takes seconds); each test
    chooses the container factory the registered tasks call."""

    tasks: PartitionTasks | None = None
    factory: Factory | None = None

    def container(self) -> Container:
        assert self.factory is not None, "the test did not choose a container factory"
        return self.factory()


@pytest.fixture(scope="module")
def running_worker() -> Iterator[RunningWorker]:
    app = host_celery_app()
    running = RunningWorker()
    running.tasks = register_tasks(app, running.container, alert_retry=QUICK_RETRY)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=TIMEOUT):
        yield running


@pytest.fixture
def tasks_with(running_worker: RunningWorker) -> Iterator[UseFactory]:
    def use(factory: Factory) -> PartitionTasks:
        running_worker.factory = factory
        assert running_worker.tasks is not None
        return running_worker.tasks

    yield use
    running_worker.factory = None


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # On the loggers themselves: the worker's logging setup changes the root logger's level.
    for name in ("semantik_chunks", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def alert_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ALERT_LOGGER]


def assert_secret_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_beat_schedule_runs_both_tasks_at_their_intervals() -> None:
    celery_app = host_celery_app()
    register_tasks(celery_app, lambda: memory_container(MemoryDatabase(partition_count=PARTITIONS)))
    schedule = beat_schedule()
    by_task = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert by_task == {REFRESH_TASK: crontab(minute=0), MONITOR_TASK: crontab(minute=5, hour="*/6")}
    assert set(by_task) <= set(celery_app.tasks)
    assert beat_schedule() is not schedule  # the host may mutate its copy


def test_the_monitor_payload_is_plain_json() -> None:
    metrics = HealthMetrics(
        total_partitions=4,
        total_chunks=10,
        unbalanced_count=0,
        warning_count=1,
        healthy_count=3,
        effective_collections=2.5,
        chance_skew=None,
        chance_from_collections=True,
        hot_partitions=(1,),
        skew_metrics=(SkewMetric(metric="chunk_distribution", value=0.4, status=SkewStatus.WARNING, details="d"),),
        mode="statistics",
    )
    result = MonitoringResult(
        status=CheckOutcome.SUCCESS,
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        alerts=(
            Alert(
                level=AlertLevel.WARNING,
                message="m",
                action="a",
                partitions=(1, 2),
                cause=AlertCause.HOT_WRITES,
                command="semantik-chunks hot",
            ),
        ),
        metrics=metrics,
    )
    assert result.overall is PartitionHealthStatus.WARNING
    payload = monitoring_payload(result)
    assert json.loads(json.dumps(payload)) == payload
    assert payload == {
        "status": "success",
        "timestamp": "2026-01-02T03:04:05Z",  # the one timestamp form, as in the API and the CLI
        "alerts": [
            {
                "level": "WARNING",
                "message": "m",
                "action": "a",
                "partitions": [1, 2],
                "cause": "hot_writes",
                "command": "semantik-chunks hot",
            }
        ],
        "metrics": {
            "total_partitions": 4,
            "total_chunks": 10,
            "unbalanced_count": 0,
            "warning_count": 1,
            "healthy_count": 3,
            "effective_collections": 2.5,
            "chance_skew": None,
            "chance_from_collections": True,
            "hot_partitions": [1],
            "skew_metrics": {"chunk_distribution": {"value": 0.4, "status": "WARNING", "details": "d"}},
            "mode": "statistics",
        },
        "error": None,
        "overall": "WARNING",
        "verdict": {
            "status": "WARNING",
            "placement": "HEALTHY",
            "capacity": "HEALTHY",
            "causes": ["hot_writes"],
            "level": 1,
        },
        "unreachable": [],
    }
    failed = MonitoringResult(status=CheckOutcome.FAILED, timestamp=result.timestamp, error="database unreachable")
    assert monitoring_payload(failed)["metrics"] == {}
    assert monitoring_payload(failed)["status"] == "failed"


def test_tasks_are_registered_on_the_given_app_only() -> None:
    host = host_celery_app()
    register_tasks(host, lambda: memory_container(MemoryDatabase(partition_count=PARTITIONS)))
    other = host_celery_app()
    other.finalize()
    assert {REFRESH_TASK, MONITOR_TASK} <= set(host.tasks)
    assert not {REFRESH_TASK, MONITOR_TASK} & set(other.tasks)


def test_refresh_then_monitor_delivers_alerts_to_log_and_webhook(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_receiver() as receiver:
        tasks = tasks_with(lambda: memory_container(database, alert_webhook_url=receiver.url))
        refreshed = tasks.refresh_collection_chunking_stats.delay().get(timeout=TIMEOUT, interval=0.05)
        assert refreshed["status"] == "success"
        assert len(database.collection_stats) == 150
        result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)

    assert result["status"] == "success"
    assert result["overall"] == "UNBALANCED"
    assert result["metrics"]["unbalanced_count"] == 1
    assert result["metrics"]["chance_from_collections"] is True  # the refresh ran first
    [critical] = [a for a in result["alerts"] if a["level"] == "CRITICAL"]
    assert critical["partitions"] == [HEAVY_PARTITION]

    levels = {r.getMessage(): r.levelno for r in alert_records(caplog)}
    assert (
        levels[
            f"partition alert [CRITICAL] 1 partitions are unbalanced (partitions {HEAVY_PARTITION}). "
            "Action: Review the rebalancing recommendations for the collections behind them"
        ]
        == logging.CRITICAL
    )
    assert sorted(levels.values()) == sorted(
        {"CRITICAL": logging.CRITICAL, "WARNING": logging.WARNING, "INFO": logging.INFO}[a["level"]]
        for a in result["alerts"]
    )

    [request] = receiver.received
    assert request["path"] == SECRET_PATH
    text = json.loads(request["body"])["text"]
    assert text.splitlines()[0] == "*Verdict: UNBALANCED* · semantik-chunks partition health"
    assert f"[CRITICAL] 1 partitions are unbalanced (partitions {HEAVY_PARTITION})" in text
    assert "[INFO]" not in text  # below SEMANTIK_ALERT_MIN_LEVEL (WARNING): in the log only
    assert_secret_not_logged(caplog)


def test_monitor_retries_a_webhook_that_fails_first(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_receiver(failures=1) as receiver:

        def factory() -> Container:
            container = memory_container(database)
            quick = WebhookAlertSink(receiver.url, backoff_seconds=0.01, min_level=AlertLevel.INFO)
            container.alert_sinks.override(providers.Object([quick]))
            return container

        tasks = tasks_with(factory)
        result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)

    assert result["status"] == "success"
    assert len(receiver.requests) == 2
    assert len(receiver.received) == 1
    assert any("attempt 1/3 failed (HTTP 500); retrying" in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


def test_a_dead_webhook_or_a_broken_sink_does_not_stop_the_others_but_fails_the_task(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    collected = CollectingAlertSink()
    url = dead_url()
    runs: list[Container] = []
    before = delivery_failures("WebhookAlertSink"), delivery_failures("BrokenSink")

    def factory() -> Container:
        container = memory_container(database)
        dead = WebhookAlertSink(url, attempts=2, backoff_seconds=0.01, min_level=AlertLevel.INFO)
        container.alert_sinks.override(providers.Object([dead, BrokenSink(), LoggingAlertSink(), collected]))
        runs.append(container)
        return container

    tasks = tasks_with(factory)
    outcome = tasks.monitor_partition_health.delay()
    with pytest.raises(AlertDeliveryError, match="WebhookAlertSink, BrokenSink"):
        outcome.get(timeout=TIMEOUT, interval=0.05)

    assert outcome.state == "FAILURE"
    assert len(runs) == 1 + QUICK_RETRY.max_retries  # the first run and each retry
    # Every run delivered to the working sinks all the same.
    assert len(collected.sent) > 0
    assert len(collected.verdicts) == len(runs)
    assert len(alert_records(caplog)) == len(collected.sent)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("could not deliver") and "http://127.0.0.1: ConnectError" in m for m in messages)
    assert any(m.startswith("alert sink BrokenSink failed") for m in messages)
    after = delivery_failures("WebhookAlertSink"), delivery_failures("BrokenSink")
    assert after == (before[0] + len(runs), before[1] + len(runs))
    assert_secret_not_logged(caplog)


@pytest.mark.parametrize(("status", "stall"), [(500, 0.0), (200, 1.0)], ids=["answers-500", "hangs"])
def test_a_webhook_that_keeps_failing_fails_the_task_after_its_retries(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture, status: int, stall: float
) -> None:
    before = delivery_failures("WebhookAlertSink")
    with webhook_receiver(failures=100, failure_status=status, stall_seconds=stall) as receiver:

        def factory() -> Container:
            container = memory_container(database)
            # A hanging webhook: each try gives up after 0.2 s (the default is 5 s).
            container.alert_sinks.override(providers.Object([quick_webhook(receiver.url, timeout_seconds=0.2)]))
            return container

        tasks = tasks_with(factory)
        outcome = tasks.monitor_partition_health.delay()
        with pytest.raises(AlertDeliveryError, match="could not deliver"):
            outcome.get(timeout=TIMEOUT, interval=0.05)

    assert outcome.state == "FAILURE"
    runs = 1 + QUICK_RETRY.max_retries
    assert len(receiver.requests) == 2 * runs  # two tries per run
    assert delivery_failures("WebhookAlertSink") == before + runs
    problem = "HTTP 500" if status == 500 else "ReadTimeout"
    assert any("could not deliver" in r.getMessage() and problem in r.getMessage() for r in caplog.records)
    assert_secret_not_logged(caplog)


def test_a_webhook_that_recovers_gets_the_alerts_on_a_retry(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    before = delivery_failures("WebhookAlertSink")
    with webhook_receiver(failures=2) as receiver:  # the first run's two tries fail

        def factory() -> Container:
            container = memory_container(database)
            container.alert_sinks.override(providers.Object([quick_webhook(receiver.url)]))
            return container

        tasks = tasks_with(factory)
        outcome = tasks.monitor_partition_health.delay()
        result = outcome.get(timeout=TIMEOUT, interval=0.05)

    assert outcome.state == "SUCCESS"
    assert result["status"] == "success"
    assert len(receiver.requests) == 3
    assert len(receiver.received) == 1
    assert delivery_failures("WebhookAlertSink") == before + 1


def test_info_only_alerts_are_logged_but_not_posted(tasks_with: UseFactory, caplog: pytest.LogCaptureFixture) -> None:
    balanced = MemoryDatabase(partition_count=PARTITIONS)

    async def load() -> None:
        container = memory_container(balanced)
        for partition in range(PARTITIONS):
            for collection_id in collections_in(partition, 30):
                await container.collection_repository().add(collection_id)
                chunk = Chunk(collection_id=collection_id, chunk_index=0, content="x")
                await container.chunk_repository().add_many([chunk])
        await container.partition_statistics().refresh_collection_stats()

    asyncio.run(load())
    with webhook_receiver() as receiver:
        tasks = tasks_with(lambda: memory_container(balanced, alert_webhook_url=receiver.url))
        result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)

    assert result["overall"] == "HEALTHY"
    assert {a["level"] for a in result["alerts"]} == {"INFO"}
    assert receiver.requests == []  # nothing at or above WARNING: nothing posted
    assert [r.levelno for r in alert_records(caplog)] == [logging.INFO] * len(result["alerts"])


def test_monitor_with_the_database_down_reports_failure_to_the_sinks(
    tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_receiver() as receiver:

        def factory() -> Container:
            container = memory_container(MemoryDatabase(partition_count=PARTITIONS), alert_webhook_url=receiver.url)
            container.partition_statistics.override(providers.Object(UnreachableStatistics()))
            return container

        tasks = tasks_with(factory)
        result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)

    assert result["status"] == "failed"
    assert result["error"] == "database unreachable: [Errno 111] Connection refused"
    [record] = alert_records(caplog)
    assert record.levelno == logging.CRITICAL
    assert "partition health check failed: database unreachable" in record.getMessage()
    [request] = receiver.received
    assert "[CRITICAL] partition health check failed" in json.loads(request["body"])["text"]


def test_refresh_with_the_database_down_fails_the_task(tasks_with: UseFactory) -> None:
    def factory() -> Container:
        container = memory_container(MemoryDatabase(partition_count=PARTITIONS))
        container.partition_statistics.override(providers.Object(UnreachableStatistics()))
        return container

    tasks = tasks_with(factory)
    outcome = tasks.refresh_collection_chunking_stats.delay()
    with pytest.raises(Exception, match="database unreachable"):
        outcome.get(timeout=TIMEOUT, interval=0.05)
    assert outcome.state == "FAILURE"


def test_each_run_gets_a_fresh_container(database: MemoryDatabase, tasks_with: UseFactory) -> None:
    made: list[Container] = []

    def factory() -> Container:
        made.append(memory_container(database))
        return made[-1]

    tasks = tasks_with(factory)
    tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
    tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
    assert len(made) == 2
    assert made[0] is not made[1]


def test_monitor_adds_the_pruning_alert_when_statements_read_every_partition(
    database: MemoryDatabase, tasks_with: UseFactory
) -> None:
    collected = CollectingAlertSink()

    def factory() -> Container:
        container = memory_container(database)
        container.statement_statistics().record(
            "SELECT * FROM chunks WHERE collection_id = $1", partitions_read=PARTITIONS, calls=9, total_time_ms=900
        )
        container.alert_sinks.override(providers.Object([collected]))
        return container

    result = tasks_with(factory).monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
    assert result["status"] == "success"
    pruning = [a for a in collected.sent if a.message.startswith("pruning: ")]
    assert len(pruning) == 1
    assert "read every partition and take 100% of the time spent on chunks" in pruning[0].message
    assert len(collected.sent) == len(result["alerts"]) + 1


def test_monitor_without_pg_stat_statements_still_delivers_the_health_alerts(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    collected = CollectingAlertSink()

    def factory() -> Container:
        container = memory_container(database)
        container.statement_statistics().available = False
        container.alert_sinks.override(providers.Object([collected]))
        return container

    result = tasks_with(factory).monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
    assert result["status"] == "success"
    assert len(collected.sent) == len(result["alerts"]) > 0
    assert any(r.getMessage().startswith("statement pruning not checked: ") for r in caplog.records)


def test_a_worker_without_a_database_url_fails_its_runs_with_a_configuration_error(
    tasks_with: UseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    tasks = tasks_with(lambda: bootstrap(Settings.from_env()))  # the documented one-liner, no DATABASE_URL
    for task in (tasks.monitor_partition_health, tasks.refresh_collection_chunking_stats):
        outcome = task.delay()
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            outcome.get(timeout=TIMEOUT)


def test_each_monitor_run_records_a_snapshot_of_every_partition(
    database: MemoryDatabase, tasks_with: UseFactory
) -> None:
    tasks = tasks_with(lambda: memory_container(database))
    for _ in range(2):
        result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
        assert result["status"] == "success"
    taken = sorted({s.taken_at for s in database.history})
    assert len(taken) == 2 and len(database.history) == 2 * PARTITIONS
    assert sum(s.row_count for s in database.history if s.taken_at == taken[-1]) == sum(
        len(rows) for rows in database.partitions.values()
    )


def test_a_snapshot_that_fails_leaves_the_check_and_the_history_as_they_were(
    database: MemoryDatabase, tasks_with: UseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta

    from semantik_chunks.domain.history import PartitionSample

    future = PartitionSample(0, datetime.now(UTC) + timedelta(days=1), 1, 1)
    database.history.append(future)
    tasks = tasks_with(lambda: memory_container(database))
    result = tasks.monitor_partition_health.delay().get(timeout=TIMEOUT, interval=0.05)
    assert result["status"] == "success" and result["alerts"]
    assert database.history == [future]
    assert any(
        "recording the partition snapshot failed: the clock went backwards" in r.getMessage() for r in caplog.records
    )
