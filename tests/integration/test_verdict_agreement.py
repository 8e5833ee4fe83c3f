"""One verdict everywhere: on the same data, the service's verdict, the CLI's exit code and JSON
``overall`` (and its table), the API's ``/health``, the Celery monitor task's result and the
``semantik_chunks_verdict`` gauge agree, on the memory adapter and on PostgreSQL.

The datasets are docs/operations.md's table (tests/monitoring_data.py): one giant collection (issue
14's 94 %), a few large collections by chance, a hash fault, a burst of writes; each with the verdict,
causes and command the table gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest
from celery import Celery
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from semantik_chunks.adapters.memory.chunks import InMemoryChunkRepository, InMemoryCollectionRepository
from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.statistics import InMemoryPartitionStatistics
from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap, dispose
from semantik_chunks.domain.model import AlertCause, AlertLevel, MonitoringResult, PartitionHealthStatus
from semantik_chunks.entrypoints.cli.app import app as cli_app
from semantik_chunks.entrypoints.metrics import make_metrics_app
from semantik_chunks.entrypoints.tasks import register_tasks
from tests.host_data import host_app, memory_container
from tests.monitoring_data import (
    FAULT_PARTITION,
    GIANT,
    PARTITION_COUNT,
    SCENARIOS,
    Backend,
    postgres_backend,
)

ADMIN = {"Authorization": "Bearer admin-token"}
EXIT_CODE = {PartitionHealthStatus.HEALTHY: 0, PartitionHealthStatus.WARNING: 1, PartitionHealthStatus.UNBALANCED: 4}
LEVEL = {PartitionHealthStatus.HEALTHY: 0, PartitionHealthStatus.WARNING: 1, PartitionHealthStatus.UNBALANCED: 2}


@attrs.frozen
class Expected:
    """A row of docs/operations.md's table: the verdict, its causes, and the commands of its alerts."""

    verdict: PartitionHealthStatus
    causes: tuple[AlertCause, ...]
    commands: tuple[str, ...]


TABLE = {
    "giant": Expected(
        PartitionHealthStatus.UNBALANCED,
        (AlertCause.CAPACITY,),
        (f"semantik-chunks isolate {GIANT} --split-documents 48",),
    ),
    "large_by_chance": Expected(PartitionHealthStatus.HEALTHY, (), ()),
    "hash_fault": Expected(
        PartitionHealthStatus.UNBALANCED, (AlertCause.PLACEMENT,), ("semantik-chunks reshape --partitions 200",)
    ),
    "write_burst": Expected(PartitionHealthStatus.WARNING, (AlertCause.HOT_WRITES,), ("semantik-chunks hot",)),
}


def memory_target() -> tuple[Backend, Callable[[], Container]]:
    database = MemoryDatabase(partition_count=PARTITION_COUNT)
    backend = Backend(
        "memory",
        InMemoryChunkRepository(database),
        InMemoryCollectionRepository(database),
        InMemoryPartitionStatistics(database),
    )
    return backend, lambda: memory_container(database)


@pytest.fixture(params=["memory", "postgres"])
def loaded(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``(dataset, container factory, --db-url)`` for each dataset of the table, on each adapter."""
    for name in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "CHUNK_MAX_PARTITION_BYTES"):
        monkeypatch.delenv(name, raising=False)

    def load(dataset: str) -> tuple[Callable[[], Container], str]:
        if request.param == "memory":
            backend, factory = memory_target()
            asyncio.run(SCENARIOS[dataset](backend))
            return factory, "memory://"
        url = str(request.getfixturevalue("pg_url"))

        async def into_postgres() -> None:
            async with postgres_backend(url) as backend:
                await SCENARIOS[dataset](backend)

        asyncio.run(into_postgres())
        return lambda: bootstrap(Settings(database_url=url)), url

    return load


async def _checked(factory: Callable[[], Container]) -> MonitoringResult:
    container = factory()
    try:
        return await container.monitoring_service().check_partition_health()
    finally:
        await dispose(container)


async def _api(factory: Callable[[], Container]) -> dict[str, Any]:
    container = factory()
    try:
        transport = httpx.ASGITransport(app=host_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            response = await client.get("/api/v2/partitions/health", headers=ADMIN)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body
    finally:
        await dispose(container)


async def _gauge(factory: Callable[[], Container]) -> float:
    container = factory()
    try:
        app = FastAPI()
        app.mount("/metrics", make_metrics_app(container))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
            text = (await client.get("/metrics/")).text
    finally:
        await dispose(container)
    [value] = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "semantik_chunks_verdict"
    ]
    return value


@pytest.mark.parametrize("dataset", sorted(TABLE))
def test_every_entry_point_reports_the_one_verdict(loaded: Any, dataset: str) -> None:
    factory, db_url = loaded(dataset)
    expected = TABLE[dataset]

    result = asyncio.run(_checked(factory))
    assert result.verdict is not None
    assert (result.verdict.status, result.verdict.causes) == (expected.verdict, expected.causes)
    acting = [a for a in result.alerts if a.level is not AlertLevel.INFO]
    assert tuple(sorted({a.command or "" for a in acting})) == expected.commands

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli_app, [*args, "--db-url", db_url], obj=lambda _settings: factory())

    as_json = run("health", "--format", "json")
    document = json.loads(as_json.stdout)
    table = run("full")
    api = asyncio.run(_api(factory))
    task = register_tasks(Celery("verdict-agreement"), factory).monitor_partition_health()
    gauge = asyncio.run(_gauge(factory))

    assert (as_json.exit_code, document["exit_code"], table.exit_code) == (EXIT_CODE[expected.verdict],) * 3
    assert f"Verdict: {expected.verdict.value}  (exit code {EXIT_CODE[expected.verdict]})" in table.stdout
    for command in expected.commands:
        assert f"$ {command}" in table.stdout
    reported = [document["overall"], document["verdict"]["status"], api["overall"], api["verdict"]["status"]]
    reported += [task["overall"], task["verdict"]["status"]]
    assert reported == [expected.verdict.value] * 6
    assert [document["verdict"]["level"], api["verdict"]["level"], task["verdict"]["level"], gauge] == [
        LEVEL[expected.verdict]
    ] * 4
    assert document["verdict"]["causes"] == api["verdict"]["causes"] == [c.value for c in expected.causes]


def test_the_hash_fault_names_its_partition(loaded: Any) -> None:
    factory, _ = loaded("hash_fault")
    result = asyncio.run(_checked(factory))
    [critical] = [a for a in result.alerts if a.level is AlertLevel.CRITICAL]
    assert (critical.cause, critical.partitions) == (AlertCause.PLACEMENT, (FAULT_PARTITION,))
