"""The capacity alert's remedy, run: a giant collection's partition is over its budget, the verdict names
capacity and the isolate command; after running that command the verdict no longer flags it (real
PostgreSQL, through the CLI as an operator would; docs/reshape.md, "The verdict after an isolation").
The isolated collection is then listed by `sizes` and `full` (JSON) and the API."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.hashing import partition_for, partition_table_name
from semantik_chunks.domain.reshape import isolated_name
from semantik_chunks.entrypoints.cli.app import app as cli_app
from semantik_chunks.entrypoints.metrics import make_metrics_app
from tests.host_data import host_app
from tests.monitoring_data import GIANT, PARTITION_COUNT, load_giant, postgres_backend, wait_for_statistics

GIANT_PARTITION = partition_for(GIANT, PARTITION_COUNT)
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def giant_url(make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A database of its own (the test changes the table's layout), with issue 14's giant collection."""
    from semantik_chunks.adapters.postgres import migrate

    for name in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "CHUNK_MAX_PARTITION_BYTES"):
        monkeypatch.delenv(name, raising=False)
    url = make_database()
    migrate.upgrade(url, PARTITION_COUNT)

    async def load() -> None:
        async with postgres_backend(url) as backend:
            await load_giant(backend)

    asyncio.run(load())
    return url


def _cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli_app, [*args, "--db-url", url])


def _settled(url: str) -> None:
    """Every leaf's row count in the statistics equals its rows (the mover's sessions have flushed theirs)."""
    from semantik_chunks.adapters.postgres.engine import create_engine

    async def wait() -> None:
        engine = create_engine(url)
        try:
            await wait_for_statistics(engine)
        finally:
            await engine.dispose()

    asyncio.run(wait())


def _api_isolated(url: str) -> dict[str, Any]:
    """``GET /api/v2/partitions/isolated`` on the host's app, as an admin."""

    async def get() -> dict[str, Any]:
        container = bootstrap(Settings(database_url=url))
        try:
            transport = httpx.ASGITransport(app=host_app(container))
            async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
                response = await client.get("/api/v2/partitions/isolated", headers=ADMIN)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body
        finally:
            await dispose(container)

    return asyncio.run(get())


def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of the metrics app over the database."""

    async def get() -> str:
        container = bootstrap(Settings(database_url=url))
        try:
            app = FastAPI()
            app.mount("/metrics", make_metrics_app(container, statements=False))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as client:
                return (await client.get("/metrics/")).text
        finally:
            await dispose(container)

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(asyncio.run(get()))
        for sample in family.samples
    }


def test_running_the_capacity_alerts_command_remedies_the_partition(giant_url: str) -> None:
    before = _cli(giant_url, "health", "--format", "json")
    assert before.exit_code == 4, before.output
    document = json.loads(before.stdout)
    assert (document["overall"], document["verdict"]["capacity"], document["verdict"]["causes"]) == (
        "UNBALANCED",
        "UNBALANCED",
        ["capacity"],
    )
    [capacity] = [a for a in document["alerts"] if a["cause"] == "capacity"]
    assert capacity["partitions"] == [GIANT_PARTITION]
    # 17,000 of 18,000 rows; the budget is 4 x 18,000 / 100 = 720 rows, parts of at most 360: 48.
    assert capacity["command"] == f"semantik-chunks isolate {GIANT} --split-documents 48"
    assert _api_isolated(giant_url) == {"count": 0, "isolated": []}

    program, *arguments = shlex.split(capacity["command"])
    assert program == "semantik-chunks"
    isolated = _cli(giant_url, *arguments)
    assert isolated.exit_code == 0, isolated.output
    try:
        _settled(giant_url)
        after = _cli(giant_url, "health", "--format", "json")
        assert after.exit_code == 0, after.output
        document = json.loads(after.stdout)
        assert (document["overall"], document["verdict"]["capacity"], document["verdict"]["causes"]) == (
            "HEALTHY",
            "HEALTHY",
            [],
        )
        assert not [a for a in document["alerts"] if a["cause"] in ("capacity", "forecast")]
        exact = _cli(giant_url, "health", "--exact", "--format", "json")
        assert (exact.exit_code, json.loads(exact.stdout)["overall"]) == (0, "HEALTHY"), exact.output

        # The isolated collection in the JSON of `sizes` and `full`, and in the API.
        sub = isolated_name(partition_table_name(GIANT_PARTITION, PARTITION_COUNT), GIANT)
        for command in ("sizes", "full"):
            listed = _cli(giant_url, command, "--format", "json")
            assert listed.exit_code == 0, listed.output
            [entry] = json.loads(listed.stdout)["isolated"]
            assert (entry["collection_id"], entry["partition_num"], entry["sub_partition"]) == (
                GIANT,
                GIANT_PARTITION,
                sub,
            )
            assert (entry["parts"], entry["rows"]) == (48, 17_000)
            assert entry["bytes"] > 0
        body = _api_isolated(giant_url)
        assert body["count"] == 1
        assert {k: body["isolated"][0][k] for k in ("collection_id", "sub_partition", "parts", "rows")} == {
            "collection_id": GIANT,
            "sub_partition": sub,
            "parts": 48,
            "rows": 17_000,
        }
        samples = _metrics(giant_url)
        labels = (("collection", GIANT), ("partition", str(GIANT_PARTITION)))
        assert samples[("semantik_chunks_isolated_collections", ())] == 1
        assert samples[("semantik_chunks_isolated_collection_parts", labels)] == 48
        assert samples[("semantik_chunks_isolated_collection_rows", labels)] == 17_000
        assert samples[("semantik_chunks_verdict", ())] == 0
    finally:
        released = _cli(giant_url, "isolate", GIANT, "--undo")
        assert released.exit_code == 0, released.output
