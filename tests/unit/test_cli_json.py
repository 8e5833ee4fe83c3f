"""Every ``--format json`` document against the published schema (docs/cli.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from dependency_injector import providers

from semantik_chunks.container import Container
from semantik_chunks.domain.schema import SchemaRevision
from semantik_chunks.entrypoints import report_models
from tests.unit.test_cli_support import run_cli, share_memory_container, unbalanced_workload, warning_workload

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "cli.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)

COMMANDS = ("health", "distribution", "sizes", "hot", "skew", "collections", "full", "refresh", "migrate")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    return share_memory_container(monkeypatch)


def document_of(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--format", "json")
    assert result.exit_code in (0, 1, 4), result.output
    assert result.stderr == ""
    document = json.loads(result.stdout)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]
    assert not errors, errors
    return document


def test_the_schema_is_a_valid_json_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema_rs.meta.validate(SCHEMA)


def test_the_committed_schema_is_the_one_the_models_generate() -> None:
    """Regenerate with ``python -m semantik_chunks.entrypoints.report_models docs/cli.schema.json``."""
    assert SCHEMA_FILE.read_text() == report_models.cli_json_schema_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_documents_of_an_empty_database_match_the_schema(container: Container, command: str) -> None:
    assert document_of(command)["command"] == command


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("load", [unbalanced_workload, warning_workload])
def test_documents_of_a_loaded_database_match_the_schema(container: Container, command: str, load: Any) -> None:
    load(container)
    assert document_of(command)["command"] == command


@pytest.mark.parametrize("command", ["health", "distribution", "skew", "full"])
def test_exact_documents_match_the_schema(container: Container, command: str) -> None:
    unbalanced_workload(container)
    assert document_of(command, "--exact")["mode"] == "exact"


def test_demo_document_matches_the_schema_and_the_reports_after_it(container: Container) -> None:
    demo = document_of("demo", "--collections", "40", "--chunks", "4000", "--seed", "12")
    assert (demo["collections"], demo["chunks"]) == (40, 4000)
    for command in COMMANDS:
        document_of(command)


def test_the_schema_rejects_what_the_cli_must_not_print(container: Container) -> None:
    """The schema is strict enough to catch drift: an extra key, a missing key, a local time."""
    document = document_of("health")
    assert VALIDATOR.is_valid(document)
    assert not VALIDATOR.is_valid({**document, "surprise": 1})
    assert not VALIDATOR.is_valid({k: v for k, v in document.items() if k != "alerts"})
    assert not VALIDATOR.is_valid({**document, "generated_at": "2026-03-01T12:00:00+01:00"})


def test_health_keys_come_in_a_stable_order(container: Container) -> None:
    assert list(document_of("health")) == [
        "command",
        "generated_at",
        "partition_count",
        "mode",
        "overall",
        "exit_code",
        "verdict",
        "status",
        "timestamp",
        "alerts",
        "metrics",
        "error",
        "unreachable",
        "partitions",
    ]


def test_partitions_come_in_partition_order_and_sizes_largest_first(container: Container) -> None:
    unbalanced_workload(container)
    health = document_of("health")["partitions"]
    assert [p["partition_num"] for p in health] == list(range(100))
    sizes = document_of("sizes")["partitions"]
    assert sizes[0]["partition_num"] == 0
    assert [p["size_bytes"] for p in sizes] == sorted((p["size_bytes"] for p in sizes), reverse=True)


def test_the_full_document_names_the_collections_behind_a_partition(container: Container) -> None:
    crowded = unbalanced_workload(container)
    full = document_of("full")
    (advice,) = [r for r in full["recommendations"] if r["partition"] == 0]
    assert advice["priority"] == "HIGH"
    assert {c["collection_id"] for c in advice["top_collections"]} <= set(crowded)
    assert len(advice["top_collections"]) == 5
    assert all(c["partition_num"] in range(100) for c in full["top_collections"])


class Migrations:
    """The ``SchemaMigrations`` port of a database at ``sc0002`` of three revisions (memory:// has no schema;
    tests/integration/test_cli_postgres.py runs these commands on PostgreSQL)."""

    REVISIONS = (("sc0001", None, "chunks table"), ("sc0002", "sc0001", "take over"), ("sc0003", "sc0002", "views"))

    def __init__(self, at: int) -> None:
        self.at = at

    async def applied(self) -> tuple[str, ...]:
        return (self.REVISIONS[self.at - 1][0],) if self.at else ()

    async def history(self) -> list[SchemaRevision]:
        return [SchemaRevision(r, down, text, i < self.at) for i, (r, down, text) in enumerate(self.REVISIONS)]


@pytest.mark.parametrize(("at", "current"), [(2, ["sc0002"]), (0, [])])
def test_migrate_current_and_history_print_documents_of_the_schema(
    container: Container, at: int, current: list[str]
) -> None:
    container.schema_migrations.override(providers.Object(Migrations(at)))
    container.table_adoption.override(providers.Object(None))  # neither command moves rows
    document = document_of("migrate", "current")
    assert (document["command"], document["database"], document["revisions"]) == (
        "migrate current",
        "memory://",
        current,
    )
    history = document_of("migrate", "history")
    assert history["command"] == "migrate history"
    assert history["revisions"] == [
        {"revision": "sc0001", "down_revision": None, "description": "chunks table", "applied": at >= 1},
        {"revision": "sc0002", "down_revision": "sc0001", "description": "take over", "applied": at >= 2},
        {"revision": "sc0003", "down_revision": "sc0002", "description": "views", "applied": False},
    ]
    # The table stays what it was: one line, and a line per revision that scripts split by whitespace.
    assert run_cli("migrate", "current").stdout == f"memory:// is at revision {', '.join(current) or '(none)'}.\n"
    lines = run_cli("migrate", "history").stdout.splitlines()
    assert lines[0] == "base  (nothing of the library's schema)"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["sc0001", "applied" if at >= 1 else "pending"],
        ["sc0002", "applied" if at >= 2 else "pending"],
        ["sc0003", "pending"],
    ]


@pytest.mark.parametrize("command", ["current", "history"])
def test_migrate_current_and_history_on_memory_fail_in_one_line_even_as_json(
    container: Container, command: str
) -> None:
    result = run_cli("migrate", command, "--format", "json")
    assert result.exit_code == 3
    assert result.stdout == ""  # no half document
    assert "memory:// keeps no schema" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_schema_tells_the_migrate_documents_apart() -> None:
    now = "2026-03-01T12:00:00Z"
    current = {"command": "migrate current", "generated_at": now, "database": "embedded", "revisions": []}
    assert VALIDATOR.is_valid(current)
    assert not VALIDATOR.is_valid({**current, "command": "migrate-current"})
    assert not VALIDATOR.is_valid({**current, "revisions": [{"revision": "sc0001"}]})
    history = {**current, "command": "migrate history", "revisions": [{"revision": "sc0001"}]}
    assert not VALIDATOR.is_valid(history)  # a revision names what it follows, says what it is and if applied
