"""``plan``, ``reshape`` and ``isolate`` on the in-memory adapters: output, JSON, refusals, exit codes."""

from __future__ import annotations

import json

import pytest

from semantik_chunks.container import Container
from tests.unit.test_cli_support import healthy_workload, run_cli, share_memory_container


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    found = share_memory_container(monkeypatch)
    healthy_workload(found)
    return found


def test_plan_partitions_prints_the_plan_and_changes_nothing(container: Container) -> None:
    result = run_cli("plan", "--partitions", "200")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Plan: 100 -> 200 partitions (nothing changed)." in text
    assert "multiple of N" in text
    assert container.memory_database().partition_count == 100


def test_plan_as_json_lists_every_partition(container: Container) -> None:
    result = run_cli("plan", "--partitions", "128", "--format", "json")
    document = json.loads(result.stdout)
    assert document["command"] == "plan"
    assert document["partition_count"] == 100 and document["target_count"] == 128
    assert len(document["partitions"]) == 128
    assert sum(p["rows_after"] for p in document["partitions"]) == document["total_rows"] == 2000
    assert {o["relation"] for o in document["nearby"]} >= {"requested", "multiple of N"}


def test_reshape_then_again_then_undo(container: Container) -> None:
    result = run_cli("reshape", "--partitions", "200", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_copied"] == 2000
    assert container.memory_database().partition_count == 200
    again = run_cli("reshape", "--partitions", "200")
    assert "Nothing to do" in again.stdout
    undo = run_cli("reshape", "--undo")
    assert undo.exit_code == 0
    assert container.memory_database().partition_count == 100


def test_dry_run_prints_the_plan(container: Container) -> None:
    result = run_cli("reshape", "--partitions", "50", "--dry-run")
    assert "Plan: 100 -> 50 partitions" in " ".join(result.stdout.split())
    assert container.memory_database().partition_count == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reshape", "--partitions", "100"), "already has 100 partitions"),
        (("isolate", "no-such"), "does not exist in collections"),
        (("isolate", "no-such", "--undo"), "does not exist in collections"),
        (("plan",), "exactly one of --partitions M and --isolate"),
        (("reshape", "--undo"), "never reshaped"),
    ],
)
def test_refusals_are_one_line_and_exit_3(container: Container, args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 3
    assert message in result.stderr and "Traceback" not in result.stderr
    assert container.memory_database().partition_count == 100


def test_isolate_and_its_listing(container: Container) -> None:
    collection = next(iter(container.memory_database().collections))
    result = run_cli("isolate", collection, "--split-documents", "4")
    assert result.exit_code == 0, result.output
    assert "in 4 parts" in result.stdout
    sizes = run_cli("sizes")
    assert f"{collection} in partition" in sizes.stdout
    rows = sum(1 for c in container.memory_database().all_chunks() if c.collection_id == collection)
    for command in ("sizes", "full"):
        document = json.loads(run_cli(command, "--format", "json").stdout)
        [entry] = document["isolated"]
        assert (entry["collection_id"], entry["parts"], entry["rows"]) == (collection, 4, rows)
        assert entry["sub_partition"].startswith("chunks_part_") and entry["bytes"] > 0
    assert run_cli("isolate", collection).exit_code == 3
    assert run_cli("isolate", collection, "--undo").exit_code == 0
    assert json.loads(run_cli("sizes", "--format", "json").stdout)["isolated"] == []
    assert run_cli("isolate", collection, "--split-documents", "1").exit_code == 3
