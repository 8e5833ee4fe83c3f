"""``snapshot``, ``history`` and ``forecast`` on the in-memory adapters: output, JSON schema, bad input."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from rich.cells import cell_len

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.history import PartitionSample
from semantik_chunks.domain.model import PartitionSnapshot
from semantik_chunks.entrypoints.cli.history import sparkline
from tests.unit.test_cli_support import PARTITIONS, healthy_workload, run_cli, share_memory_container

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "cli.schema.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    return share_memory_container(monkeypatch)


def document(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(parsed)]
    assert not errors, errors
    return parsed


def usage_error(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert result.stdout == ""
    return lines[0]


def record(container: Container, rows: dict[int, list[int]], every: timedelta = timedelta(hours=6)) -> None:
    """Snapshots ending an hour ago, one every ``every``: partition p has rows[p][i] at the i-th."""
    length = len(next(iter(rows.values())))
    start = utc_now() - timedelta(hours=1) - every * (length - 1)

    async def go() -> None:
        port = container.partition_history()
        for i in range(length):
            snaps = [PartitionSnapshot(p, r[i], r[i] * 500, writes=r[i]) for p, r in sorted(rows.items())]
            await port.record(snaps, start + every * i)

    asyncio.run(go())


def stored(container: Container) -> list[PartitionSample]:
    return asyncio.run(container.partition_history().read(utc_now() - timedelta(days=3650)))


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(1000)))) == 24


def test_snapshot_then_history(container: Container) -> None:
    healthy_workload(container)
    taken = document("snapshot")
    assert (taken["partitions"], taken["pruned"], taken["retention_days"]) == (PARTITIONS, 0, 90)
    table = run_cli("snapshot")
    assert table.exit_code == 0 and f"Recorded a snapshot of {PARTITIONS} partitions" in table.stdout
    found = document("history")
    assert found["snapshots"] == 2 and len(found["partitions"]) == PARTITIONS
    one = document("history", "--partition", "5", "--since", "1h")
    assert [p["partition_num"] for p in one["partitions"]] == [5]
    assert len(one["partitions"][0]["points"]) == 2


def test_history_shows_growth_with_a_sparkline_in_eighty_columns(container: Container) -> None:
    record(container, {p: [100 + (40 * i if p == 13 else 0) for i in range(8)] for p in range(PARTITIONS)})
    result = run_cli("history", "--since", "7d")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "chunks_part_13" in line)
    assert "+280" in line and "▁▂▃▄▅▆▇█" in line and "+160" in line  # 40 rows per 6 h is 160 a day
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 80
    entry = document("history", "--partition", "13")["partitions"][0]
    assert (entry["row_count"], entry["row_change"], entry["rows_per_day"]) == (380, 280, 160.0)


def test_forecast_names_the_partition_and_when(container: Container) -> None:
    # Every partition holds 1000 rows; partition 13 grows 100 a day, one partition had a one-off bulk load.
    rows = {p: [1000] * 9 for p in range(PARTITIONS)}
    rows[13] = [1000 + 25 * i for i in range(9)]
    rows[40] = [1000] * 4 + [4500] * 5
    record(container, rows)
    found = document("forecast")
    p13 = found["partitions"][13]
    assert p13["status"] == "CROSSING" and p13["rows_per_day"] == pytest.approx(100.0)
    assert p13["summary"].startswith("chunks_part_13 reaches 4x its fair share in about")
    assert found["partitions"][40]["status"] == "OVER_BUDGET"  # 4.4x now: over, but not growing
    assert found["partitions"][40]["rows_per_day"] == 0.0
    assert found["partitions"][3]["status"] == "NOT_CROSSING"
    result = run_cli("forecast")
    assert result.exit_code == 0
    assert "chunks_part_13 reaches 4x its fair share in about" in result.stdout
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 80


def test_an_empty_history_is_an_empty_answer(container: Container) -> None:
    assert document("history")["partitions"] == []
    result = run_cli("history")
    assert result.exit_code == 0 and "No snapshots in this window" in result.stdout
    assert {p["status"] for p in document("forecast")["partitions"]} == {"NOT_ENOUGH_HISTORY"}
    assert "Not enough history to forecast" in run_cli("forecast").stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("history", "--since", "last tuesday"), "cannot read 'last tuesday' as a time"),
        (("history", "--since", "0d"), "must be positive"),
        (("history", "--partition", "100"), "100 is not a partition: the table has partitions 0 to 99"),
        (("history", "--partition", "-1"), "--partition"),
        (("forecast", "--window", "soon"), "cannot read 'soon' as a span of time"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(container: Container, args: tuple[str, ...], expected: str) -> None:
    assert expected in usage_error(*args)
    assert stored(container) == []


def test_a_clock_that_went_backwards_is_one_line_and_writes_nothing(container: Container) -> None:
    future = utc_now() + timedelta(days=1)
    asyncio.run(container.partition_history().record([PartitionSnapshot(0, 1, 1)], future))
    result = run_cli("snapshot")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "clock went backwards" in lines[0] and "nothing was written" in lines[0]
    assert [s.taken_at for s in stored(container)] == [future]
