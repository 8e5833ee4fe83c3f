"""Hostile collection ids through the real CLI: nothing from the database reaches the terminal raw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dependency_injector import providers

from semantik_chunks.container import Container
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.domain.errors import DatabaseUnavailableError
from tests.unit.test_cli_support import one_collection_per_partition, run_cli, share_memory_container, store

# Clears the screen, retitles the terminal, rings the bell, pings a Slack channel, reverses the
# rest of the line (U+202E) and forges a second line.
HOSTILE = "evil\x1b[2J\x1b]0;title\x07<!channel>\u202ereversed\nforged line"
ESCAPED = "evil\\x1b[2J\\x1b]0;title\\x07<!channel>\\u202ereversed\\nforged line"
RAW = ("\x1b[2J", "\x1b]0;", "\x07", "\u202e", "\nforged line")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    container = share_memory_container(monkeypatch)
    monkeypatch.setenv("COLUMNS", "300")  # wide enough that no escaped id is wrapped
    now = utc_now()
    workload = {ids[0]: (20, now - timedelta(days=2)) for ids in one_collection_per_partition().values()}
    workload[HOSTILE] = (400, now - timedelta(minutes=10))  # the largest collection, ingesting now
    store(container, workload)
    return container


def assert_harmless(output: str) -> None:
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal"


@pytest.mark.parametrize("command", ["collections", "hot", "health", "full"])
def test_hostile_ids_are_escaped_in_every_report(container: Container, command: str) -> None:
    result = run_cli(command)
    assert result.exit_code in (0, 1, 4), result.output
    assert_harmless(result.output)
    assert "\x1b" not in result.output  # not a terminal: no colour either, so no escape at all
    assert ESCAPED in result.output


@pytest.mark.parametrize("command", ["collections", "hot", "health", "full"])
def test_hostile_ids_are_escaped_with_colour_on(
    container: Container, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    result = run_cli(command)
    assert result.exit_code in (0, 1, 4), result.output
    assert "\x1b[" in result.output  # colour is on: the only escapes are Rich's own styles
    assert_harmless(result.output)
    assert ESCAPED in result.output


def test_the_collection_name_is_escaped_too(container: Container) -> None:
    result = run_cli("collections", "--limit", "1")
    assert f"name of {ESCAPED}" in result.output
    assert_harmless(result.output)


def test_the_health_alerts_name_the_collection_escaped(container: Container) -> None:
    result = run_cli("health")
    alerts = [line for line in result.output.splitlines() if line.startswith("INFO") and "evil" in line]
    assert len(alerts) == 2  # the large collection, and its ingest as a hot partition
    assert all(f"({ESCAPED} in " in line for line in alerts)
    assert_harmless(result.output)


class QuotingStatistics:
    """Statistics whose failure quotes a hostile id, as a driver's error text may."""

    partition_count = 100

    def __getattr__(self, name: str) -> Any:
        async def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise DatabaseUnavailableError(f"cannot read collection {HOSTILE}")

        return fail


@pytest.mark.parametrize("command", ["health", "collections"])
def test_an_error_line_escapes_what_it_quotes(container: Container, command: str) -> None:
    container.partition_statistics.override(providers.Object(QuotingStatistics()))
    result = run_cli(command)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert_harmless(result.stderr)
    # The error is one line (whitespace, the newline too, collapsed), its control characters escaped.
    one_line = "evil\\x1b[2J\\x1b]0;title\\x07<!channel>\\u202ereversed forged line"
    assert f"cannot read collection {one_line}" in result.stderr, result.stderr


def test_json_output_escapes_control_characters(container: Container) -> None:
    result = run_cli("collections", "--format", "json")
    assert result.exit_code == 0
    assert_harmless(result.stdout)
    assert "\\u001b[2J\\u001b]0;title\\u0007<!channel>\\u202ereversed\\nforged line" in result.stdout
