"""The /api/v2/partitions router over the memory adapters: auth matrix, response shapes, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from dependency_injector import providers

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.adapters.memory.reshape import InMemoryTableReshaper
from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.reshape import isolated_name
from semantik_chunks.entrypoints.api import (
    HEALTH_CHECK_FAILED,
    INTERNAL_KEY_HEADER,
    PartitionHealthCheckFailed,
    PartitionHealthReport,
)
from semantik_chunks.entrypoints.report_models import IsolatedCollections
from tests.host_data import (
    HEAVY_PARTITION,
    PARTITIONS,
    UnreachableStatistics,
    host_app,
    memory_container,
    seed_skewed,
)

KEY = "internal-key-0123456789abcdef"
WRONG_KEY = "internal-key-wrong-guess-000"
ADMIN = {"Authorization": "Bearer admin-token"}
USER = {"Authorization": "Bearer user-token"}
ENDPOINTS = ["/health", "/statistics", "/recommendations", "/health-summary", "/history", "/forecast", "/isolated"]
BASE = "/api/v2/partitions"


@pytest.fixture
async def database() -> MemoryDatabase:
    database = MemoryDatabase(partition_count=PARTITIONS)
    await seed_skewed(memory_container(database))
    return database


@pytest.fixture
async def client(database: MemoryDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = host_app(memory_container(database, internal_api_key=KEY))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        yield client


@pytest.fixture
async def keyless_client(database: MemoryDatabase) -> AsyncIterator[httpx.AsyncClient]:
    app = host_app(memory_container(database))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        yield client


@pytest.fixture
async def down_client() -> AsyncIterator[httpx.AsyncClient]:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS), internal_api_key=KEY)
    container.partition_statistics.override(providers.Object(UnreachableStatistics()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host_app(container)), base_url="http://host") as c:
        yield c


# -- access ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(ADMIN, 200, id="admin"),
        pytest.param(USER, 403, id="non-admin"),
        pytest.param({}, 401, id="no-credentials"),
        pytest.param({INTERNAL_KEY_HEADER: KEY}, 200, id="right-key"),
        pytest.param({INTERNAL_KEY_HEADER: WRONG_KEY}, 401, id="wrong-key"),
        pytest.param({INTERNAL_KEY_HEADER: ""}, 401, id="empty-key"),
        pytest.param({INTERNAL_KEY_HEADER: WRONG_KEY, **ADMIN}, 200, id="wrong-key-but-admin"),
        pytest.param({INTERNAL_KEY_HEADER: WRONG_KEY, **USER}, 403, id="wrong-key-and-non-admin"),
        pytest.param({INTERNAL_KEY_HEADER: KEY, **USER}, 200, id="right-key-and-non-admin"),
        pytest.param({"Authorization": "Bearer forged"}, 401, id="invalid-token"),
    ],
)
async def test_access_with_a_configured_key(
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await client.get(BASE + path, headers=headers)
    assert response.status_code == status, response.text
    assert KEY not in response.text
    assert all(KEY not in r.getMessage() and WRONG_KEY not in r.getMessage() for r in caplog.records)
    if status == 401:
        assert response.json()["detail"] in (
            f"authentication required: an admin user or a valid {INTERNAL_KEY_HEADER}",
            "invalid token",
        )
    if status == 403:
        assert response.json() == {"detail": "admin rights required"}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param(ADMIN, 200, id="admin"),
        pytest.param(USER, 403, id="non-admin"),
        pytest.param({}, 401, id="no-credentials"),
        pytest.param({INTERNAL_KEY_HEADER: KEY}, 401, id="any-key-is-refused"),
        pytest.param({INTERNAL_KEY_HEADER: ""}, 401, id="empty-key-is-refused"),
    ],
)
async def test_access_without_a_configured_key(
    keyless_client: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> None:
    response = await keyless_client.get(BASE + path, headers=headers)
    assert response.status_code == status, response.text


async def test_a_wrong_key_is_logged_without_the_key(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="semantik_chunks")
    await client.get(BASE + "/health", headers={INTERNAL_KEY_HEADER: WRONG_KEY})
    [record] = [r for r in caplog.records if r.name == "semantik_chunks.entrypoints.api"]
    assert record.getMessage() == f"rejected a wrong {INTERNAL_KEY_HEADER} on {BASE}/health"


# -- responses ------------------------------------------------------------------------------------
async def test_health_reports_the_unbalanced_partition(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE + "/health", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["error"] is None
    assert body["overall"] == "UNBALANCED"
    assert body["timestamp"].endswith("Z") or body["timestamp"].endswith("+00:00")
    critical = [a for a in body["alerts"] if a["level"] == "CRITICAL"]
    assert critical == [
        {
            "level": "CRITICAL",
            "message": "1 partitions are unbalanced",
            "action": "Review the rebalancing recommendations for the collections behind them",
            "partitions": [HEAVY_PARTITION],
            "cause": "placement",
            "command": f"semantik-chunks reshape --partitions {2 * PARTITIONS}",
        }
    ]
    assert body["verdict"] == {
        "status": "UNBALANCED",
        "placement": "UNBALANCED",
        "capacity": "HEALTHY",
        "causes": ["placement"],
        "level": 2,
    }
    metrics = body["metrics"]
    assert metrics["total_partitions"] == PARTITIONS
    assert metrics["total_chunks"] == 150
    assert (metrics["unbalanced_count"], metrics["warning_count"], metrics["healthy_count"]) == (1, 0, 3)
    assert metrics["chance_from_collections"] is True
    assert metrics["skew_metrics"]["chunk_distribution"]["status"] == "CRITICAL"
    assert metrics["skew_metrics"]["chunk_distribution"]["value"] == pytest.approx(0.6)
    PartitionHealthReport.model_validate(body)


async def test_aggregate_statistics(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE + "/statistics", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["partition_num"] is None
    stats = body["statistics"]
    assert set(stats) == {
        "partition_count",
        "total_chunks",
        "total_size_mb",
        "avg_chunks_per_partition",
        "chunk_count_stddev",
    }
    assert (stats["partition_count"], stats["total_chunks"]) == (PARTITIONS, 150)
    assert stats["avg_chunks_per_partition"] == pytest.approx(37.5)
    assert stats["chunk_count_stddev"] == pytest.approx(15.0)
    assert stats["total_size_mb"] > 0


async def test_one_partitions_statistics(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE + "/statistics", params={"partition_num": HEAVY_PARTITION}, headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["partition_num"] == HEAVY_PARTITION
    stats = body["statistics"]
    assert set(stats) == {"partition_num", "chunk_count", "total_size_mb", "avg_chunk_size_kb", "created_at"}
    assert (stats["partition_num"], stats["chunk_count"]) == (HEAVY_PARTITION, 60)
    assert stats["avg_chunk_size_kb"] > 0
    assert stats["created_at"] is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (str(PARTITIONS), f"Input should be less than or equal to {PARTITIONS - 1}"),
        ("-1", "Input should be greater than or equal to 0"),
        ("two", "Input should be a valid integer, unable to parse string as an integer"),
        ("1.5", "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
async def test_partition_num_out_of_range_or_not_an_int_is_422(
    client: httpx.AsyncClient, value: str, message: str
) -> None:
    response = await client.get(BASE + "/statistics", params={"partition_num": value}, headers=ADMIN)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "partition_num"]
    assert error["msg"] == message


async def test_recommendations(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE + "/recommendations", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["recommendations"]) == 1
    [advice] = body["recommendations"]
    assert advice["partition"] == HEAVY_PARTITION
    assert advice["current_skew"] == pytest.approx(0.6)
    assert advice["priority"] == "HIGH"
    assert advice["reason"].startswith("High chunk skew")
    assert len(advice["top_collections"]) == 5
    assert advice["top_collections"][0]["chunk_count"] == 1


async def test_health_summary(client: httpx.AsyncClient) -> None:
    response = await client.get(BASE + "/health-summary", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["total_partitions"] == PARTITIONS
    assert (body["healthy_count"], body["warning_count"], body["unbalanced_count"]) == (3, 0, 1)
    assert body["health_percentage"] == pytest.approx(75.0)
    first = body["partitions"][0]
    assert first["partition_num"] == HEAVY_PARTITION
    assert first["health_status"] == "UNBALANCED"
    assert first["chunk_percentage"] == pytest.approx(40.0)
    assert first["chunk_skew"] == pytest.approx(0.6)
    assert first["chunk_count"] == 60
    assert sorted(p["partition_num"] for p in body["partitions"]) == list(range(PARTITIONS))


# -- database down ----------------------------------------------------------------------------------
async def test_isolated_collections(client: httpx.AsyncClient, database: MemoryDatabase) -> None:
    assert (await client.get(BASE + "/isolated", headers=ADMIN)).json() == {"count": 0, "isolated": []}
    heavy = max(database.partitions[HEAVY_PARTITION].values(), key=lambda c: c.id or 0).collection_id
    rows = sum(1 for c in database.partitions[HEAVY_PARTITION].values() if c.collection_id == heavy)
    await InMemoryTableReshaper(database).isolate(heavy, 4)
    response = await client.get(BASE + "/isolated", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [entry] = body["isolated"]
    assert {k: entry[k] for k in ("collection_id", "partition_num", "sub_partition", "parts", "rows")} == {
        "collection_id": heavy,
        "partition_num": HEAVY_PARTITION,
        "sub_partition": isolated_name(partition_table_name(HEAVY_PARTITION, PARTITIONS), heavy),
        "parts": 4,
        "rows": rows,
    }
    assert entry["bytes"] > 0
    IsolatedCollections.model_validate(body)


async def test_health_when_the_database_is_down_is_503_with_the_failed_result(down_client: httpx.AsyncClient) -> None:
    response = await down_client.get(BASE + "/health", headers=ADMIN)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"] == HEALTH_CHECK_FAILED  # the driver's words stay in the log
    assert body["alerts"] == []
    assert body["metrics"] == {}
    PartitionHealthCheckFailed.model_validate(body)


@pytest.mark.parametrize(
    "path", ["/statistics", "/statistics?partition_num=1", "/recommendations", "/health-summary", "/isolated"]
)
async def test_other_endpoints_when_the_database_is_down_are_503(down_client: httpx.AsyncClient, path: str) -> None:
    response = await down_client.get(BASE + path, headers={INTERNAL_KEY_HEADER: KEY})
    assert response.status_code == 503
    assert response.json() == {"detail": "partition statistics unavailable: the database cannot be read"}


async def test_a_down_database_does_not_hide_auth_errors(down_client: httpx.AsyncClient) -> None:
    assert (await down_client.get(BASE + "/health")).status_code == 401


# -- OpenAPI ------------------------------------------------------------------------------------------
async def test_openapi_documents_the_response_models_and_the_key(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert {BASE + p for p in ENDPOINTS} <= set(paths)
    health = paths[BASE + "/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PartitionHealthReport"
    }
    assert health["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PartitionHealthCheckFailed"
    }
    assert {"401", "403"} <= set(health)
    parameter = paths[BASE + "/statistics"]["get"]["parameters"][0]
    assert parameter["name"] == "partition_num"
    assert parameter["schema"]["anyOf"][0] == {"type": "integer", "minimum": 0, "maximum": PARTITIONS - 1}
    schemes = schema["components"]["securitySchemes"]
    assert schemes["InternalApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": INTERNAL_KEY_HEADER,
        "description": "The host's internal API key (SEMANTIK_INTERNAL_API_KEY), for scripts and dashboards",
    }
    assert KEY not in str(schema)


async def test_openapi_without_a_key_does_not_offer_one(keyless_client: httpx.AsyncClient) -> None:
    schema = (await keyless_client.get("/openapi.json")).json()
    assert "InternalApiKey" not in schema.get("components", {}).get("securitySchemes", {})


def test_an_api_without_a_database_url_is_a_configuration_error_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from semantik_chunks.config import Settings
    from semantik_chunks.container import bootstrap
    from semantik_chunks.domain.errors import ConfigurationError
    from semantik_chunks.entrypoints.api import create_partition_router
    from semantik_chunks.entrypoints.metrics import make_metrics_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    for container in (bootstrap(Settings()), bootstrap()):
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            create_partition_router(container, lambda: None, is_admin=lambda _user: True)
        with pytest.raises(ConfigurationError, match="DATABASE_URL"):
            make_metrics_app(container)
