"""How the tables look: 80 columns, the heat strip, colour only on a terminal."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len
from rich.console import Console

from semantik_chunks.container import Container
from semantik_chunks.domain.model import Alert, AlertCause, AlertLevel, PartitionHealth, PartitionHealthStatus
from semantik_chunks.entrypoints.cli import render
from tests.unit.test_cli_support import run_cli, share_memory_container, unbalanced_workload, warning_workload

TABLE_COMMANDS = (
    ("health",),
    ("distribution",),
    ("sizes",),
    ("hot",),
    ("skew",),
    ("collections",),
    ("full",),
    ("refresh",),
    ("demo", "--collections", "30", "--chunks", "2000", "--seed", "3"),
)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    return share_memory_container(monkeypatch)


def partition(num: int, percentage: float, status: PartitionHealthStatus) -> PartitionHealth:
    return PartitionHealth(
        partition_num=num,
        chunk_count=int(percentage * 10),
        total_chunks=1000,
        chunk_percentage=percentage,
        size_percentage=percentage,
        health_status=status,
        chunk_skew=0.0,
        size_skew=0.0,
        recommendation=None,
    )


@pytest.mark.parametrize(
    ("ratio", "cell"),
    [(0.0, "·"), (0.1, "▁"), (0.25, "▁"), (0.5, "▂"), (1.0, "▄"), (2.0, "▆"), (4.0, "█"), (50.0, "█")],
)
def test_a_strip_cell_is_the_share_against_the_fair_share(ratio: float, cell: str) -> None:
    assert render.strip_cell(ratio) == cell


def test_the_strip_shows_every_partition_in_rows_of_fifty() -> None:
    healthy = PartitionHealthStatus.HEALTHY
    partitions = [partition(i, 1.0, healthy) for i in range(100)]
    partitions[7] = partition(7, 4.0, PartitionHealthStatus.UNBALANCED)
    partitions[60] = partition(60, 0.0, PartitionHealthStatus.UNBALANCED)
    strip = render.heat_strip(partitions)
    rows = strip.plain.splitlines()
    assert rows == [
        "    0 ▄▄▄▄▄▄▄█▄▄ ▄▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ 49",
        "   50 ▄▄▄▄▄▄▄▄▄▄ ·▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ ▄▄▄▄▄▄▄▄▄▄ 99",
    ]
    # Each cell carries its status colour.
    styles = {span.style for span in strip.spans if strip.plain[span.start : span.end] == "█"}
    assert styles == {"red"}


def test_a_thousand_partitions_still_fit_eighty_columns() -> None:
    partitions = [partition(i, 0.1, PartitionHealthStatus.HEALTHY) for i in range(1000)]
    rows = render.heat_strip(partitions).plain.splitlines()
    assert len(rows) == 20
    assert max(cell_len(row) for row in rows) <= 80
    assert rows[-1].startswith("  950 ") and rows[-1].endswith(" 999")


@pytest.mark.parametrize("load", [unbalanced_workload, warning_workload])
@pytest.mark.parametrize("args", TABLE_COMMANDS)
def test_tables_fit_eighty_columns_without_colour_off_a_terminal(
    container: Container, load: object, args: tuple[str, ...]
) -> None:
    load(container)  # type: ignore[operator]
    result = run_cli(*args)
    assert result.exit_code in (0, 1, 4), result.output
    assert not COLOUR.search(result.stdout)
    widths = [cell_len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= 80, [line for line in result.stdout.splitlines() if cell_len(line) > 80]


def test_colour_marks_status_on_a_terminal(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    unbalanced_workload(container)
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = run_cli("health").stdout
    assert "\x1b[1;31mUNBALANCED" in out  # the verdict, bold red
    assert re.search(r"\x1b\[31m█", out)  # partition 0 in the strip, red


def test_no_color_removes_the_colour_even_on_a_terminal(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    unbalanced_workload(container)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    out = run_cli("full").stdout
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", out)
    assert "UNBALANCED" in out  # what colour said is written out too


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "just now"), (120, "2m ago"), (7200, "2h ago"), (86400 * 3 + 5, "3d ago")]
)
def test_ages_are_short(seconds: int, shown: str) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert render.ago(now - timedelta(seconds=seconds), now) == shown
    assert render.ago(None, now) == "—"


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1000, "1000 B"), (2048, "2.0 kB"), (5 * 1024**2, "5.0 MB"), (3 * 1024**4, "3072.0 GB")],
)
def test_sizes_are_human(size: int, shown: str) -> None:
    assert render.size(size) == shown


def test_demo_shows_progress_on_a_terminal_only(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = run_cli("demo", "--collections", "5", "--chunks", "500", "--seed", "1")
    assert quiet.stderr == ""
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich then treats stderr as a terminal
    shown = run_cli("demo", "--collections", "5", "--chunks", "500", "--seed", "1")
    assert "Loading chunks" in shown.stderr
    assert "Loading chunks" not in shown.stdout


def test_an_alerts_command_is_never_cut_but_broken_between_arguments() -> None:
    # The command of an isolated collection's parts over budget is longer than a terminal line: cut or
    # wrapped by the terminal it could not be pasted; it is broken between its arguments with shell line
    # continuations, which a shell reads as the one command.
    command = (
        "semantik-chunks isolate 'a b; rm -rf ~' --undo && semantik-chunks isolate 'a b; rm -rf ~' --split-documents 48"
    )
    alert = Alert(
        level=AlertLevel.CRITICAL,
        message="chunks_part_67: collection 'a b' is isolated but its parts are over the budget",
        action="Split it into more parts",
        partitions=(67,),
        cause=AlertCause.CAPACITY,
        command=command,
    )
    console = Console(width=60, record=True, color_system=None)
    render._alerts(console, [alert])
    lines = console.export_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  $ "))
    shown = lines[first : first + 3]
    assert all(cell_len(line) <= 60 for line in lines)
    assert [line.endswith(" \\") for line in shown] == [True, True, False]
    pasted = " ".join(line.removeprefix("  $ ").strip().removesuffix("\\").strip() for line in shown)
    assert shlex.split(pasted) == shlex.split(command)


@pytest.mark.parametrize("width", [40, 60, 100])
def test_command_lines_join_back_into_the_command(width: int) -> None:
    command = "semantik-chunks isolate f13422f6-90b9-4b12-bba1-f23adbeca59b --split-documents 8"
    lines = render.command_lines(command, width)
    assert (lines == [command]) is (len(command) <= width)
    assert shlex.split(" ".join(line.strip().removesuffix("\\") for line in lines)) == shlex.split(command)
    assert all(len(line) <= width for line in lines if "f13422f6" not in line)  # only the long id may overflow
