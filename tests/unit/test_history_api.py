"""GET /api/v2/partitions/history and /forecast over the memory adapters (auth: see test_api.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.history import parse_span
from semantik_chunks.domain.model import PartitionSnapshot
from semantik_chunks.domain.thresholds import Thresholds
from semantik_chunks.entrypoints.history_api import (
    SPAN_PATTERN,
    PartitionForecastResponse,
    PartitionHistoryResponse,
)
from tests.host_data import PARTITIONS, UnreachableHistory, host_app, memory_container

BASE = "/api/v2/partitions"
ADMIN = {"Authorization": "Bearer admin-token"}


async def record(database: MemoryDatabase, rows: dict[int, list[int]]) -> None:
    container = memory_container(database)
    length = len(rows[0])
    start = utc_now() - timedelta(hours=1) - timedelta(hours=6) * (length - 1)
    for i in range(length):
        snaps = [PartitionSnapshot(p, r[i], r[i] * 500, writes=r[i]) for p, r in sorted(rows.items())]
        await container.partition_history().record(snaps, start + timedelta(hours=6) * i)


@pytest.fixture
async def database() -> MemoryDatabase:
    database = MemoryDatabase(partition_count=PARTITIONS)
    rows = {p: [1000] * 9 for p in range(PARTITIONS)}
    rows[2] = [1000 + 25 * i for i in range(9)]
    await record(database, rows)
    return database


@pytest.fixture
async def client(database: MemoryDatabase) -> AsyncIterator[httpx.AsyncClient]:
    # Four partitions: the default budget (4x the fair share) is the whole table; 1.5x can be crossed.
    app = host_app(memory_container(database, thresholds=Thresholds(capacity=0.5)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
        yield client


async def get(client: httpx.AsyncClient, path: str, status: int = 200, **params: Any) -> Any:
    response = await client.get(BASE + path, headers=ADMIN, params=params)
    assert response.status_code == status, response.text
    return response.json()


async def test_history(client: httpx.AsyncClient) -> None:
    body = await get(client, "/history", since="7d")
    PartitionHistoryResponse.model_validate(body)
    assert body["snapshots"] == 9 and len(body["partitions"]) == PARTITIONS
    two = (await get(client, "/history", partition_num=2))["partitions"]
    assert [(p["partition_name"], p["row_change"], p["rows_per_day"]) for p in two] == [("chunks_part_02", 200, 100.0)]
    assert len(two[0]["points"]) == 9
    assert (await get(client, "/history", since="30m"))["partitions"] == []


async def test_forecast(client: httpx.AsyncClient) -> None:
    body = await get(client, "/forecast")
    PartitionForecastResponse.model_validate(body)
    p2 = body["partitions"][2]
    assert p2["status"] == "CROSSING" and p2["budget_kind"] == "share"
    assert p2["summary"].startswith("chunks_part_02 reaches 1.5x its fair share in about")
    assert body["budget"] == {"share_factor": 1.5, "max_bytes": None}
    assert {p["status"] for p in (await get(client, "/forecast", window="1h"))["partitions"]} == {"NOT_ENOUGH_HISTORY"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/history", {"since": "yesterday-ish"}),
        ("/history", {"since": "-2d"}),
        ("/history", {"since": "2025-01-01"}),
        ("/forecast", {"window": "0h"}),
        ("/forecast", {"window": "1.5d"}),
    ],
)
async def test_unreadable_spans_are_422_naming_the_pattern(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    [error] = (await get(client, path, 422, **params))["detail"]
    assert error["loc"] == ["query", *params] and SPAN_PATTERN in error["msg"]


def test_every_span_the_schema_admits_is_read() -> None:
    for unit in "smhdw":
        for number in ("1", "9999"):
            assert parse_span(number + unit) > timedelta(0)


async def test_a_partition_outside_the_table_is_422(client: httpx.AsyncClient) -> None:
    await get(client, "/history", 422, partition_num=PARTITIONS)
    await get(client, "/history", 422, partition_num=-1)


async def test_an_empty_history(client: httpx.AsyncClient, database: MemoryDatabase) -> None:
    database.history.clear()
    assert (await get(client, "/history"))["partitions"] == []
    assert (await get(client, "/forecast"))["snapshots"] == 0


async def test_an_unreachable_database_is_503() -> None:
    container = memory_container(MemoryDatabase(partition_count=PARTITIONS))
    container.partition_history.override(providers.Object(UnreachableHistory()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host_app(container)), base_url="http://host") as c:
        for path in ("/history", "/forecast"):
            body = await get(c, path, 503)
            assert body["detail"].startswith("partition history unavailable: database unreachable")
