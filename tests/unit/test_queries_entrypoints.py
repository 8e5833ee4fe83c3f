"""``semantik-chunks queries`` and ``GET /api/v2/partitions/queries`` over the memory adapters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jsonschema_rs
import pytest

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.container import Container
from tests.host_data import host_app, memory_container
from tests.unit.test_cli_support import run_cli, share_memory_container

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "cli.schema.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)

HOST_QUERY = "SELECT * FROM chunks WHERE collection_id = $1"
PRUNED = "SELECT * FROM chunks WHERE partition_key = $1 AND collection_id = $2"
KEY = "internal-key-0123456789abcdef"
ADMIN = {"Authorization": "Bearer admin-token"}
USER = {"Authorization": "Bearer user-token"}
URL = "/api/v2/partitions/queries"


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    return share_memory_container(monkeypatch)


def record_workload(container: Container, host_ms: float) -> None:
    statements = container.statement_statistics()
    statements.record(HOST_QUERY, partitions_read=100, calls=40, total_time_ms=host_ms, rows=400)
    statements.record(PRUNED, partitions_read=1, calls=1000, total_time_ms=1000, rows=9000)
    statements.record("COPY chunks FROM STDIN (FORMAT binary)", partitions_read=None, calls=3, total_time_ms=50)
    statements.record("SELECT 1 FROM chunks WHERE", partitions_read=None, problem="PostgreSQL could not plan it")


def json_document(*args: str) -> tuple[int, dict[str, object]]:
    result = run_cli("queries", *args, "--format", "json")
    assert result.stderr == ""
    document = json.loads(result.stdout)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]
    assert not errors, errors
    return result.exit_code, document


def test_the_table_lists_the_host_query_with_its_fix_and_exits_1_on_the_alert(container: Container) -> None:
    record_workload(container, host_ms=4000)
    result = run_cli("queries")
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    assert "[WARNING] pruning: 1 statements on chunks read every partition and take 79%" in out
    assert "1. reads every partition 40 calls · 4.00 s total · 100.0 ms mean · 400 rows" in out
    assert HOST_QUERY in out
    assert "Fix: add `AND partition_key = get_partition_key($1)`" in out
    assert "1 × a utility statement (COPY): it has no plan to read" in out
    assert "1 × PostgreSQL could not plan it" in out
    assert PRUNED not in out


def test_json_matches_the_schema_and_says_what_the_table_says(container: Container) -> None:
    record_workload(container, host_ms=4000)
    code, document = json_document()
    assert code == document["exit_code"] == 1
    assert (document["statements"], document["analysed"], document["pruned"]) == (4, 2, 1)
    [alert] = document["alerts"]  # type: ignore[misc]
    assert alert["cause"] == "pruning"
    [host] = document["unpruned"]  # type: ignore[misc]
    assert (host["query"], host["partitions_read"], host["reads_every_partition"]) == (HOST_QUERY, 100, True)
    assert host["mean_time_ms"] == 100
    assert document["not_analysed"][0]["reason"].startswith("a utility statement (COPY)")  # type: ignore[attr-defined]


def test_below_the_alert_share_the_command_exits_0(container: Container) -> None:
    record_workload(container, host_ms=10)  # 10 ms of about 1,060 ms: 1%
    code, document = json_document()
    assert code == 0
    assert document["alerts"] == []
    assert len(document["unpruned"]) == 1  # type: ignore[arg-type]


def test_nothing_recorded_is_a_clean_bill(container: Container) -> None:
    result = run_cli("queries")
    assert result.exit_code == 0
    assert "Every analysed statement reads at most one partition." in result.stdout


def test_the_alert_share_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, container: Container) -> None:
    monkeypatch.setenv("SEMANTIK_PRUNING_ALERT_SHARE", "0.9")
    from semantik_chunks.config import Settings

    assert Settings.from_env().pruning_alert_share == 0.9
    monkeypatch.setenv("SEMANTIK_PRUNING_ALERT_SHARE", "lots")
    result = run_cli("queries")
    assert result.exit_code == 3
    assert "SEMANTIK_PRUNING_ALERT_SHARE must be a fraction" in result.stderr


def test_without_statement_statistics_one_line_says_how_to_enable_them_and_exit_3(container: Container) -> None:
    container.statement_statistics().available = False
    result = run_cli("queries")
    assert result.exit_code == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "shared_preload_libraries = 'pg_stat_statements'" in line
    assert "CREATE EXTENSION pg_stat_statements" in line
    # The rest of the monitoring does not depend on it.
    assert run_cli("health").exit_code == 0


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    container = memory_container(MemoryDatabase(partition_count=100), internal_api_key=KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host_app(container)), base_url="http://host") as c:
        yield c, container


async def test_the_endpoint_has_the_same_access_rules(api: tuple[httpx.AsyncClient, Container]) -> None:
    client, _ = api
    assert (await client.get(URL)).status_code == 401
    assert (await client.get(URL, headers=USER)).status_code == 403
    assert (await client.get(URL, headers={"X-Internal-Api-Key": "wrong-key-wrong-key-wrong"})).status_code == 401
    assert (await client.get(URL, headers=ADMIN)).status_code == 200
    assert (await client.get(URL, headers={"X-Internal-Api-Key": KEY})).status_code == 200


async def test_the_endpoint_reports_the_statements(api: tuple[httpx.AsyncClient, Container]) -> None:
    client, container = api
    record_workload(container, host_ms=4000)
    body = (await client.get(URL, headers=ADMIN)).json()
    assert body["alerts"][0]["cause"] == "pruning"
    assert body["unpruned"][0]["query"] == HOST_QUERY
    assert body["unpruned"][0]["fix"].startswith("add `AND partition_key = get_partition_key($1)`")
    assert len(body["not_analysed"]) == 2


async def test_without_statement_statistics_the_endpoint_answers_503(api: tuple[httpx.AsyncClient, Container]) -> None:
    client, container = api
    container.statement_statistics().available = False
    response = await client.get(URL, headers=ADMIN)
    assert response.status_code == 503
    assert "shared_preload_libraries" in response.json()["detail"]
    assert (await client.get("/api/v2/partitions/health-summary", headers=ADMIN)).status_code == 200


async def test_the_endpoint_is_in_the_openapi_schema(api: tuple[httpx.AsyncClient, Container]) -> None:
    client, _ = api
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "503" in paths[URL]["get"]["responses"]


def test_the_postgres_statement_adapter_waits_at_most_the_librarys_lock_timeout() -> None:
    from semantik_chunks.config import Settings
    from semantik_chunks.container import bootstrap

    container = bootstrap(Settings(database_url="postgresql://app@db.invalid/semantik", lock_timeout_ms=250))
    assert container.statement_statistics().lock_timeout_seconds == 0.25
    default = bootstrap(Settings(database_url="postgresql://app@db.invalid/semantik"))
    assert default.statement_statistics().lock_timeout_seconds == 5.0


def test_control_characters_in_a_statement_are_written_out_not_sent_to_the_terminal(container: Container) -> None:
    container.statement_statistics().record(
        "SELECT * FROM chunks WHERE collection_id = '\x1b[2J\x1b]0;owned\x07'", partitions_read=100, total_time_ms=10
    )
    result = run_cli("queries")
    assert "\x1b" not in result.stdout
    assert "\\x1b[2J" in result.stdout
