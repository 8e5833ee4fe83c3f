"""Every ``--format json`` document against the published schema (docs/cli.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from semantik_chunks.container import Container
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
