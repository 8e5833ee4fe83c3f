"""The partition history on a real PostgreSQL: the CLI end to end, and reads that cost the window, not the history."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from semantik_chunks.entrypoints.cli import app
from tests.postgres_servers import asyncpg_dsn, run_sql


@pytest.fixture
def history_url(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "CHUNK_HISTORY_RETENTION_DAYS", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    run_sql(pg_url, "TRUNCATE chunk_partition_history", "TRUNCATE chunks, collections RESTART IDENTITY CASCADE")
    yield pg_url
    run_sql(pg_url, "TRUNCATE chunk_partition_history")


def cli_json(url: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--format", "json", "--db-url", url])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def test_snapshot_history_and_forecast_from_the_command_line(history_url: str) -> None:
    demo = cli_json(history_url, "demo", "--collections", "20", "--chunks", "3000", "--seed", "5")
    taken = cli_json(history_url, "snapshot")
    assert taken["partitions"] == 100 and taken["pruned"] == 0
    found = cli_json(history_url, "history", "--since", "1h")
    assert sum(p["row_count"] for p in found["partitions"]) == demo["chunks"]
    stored = asyncio.run(
        fetch(history_url, "SELECT count(*) AS n, sum(row_count) AS rows FROM chunk_partition_history")
    )
    assert (stored[0]["n"], stored[0]["rows"]) == (100, demo["chunks"])
    forecast = cli_json(history_url, "forecast")
    assert {p["status"] for p in forecast["partitions"]} == {"NOT_ENOUGH_HISTORY"}


def test_retention_prunes_on_write(history_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    run_sql(
        history_url,
        f"INSERT INTO chunk_partition_history (taken_at, partition_num, row_count, size_bytes) "
        f"SELECT '{old.isoformat()}'::timestamptz - g * interval '1 day', p, 1, 1 "
        f"FROM generate_series(0, 9) AS g, generate_series(0, 99) AS p",
    )
    monkeypatch.setenv("CHUNK_HISTORY_RETENTION_DAYS", "45")
    assert cli_json(history_url, "snapshot")["pruned"] == 500  # days 45..49 of 40..49
    monkeypatch.setenv("CHUNK_HISTORY_RETENTION_DAYS", "thirty")
    result = CliRunner().invoke(app, ["snapshot", "--db-url", history_url])
    assert result.exit_code == 3 and "CHUNK_HISTORY_RETENTION_DAYS must be a whole number" in result.stderr
    count = asyncio.run(fetch(history_url, "SELECT count(*) AS n FROM chunk_partition_history"))
    assert count[0]["n"] == 600


def test_reads_and_prunes_of_a_long_history_walk_the_taken_at_index(history_url: str) -> None:
    """90 days of six-hourly snapshots of 100 partitions: a window's read, the newest-snapshot probe of
    ``record`` and the prune are index range scans, so their cost follows the window, not the history."""
    from semantik_chunks.adapters.postgres import history

    run_sql(
        history_url,
        "INSERT INTO chunk_partition_history (taken_at, partition_num, row_count, size_bytes) "
        "SELECT now() - g * interval '6 hours', p, 1000 + g, 4000 + g "
        "FROM generate_series(1, 360) AS g, generate_series(0, 99) AS p",
        "ANALYZE chunk_partition_history",
    )

    async def plans() -> list[str]:
        since = datetime.now(UTC) - timedelta(days=14)
        found = []
        for sql, args in (
            (str(history.READ_ALL).replace(":since", "$1"), (since,)),
            (str(history.READ_ONE).replace(":since", "$1").replace(":partition", "$2"), (since, 7)),
            (str(history.NEWEST), ()),
            (str(history.PRUNE).replace(":older_than", "$1"), (datetime.now(UTC) - timedelta(days=89),)),
        ):
            rows = await fetch(history_url, f"EXPLAIN (COSTS OFF) {sql}", *args)
            found.append("\n".join(r[0] for r in rows))
        return found

    for plan in asyncio.run(plans()):
        assert "chunk_partition_history_pkey" in plan, plan
        assert "Seq Scan" not in plan, plan
