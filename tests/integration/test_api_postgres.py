"""The host integration over a real PostgreSQL: the example host app's API and metrics, the Celery
tasks, and the 503s of a database that is down or not migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from dependency_injector import providers
from examples.host_app.app import create_app
from prometheus_client.parser import text_string_to_metric_families

from semantik_chunks.adapters.memory.alerts import CollectingAlertSink
from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.entrypoints.api import INTERNAL_KEY_HEADER
from semantik_chunks.entrypoints.tasks import register_tasks
from tests.monitoring_data import HUGE, PARTITION_COUNT, load_huge, postgres_backend

KEY = "postgres-internal-key"
ADMIN = {"Authorization": "Bearer admin-demo-token"}
BASE = "/api/v2/partitions"
HUGE_PARTITION = partition_for(HUGE, PARTITION_COUNT)
# Connection refused: nothing listens on port 1.
DOWN_URL = "postgresql://postgres@127.0.0.1:1/postgres"


def settings(url: str) -> Settings:
    return Settings(partition_count=PARTITION_COUNT, database_url=url, internal_api_key=KEY)


@pytest.fixture(scope="module")
async def huge_url(pg_url: str) -> str:
    """``pg_url`` holding the "huge" scenario: 100 collections of 10 chunks, one of 3,000, statistics settled.

    Loaded once for the module: its tests only read (the refresh task rewrites the same statistics)."""
    async with postgres_backend(pg_url) as backend:
        await load_huge(backend)
    return pg_url


async def client_for(url: str) -> httpx.AsyncClient:
    app = create_app(settings(url))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host")


@pytest.fixture
async def client(huge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(huge_url) as client:
        yield client


async def test_endpoints_answer_from_postgres(client: httpx.AsyncClient) -> None:
    health = (await client.get(BASE + "/health", headers=ADMIN)).json()
    assert health["status"] == "success"
    assert health["metrics"]["total_partitions"] == PARTITION_COUNT
    assert health["metrics"]["total_chunks"] == 4000
    assert health["metrics"]["unbalanced_count"] >= 1

    summary = (await client.get(BASE + "/health-summary", headers={INTERNAL_KEY_HEADER: KEY})).json()
    assert summary["total_partitions"] == PARTITION_COUNT
    first = summary["partitions"][0]
    assert (first["partition_num"], first["health_status"], first["chunk_count"]) == (
        HUGE_PARTITION,
        "UNBALANCED",
        3010,
    )
    assert first["size_bytes"] > 0

    one = (await client.get(BASE + "/statistics", params={"partition_num": HUGE_PARTITION}, headers=ADMIN)).json()
    assert one["statistics"]["chunk_count"] == 3010
    assert one["statistics"]["created_at"] is not None
    total = (await client.get(BASE + "/statistics", headers=ADMIN)).json()
    assert (total["statistics"]["partition_count"], total["statistics"]["total_chunks"]) == (PARTITION_COUNT, 4000)

    advice = (await client.get(BASE + "/recommendations", headers=ADMIN)).json()
    assert advice["recommendations"][0]["partition"] == HUGE_PARTITION
    assert advice["recommendations"][0]["top_collections"][0]["collection_id"] == HUGE


async def test_access_is_checked_before_the_database_is_read(client: httpx.AsyncClient) -> None:
    assert (await client.get(BASE + "/health")).status_code == 401
    assert (await client.get(BASE + "/health", headers={"Authorization": "Bearer user-demo-token"})).status_code == 403
    assert (await client.get(BASE + "/health", headers={INTERNAL_KEY_HEADER: "wrong"})).status_code == 401


async def test_metrics_scraped_from_postgres(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics/")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("semantik_chunks_up", ())] == 1.0
    assert samples[("semantik_chunks_partition_rows", (("partition", str(HUGE_PARTITION)),))] == 3010
    assert samples[("semantik_chunks_partition_size_bytes", (("partition", str(HUGE_PARTITION)),))] > 0
    by_status = {dict(labels)["status"]: v for (n, labels), v in samples.items() if n == "semantik_chunks_partitions"}
    assert sum(by_status.values()) == PARTITION_COUNT


@pytest.mark.parametrize("path", ["/statistics", "/recommendations", "/health-summary"])
async def test_a_database_that_is_down_answers_503(path: str) -> None:
    async with await client_for(DOWN_URL) as client:
        response = await client.get(BASE + path, headers=ADMIN)
    assert response.status_code == 503
    assert response.json() == {"detail": "partition statistics unavailable: the database cannot be read"}


async def test_health_of_a_database_that_is_down_is_the_failed_result() -> None:
    async with await client_for(DOWN_URL) as client:
        response = await client.get(BASE + "/health", headers=ADMIN)
        metrics = await client.get("/metrics/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"].startswith("the partition health check could not read the database")
    assert "Errno" not in response.text and "127.0.0.1" not in response.text
    assert "Traceback" not in response.text
    assert "semantik_chunks_up 0.0" in metrics.text


@pytest.fixture
def unmigrated_url(make_database: Callable[[], str]) -> str:
    return make_database()  # sync: creating a database blocks


async def test_a_database_without_the_schema_answers_503_naming_the_fix(unmigrated_url: str) -> None:
    async with await client_for(unmigrated_url) as client:
        response = await client.get(BASE + "/health", headers=ADMIN)
    assert response.status_code == 503
    assert "semantik-chunks migrate" in response.json()["error"]


# -- Celery on PostgreSQL: each run opens and disposes an engine in an event loop of its own ------------------------
@pytest.fixture
def celery_app() -> Celery:
    app = Celery("host", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.update(worker_hijack_root_logger=False, broker_transport_options={"polling_interval": 0.05})
    return app


def test_tasks_run_against_postgres(huge_url: str, celery_app: Celery) -> None:
    collected = CollectingAlertSink()

    def factory() -> Container:
        container = bootstrap(settings(huge_url))
        container.alert_sinks.override(providers.Object([collected]))
        return container

    tasks = register_tasks(celery_app, factory)
    with start_worker(celery_app, pool="solo", perform_ping_check=False):
        refreshed = tasks.refresh_collection_chunking_stats.delay().get(timeout=60, interval=0.05)
        first = tasks.monitor_partition_health.delay().get(timeout=60, interval=0.05)
        second = tasks.monitor_partition_health.delay().get(timeout=60, interval=0.05)
    assert refreshed["status"] == "success"
    assert first["status"] == second["status"] == "success"
    assert first["metrics"]["total_chunks"] == 4000
    assert len(collected.sent) == len(first["alerts"]) + len(second["alerts"]) > 0
