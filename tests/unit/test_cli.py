"""The CLI on the in-memory adapters: every command, the exit codes, and the bad inputs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from dependency_injector import providers

from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.clock import utc_now
from semantik_chunks.entrypoints.cli import main, runtime
from semantik_chunks.entrypoints.cli.errors import CommandError
from tests.unit.test_cli_support import (
    healthy_workload,
    run_cli,
    share_memory_container,
    unbalanced_workload,
    warning_workload,
)

REPORTS = ("health", "distribution", "sizes", "hot", "skew", "collections", "full")


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Container:
    return share_memory_container(monkeypatch)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- entry point and help ------------------------------------------------------------------------


def test_the_console_script_is_main() -> None:
    (script,) = entry_points(group="console_scripts", name="semantik-chunks")
    assert script.value == "semantik_chunks.entrypoints.cli:main"
    assert script.load() is main


def test_help_lists_every_command_and_the_exit_codes(container: Container) -> None:
    result = run_cli("--help", db_url=None)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for command in (*REPORTS, "refresh", "migrate", "demo", "server"):
        assert command in text
    assert (
        "Exit codes: 0 healthy, 1 warning, 4 unbalanced (the verdict of health and full), 2 usage error, "
        "3 could not check" in text
    )


@pytest.mark.parametrize("command", ["health", "full"])
def test_verdict_commands_document_their_exit_codes(container: Container, command: str) -> None:
    result = run_cli(command, "--help", db_url=None)
    assert result.exit_code == 0
    assert "Exits 0 healthy, 1 warning, 4 unbalanced, 3 could not check (2 is a usage error)" in " ".join(
        result.stdout.split()
    )


def test_server_without_a_subcommand_shows_its_help() -> None:
    result = run_cli("server", db_url=None)
    assert "stop" in result.stdout


# -- exit codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["health", "full"])
def test_an_empty_table_is_healthy(container: Container, command: str) -> None:
    result = run_cli(command)
    assert result.exit_code == 0, result.output
    assert "Verdict: HEALTHY" in result.stdout
    assert "The table is empty" in result.stdout


@pytest.mark.parametrize(
    ("load", "exit_code", "verdict"),
    [(healthy_workload, 0, "HEALTHY"), (warning_workload, 1, "WARNING"), (unbalanced_workload, 4, "UNBALANCED")],
)
@pytest.mark.parametrize("command", ["health", "full"])
@pytest.mark.parametrize("output", ["table", "json"])
def test_health_and_full_exit_with_the_verdict(
    container: Container, load: object, exit_code: int, verdict: str, command: str, output: str
) -> None:
    load(container)  # type: ignore[operator]
    result = run_cli(command, "--format", output)
    assert result.exit_code == exit_code, result.output
    if output == "json":
        document = json.loads(result.stdout)
        assert (document["overall"], document["exit_code"]) == (verdict, exit_code)
    else:
        assert f"Verdict: {verdict}  (exit code {exit_code})" in result.stdout


@pytest.mark.parametrize("command", ["distribution", "sizes", "hot", "skew", "collections", "refresh"])
def test_other_commands_exit_zero_even_when_unbalanced(container: Container, command: str) -> None:
    unbalanced_workload(container)
    assert run_cli(command).exit_code == 0


def test_exact_mode_is_reported(container: Container) -> None:
    healthy_workload(container)
    for command in ("health", "distribution", "skew", "full"):
        document = json.loads(run_cli(command, "--exact", "--format", "json").stdout)
        assert document["mode"] == "exact"
        assert json.loads(run_cli(command, "--format", "json").stdout)["mode"] == "statistics"


# -- what the tables show ----------------------------------------------------------------------------


def test_health_table_shows_the_strip_and_the_partitions_at_fault(container: Container) -> None:
    crowded = unbalanced_workload(container)
    out = run_cli("health").stdout
    assert "Share of chunks per partition" in out
    strip_rows = [line for line in out.splitlines() if re.match(r"^\s+(0|50) \S{10}( \S{10}){4} (49|99)$", line)]
    assert len(strip_rows) == 2
    assert strip_rows[0].split()[1][0] == "█"  # partition 0 holds about ten times its share
    assert re.search(r"^\s+0\s+220\s+10\.00%\s+9\.00\s+UNBALANCED", out, re.MULTILINE)
    assert "CRITICAL placement  1 partitions are unbalanced: partitions 0" in out
    assert "CRITICAL capacity   chunks_part_00 is beyond its capacity budget" in out
    assert "$ semantik-chunks reshape --partitions 200" in out
    assert crowded[0] not in out  # collections are the full report's business


def test_distribution_lists_every_partition_in_order(container: Container) -> None:
    unbalanced_workload(container)
    out = run_cli("distribution").stdout
    rows = re.findall(r"^\s+(\d+)\s+[\d,]+\s+[\d.]+%\s+[\d.]+\s+(HEALTHY|WARNING|UNBALANCED)", out, re.MULTILINE)
    assert [int(p) for p, _ in rows] == list(range(100))
    assert "2,200 chunks" in out


def test_sizes_lists_the_largest_partition_first(container: Container) -> None:
    unbalanced_workload(container)
    out = run_cli("sizes").stdout
    rows = re.findall(r"^\s+(\d+)\s+[\d.]+ (?:B|kB|MB|GB)\s", out, re.MULTILINE)
    assert len(rows) == 100
    assert rows[0] == "0"


def test_hot_names_the_collection_behind_a_hot_partition(container: Container) -> None:
    warning_workload(container)
    out = run_cli("hot").stdout
    from tests.unit.test_cli_support import one_collection_per_partition

    first, second, third = one_collection_per_partition(extra_in_partition_zero=2)[0]
    assert re.search(rf"^\s+0\s+20\s+100\.0%\s+{first}\s+35%$", out, re.MULTILINE), out
    assert re.search(rf"^\s+{second}\s+35%$", out, re.MULTILINE)
    assert re.search(rf"^\s+{third}\s+30%$", out, re.MULTILINE)


def test_hot_says_so_when_nothing_is_hot(container: Container) -> None:
    healthy_workload(container)
    assert "No hot partitions." in run_cli("hot").stdout


def test_skew_shows_the_three_metrics(container: Container) -> None:
    unbalanced_workload(container)
    out = run_cli("skew").stdout
    for metric in ("chunk_distribution", "size_distribution", "chunk_count_variation"):
        assert re.search(rf"^{metric}\s+[\d.]+\s+(NORMAL|WARNING|CRITICAL)", out, re.MULTILINE)
    assert "chunk skew 9.000 at partition 0" in out


def test_collections_lists_the_largest_first_with_their_partition(container: Container) -> None:
    unbalanced_workload(container)
    out = run_cli("collections", "--limit", "3").stdout
    assert "110 collections, 2,200 chunks" in out
    rows = re.findall(r"^(collection-\d+)\s+(\d+)\s+20\s+4\s", out, re.MULTILINE)
    assert len(rows) == 3
    assert "3 of 110 shown" in out
    assert len(json.loads(run_cli("collections", "--limit", "0", "--format", "json").stdout)["collections"]) == 110


def test_full_report_has_every_section(container: Container) -> None:
    crowded = unbalanced_workload(container)
    out = run_cli("full").stdout
    for section in (
        "Alerts",
        "Share of chunks per partition",
        "Distribution",
        "Most skewed partitions",
        "Hot partitions",
        "Rebalancing recommendations",
        "Largest collections",
    ):
        assert re.search(rf"^{section}$", out, re.MULTILINE), section
    assert "HIGH   partition 0 (chunks_part_00): 10.00% of chunks, skew 9.00" in out
    assert sum(cid in out for cid in crowded) >= 3


def test_refresh_reports_the_collections(container: Container) -> None:
    healthy_workload(container)
    result = run_cli("refresh")
    assert result.exit_code == 0
    assert "Refreshed collection_chunking_stats: 100 collections" in result.stdout


def test_migrate_on_memory_has_nothing_to_do(container: Container) -> None:
    result = run_cli("migrate")
    assert result.exit_code == 0
    assert "nothing to migrate" in result.stdout


# -- demo ------------------------------------------------------------------------------------------------


def test_demo_loads_and_a_second_run_adds(container: Container) -> None:
    first = run_cli("demo", "--collections", "25", "--chunks", "3000", "--seed", "4")
    assert first.exit_code == 0, first.output
    assert "Added 3,000 chunks" in first.stdout
    assert "25 new collections" in first.stdout
    assert "seed 4" in first.stdout
    second = json.loads(
        run_cli("demo", "--collections", "25", "--chunks", "2000", "--seed", "4", "--format", "json").stdout
    )
    assert (second["generation"], second["chunks"], second["seed"]) == (1, 2000, 4)
    report = json.loads(run_cli("full", "--format", "json").stdout)
    assert report["metrics"]["total_chunks"] == 5000
    assert report["total_collections"] == 50


def test_demo_without_a_seed_picks_one_and_says_which(container: Container) -> None:
    document = json.loads(run_cli("demo", "--collections", "3", "--chunks", "30", "--format", "json").stdout)
    assert isinstance(document["seed"], int)


def test_demo_of_no_chunks_registers_the_collections(container: Container) -> None:
    result = run_cli("demo", "--collections", "3", "--chunks", "0", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(run_cli("collections", "--format", "json").stdout)["total_collections"] == 3


# -- bad input: one line, the right exit code ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["health", "--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table', 'json'"),
        (["helth"], "No such command 'helth'"),
        (["demo", "--chunks", "-5"], "Invalid value for '--chunks'"),
        (["collections", "--limit", "-1"], "Invalid value for '--limit'"),
        (["health", "--exact", "yes"], "unexpected extra argument"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], expected: str) -> None:
    result = run_cli(*args, db_url=None)
    assert result.exit_code == 2
    line = one_error_line(result.stderr)
    assert line.startswith("semantik-chunks")
    assert expected in line
    assert "--help" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("db_url", "expected"),
    [
        ("mysql://user:pw@host/db", "--db-url 'mysql://user:***@host/db' is not a PostgreSQL URL"),
        ("postgresql://user:pw@host:port/db", "port 'port' is not a number"),
        ("postgresql://user:pw@host/db?sslmode=sometimes", "sslmode='sometimes' must be one of disable, allow"),
        ("postgresql://user:pw@host/db?keepalives=1", "parameter 'keepalives' is not supported"),
        ("not a url", "is not a PostgreSQL URL"),
    ],
)
def test_a_malformed_db_url_is_one_line_with_exit_code_3(container: Container, db_url: str, expected: str) -> None:
    result = run_cli("health", db_url=db_url)
    assert result.exit_code == 3
    line = one_error_line(result.stderr)
    assert expected in line
    assert "expected postgresql://user:password@host:5432/dbname" in line
    assert ":pw@" not in line


def test_an_unreachable_database_is_one_line_with_exit_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Port 1 on the loopback refuses at once: nothing listens there.
    result = run_cli("health", "--format", "json", db_url="postgresql://someone:s3cret@127.0.0.1:1/semantik")
    assert result.exit_code == 3
    line = one_error_line(result.stderr)
    assert line.startswith("semantik-chunks: error: cannot use postgresql://someone:***@127.0.0.1:1/semantik")
    assert "check --db-url" in line
    assert "s3cret" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("value", ["abc", "0", "5000"])
def test_a_bad_partition_count_is_one_line_with_exit_code_3(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", value)
    result = run_cli("health")
    assert result.exit_code == 3
    line = one_error_line(result.stderr)
    assert "CHUNK_PARTITION_COUNT must be" in line
    assert repr(value) in line or value in line


def test_a_bad_database_url_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///tmp/x.db")
    result = run_cli("full", db_url=None)
    assert result.exit_code == 3
    assert "DATABASE_URL 'sqlite:///tmp/x.db' is not a PostgreSQL URL" in one_error_line(result.stderr)


def test_an_unexpected_failure_is_one_line(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("something odd\nover two lines")

    monkeypatch.setattr(container.monitoring_service(), "get_partition_health_summary", broken)
    result = run_cli("health")
    assert result.exit_code == 3
    line = one_error_line(result.stderr)
    assert "unexpected RuntimeError: something odd over two lines" in line
    assert runtime.DEBUG_ENV in line


# -- choosing the database -------------------------------------------------------------------------------------


def test_db_url_wins_over_the_environment_which_wins_over_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[str] = []

    class FakeServer:
        data_dir = Path("/nonexistent")

        def start(self) -> str:
            started.append("x")
            return "postgresql://embedded/db"

    def make(settings: Settings) -> Container:
        container = bootstrap(settings)
        container.embedded_server.override(providers.Object(FakeServer()))
        return container

    from_env = Settings(database_url="postgresql://env/db")
    assert runtime.resolve_target("memory://", from_env, make) == runtime.DatabaseTarget("memory://", "--db-url")
    assert runtime.resolve_target(None, from_env, make) == runtime.DatabaseTarget("postgresql://env/db", "DATABASE_URL")
    assert started == []
    assert capsys.readouterr().err == ""
    assert runtime.resolve_target(None, Settings(), make) == runtime.DatabaseTarget(
        "postgresql://embedded/db", "embedded"
    )
    assert started == ["x"]
    # The embedded default is said, in one line on stderr.
    assert capsys.readouterr().err == (
        "semantik-chunks: no --db-url or DATABASE_URL: using the embedded PostgreSQL in /nonexistent\n"
    )


def test_the_embedded_database_is_migrated_when_a_command_finds_no_schema(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semantik_chunks.domain.errors import SchemaMissingError

    migrated: list[tuple[str | None, int]] = []

    class FakeSchema:
        def __init__(self, settings: Settings) -> None:
            self._settings = settings

        async def install(self) -> tuple[str, ...]:
            migrated.append((self._settings.database_url, self._settings.partition_count))
            return ("sc0003",)

    def make(settings: Settings) -> Container:
        container = bootstrap(settings)  # a PostgreSQL URL: nothing connects unless asked to
        container.schema_service.override(providers.Object(FakeSchema(settings)))
        return container

    attempts: list[str] = []

    async def work(_container: Container) -> str:
        attempts.append("x")
        if not migrated:
            raise SchemaMissingError("relation chunks does not exist")
        return "done"

    embedded = runtime.DatabaseTarget("postgresql://embedded/db", "embedded")
    assert runtime.run_selected(Settings(), embedded, work, make) == "done"
    assert (migrated, len(attempts)) == ([("postgresql://embedded/db", 100)], 2)

    # A database the operator named is never migrated behind their back.
    migrated.clear()
    named = runtime.DatabaseTarget("postgresql://elsewhere/db", "--db-url")
    with pytest.raises(CommandError, match="run `semantik-chunks migrate`"):
        runtime.run_selected(Settings(), named, work, make)
    assert migrated == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://h/d?password=x&sslmode=require", "postgresql://h/d?password=***&sslmode=require"),
        ("postgresql://h/d?host=/run/pg&password=x", "postgresql://h/d?host=/run/pg&password=***"),
        ("memory://", "memory://"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert runtime.redact(url) == shown


def test_errors_inside_operator_errors_name_the_fix() -> None:
    from semantik_chunks.domain.errors import DatabaseUnavailableError, SchemaMissingError

    target = runtime.DatabaseTarget("postgresql://u:pw@h/d", "DATABASE_URL")
    missing = r"has no semantik-chunks schema; run `semantik-chunks migrate`"
    with pytest.raises(CommandError, match=missing), runtime.operator_errors(target):
        raise SchemaMissingError("relation chunks does not exist")
    refused = r"cannot use postgresql://u:\*\*\*@h/d: refused; check DATABASE_URL"
    with pytest.raises(CommandError, match=refused), runtime.operator_errors(target):
        raise DatabaseUnavailableError("refused")


# -- a real process -----------------------------------------------------------------------------------------------


def test_the_installed_command_runs_in_its_own_process() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from semantik_chunks.entrypoints.cli import main; main()",
            "health",
            "--db-url",
            "memory://",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "NO_COLOR": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "Verdict: HEALTHY" in completed.stdout
    assert "\x1b[" not in completed.stdout


def test_missing_postgres_support_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_sqlalchemy(_settings: Settings) -> Container:
        raise ModuleNotFoundError("No module named 'sqlalchemy'")

    result = run_cli("health", db_url="postgresql://u@h/d", containers=without_sqlalchemy)
    assert result.exit_code == 3
    assert "pip install 'semantik-chunks[cli]'" in one_error_line(result.stderr)


def test_names_from_the_database_are_printed_as_they_are(container: Container) -> None:
    from tests.unit.test_cli_support import store

    odd = "[red]x[/] :smile: [/bold]"
    store(container, {odd: (5, utc_now())})
    for command in ("collections", "full", "hot"):
        result = run_cli(command)
        assert result.exit_code in (0, 1, 4), result.output
        assert odd in result.stdout, command


def test_version_prints_the_library_version() -> None:
    import semantik_chunks

    result = run_cli("--version", db_url=None)
    assert result.exit_code == 0
    assert result.stdout == f"semantik-chunks {semantik_chunks.__version__}\n"
