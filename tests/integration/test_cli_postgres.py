"""The CLI against a real PostgreSQL: every command, both formats, exit codes, the bad inputs,
and the newcomer's path on the embedded server (in its own processes, as a user runs it)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema_rs
import pytest
from rich.cells import cell_len
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.entrypoints.cli import app
from tests.postgres_servers import asyncpg_dsn

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "cli.schema.json").read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)
REPORTS = ("health", "distribution", "sizes", "hot", "skew", "collections", "full")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--db-url", db_url])


def document(db_url: str, *args: str) -> dict[str, Any]:
    result = cli(db_url, *args, "--format", "json")
    assert result.exit_code in (0, 1, 4), result.output
    parsed = json.loads(result.stdout)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(parsed)]
    assert not errors, errors
    assert parsed.get("exit_code", 0) == result.exit_code
    return parsed


def one_error_line(result: Result) -> str:
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def loaded_url(make_database: Callable[[], str]) -> tuple[str, dict[str, Any]]:
    """A migrated database the demo loaded once, for the read-only report tests."""
    from semantik_chunks.adapters.postgres import migrate

    url = make_database()
    migrate.upgrade(url, 100)
    demo = CliRunner().invoke(
        app, ["demo", "--collections", "60", "--chunks", "12000", "--seed", "21", "--format", "json", "--db-url", url]
    )
    assert demo.exit_code == 0, demo.output
    return url, json.loads(demo.stdout)


def test_demo_loads_what_it_says(loaded_url: tuple[str, dict[str, Any]]) -> None:
    url, demo = loaded_url
    assert (demo["chunks"], demo["collections"], demo["generation"]) == (12000, 60, 0)
    full = document(url, "full", "--exact")
    assert full["metrics"]["total_chunks"] == 12000
    assert full["total_collections"] == 60  # the demo refreshed collection_chunking_stats
    assert full["top_collections"][0]["collection_id"] == demo["largest_collection"]["collection_id"]
    assert full["top_collections"][0]["total_chunks"] == demo["largest_collection"]["chunk_count"]


@pytest.mark.parametrize("command", REPORTS)
def test_every_report_in_json_matches_the_schema(loaded_url: tuple[str, dict[str, Any]], command: str) -> None:
    url, _ = loaded_url
    assert document(url, command)["command"] == command


@pytest.mark.parametrize("command", REPORTS)
def test_every_report_as_a_table_fits_eighty_columns(loaded_url: tuple[str, dict[str, Any]], command: str) -> None:
    url, _ = loaded_url
    result = cli(url, command)
    assert result.exit_code in (0, 1, 4), result.output
    assert result.stderr == ""
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 80
    assert "\x1b[" not in result.stdout


@pytest.mark.parametrize("command", ["health", "full"])
def test_verdict_and_exit_code_agree_in_both_formats(loaded_url: tuple[str, dict[str, Any]], command: str) -> None:
    url, _ = loaded_url
    as_json = document(url, command)
    table = cli(url, command)
    assert table.exit_code == as_json["exit_code"]
    assert f"Verdict: {as_json['overall']}  (exit code {as_json['exit_code']})" in table.stdout


def test_hot_partitions_name_the_collections_being_ingested(loaded_url: tuple[str, dict[str, Any]]) -> None:
    url, demo = loaded_url
    hot = document(url, "hot")
    writers = {c["collection_id"] for h in hot["hot_partitions"] for c in h["top_collections"]}
    assert writers & set(demo["ingesting_collections"])


def test_statistics_and_exact_modes_agree_after_analyze(loaded_url: tuple[str, dict[str, Any]]) -> None:
    url, _ = loaded_url
    exact = document(url, "distribution", "--exact")["partitions"]
    assert sum(p["chunk_count"] for p in exact) == 12000
    assert len(exact) == 100
    # The demo analysed what it loaded: the statistics-mode report is the exact one.
    statistics = document(url, "distribution")["partitions"]
    assert [(p["partition_num"], p["chunk_count"]) for p in statistics] == [
        (p["partition_num"], p["chunk_count"]) for p in exact
    ]


def test_the_report_after_demos_equals_the_exact_one(clean_pg_url: str) -> None:
    """Two demos in a row (the issue's scenario, smaller): the closing report in statistics mode is --exact's."""
    for args in (("--chunks", "30000", "--collections", "40", "--seed", "1"), ("--chunks", "2000", "--seed", "7")):
        document(clean_pg_url, "demo", *args)
        quick, exact = document(clean_pg_url, "full"), document(clean_pg_url, "full", "--exact")
        assert quick["metrics"]["mode"] == "statistics" and exact["metrics"]["mode"] == "exact"
        assert [(p["partition_num"], p["chunk_count"]) for p in quick["partitions"]] == [
            (p["partition_num"], p["chunk_count"]) for p in exact["partitions"]
        ]
        assert (quick["overall"], quick["exit_code"]) == (exact["overall"], exact["exit_code"])
        assert quick["metrics"]["total_chunks"] == exact["metrics"]["total_chunks"]
    assert exact["metrics"]["total_chunks"] == 32000


def test_refresh_and_collections(loaded_url: tuple[str, dict[str, Any]]) -> None:
    url, _ = loaded_url
    assert document(url, "refresh")["collections"] == 60
    listed = document(url, "collections", "--limit", "0")
    assert (listed["total_collections"], listed["total_chunks"], len(listed["collections"])) == (60, 12000, 60)


def test_a_second_demo_adds_to_what_is_there(clean_pg_url: str) -> None:
    first = document(clean_pg_url, "demo", "--collections", "10", "--chunks", "1500", "--seed", "3")
    second = document(clean_pg_url, "demo", "--collections", "10", "--chunks", "1000", "--seed", "3")
    assert (first["generation"], second["generation"]) == (0, 1)
    listed = document(clean_pg_url, "collections", "--limit", "0")
    assert (listed["total_collections"], listed["total_chunks"]) == (20, 2500)
    assert document(clean_pg_url, "health", "--exact")["metrics"]["total_chunks"] == 2500


def test_a_database_without_the_schema_says_to_migrate_and_migrate_fixes_it(
    make_database: Callable[[], str],
) -> None:
    bare = make_database()
    for command in ("health", "full", "demo"):
        line = one_error_line(cli(bare, command))
        assert "has no semantik-chunks schema; run `semantik-chunks migrate` (with the same --db-url)" in line
    migrated = document(bare, "migrate")
    assert migrated["revisions"]
    assert document(bare, "migrate")["revisions"] == migrated["revisions"]  # running it again changes nothing
    health = document(bare, "health")
    assert (health["overall"], health["metrics"]["total_chunks"]) == ("HEALTHY", 0)


def test_migrate_creates_the_partitions_asked_for(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_database()
    assert document(url, "migrate", "--partitions", "16")["revisions"]
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "16")
    health = document(url, "health")
    assert (health["partition_count"], len(health["partitions"])) == (16, 16)
    monkeypatch.delenv("CHUNK_PARTITION_COUNT")
    line = one_error_line(cli(url, "health"))
    assert "16 partitions" in line


def test_refused_credentials_are_one_line(pg_url: str) -> None:
    url = make_url(pg_url).set(username="no_such_role", password="wrong-secret")
    line = one_error_line(cli(url.render_as_string(hide_password=False), "health"))
    assert "no_such_role:***@" in line
    assert "wrong-secret" not in line
    assert "check --db-url" in line


def test_a_missing_database_is_one_line(pg_url: str) -> None:
    url = make_url(pg_url).set(database="no_such_database").render_as_string(hide_password=False)
    line = one_error_line(cli(url, "full"))
    assert 'database "no_such_database" does not exist' in line


def test_a_partition_count_the_database_does_not_have_is_one_line(
    clean_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "50")
    line = one_error_line(cli(clean_pg_url, "health"))
    assert "100 partitions" in line
    assert "50" in line


# -- the newcomer's path: no --db-url, no DATABASE_URL ---------------------------------------------------------


def run_installed(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CHUNK_PARTITION_COUNT", "FORCE_COLOR")}
    env["SEMANTIK_CHUNKS_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-c", "from semantik_chunks.entrypoints.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def embedded_data_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "pgdata"
    yield data_dir
    run_installed(data_dir, "server", "stop")  # whatever happened, leave no server running


def test_demo_then_full_on_the_embedded_default(embedded_data_dir: Path) -> None:
    demo = run_installed(embedded_data_dir, "demo", "--collections", "30", "--chunks", "3000", "--seed", "5")
    assert demo.returncode == 0, demo.stderr
    assert "Added 3,000 chunks" in demo.stdout
    assert str(embedded_data_dir) in demo.stdout
    assert (embedded_data_dir / "PG_VERSION").exists()

    full = run_installed(embedded_data_dir, "full", "--exact", "--format", "json")
    assert full.returncode in (0, 1, 4), full.stderr
    report = json.loads(full.stdout)
    assert VALIDATOR.is_valid(report)
    assert report["exit_code"] == full.returncode
    assert report["metrics"]["total_chunks"] == 3000

    table = run_installed(embedded_data_dir, "full")
    assert table.returncode == full.returncode
    assert "Verdict:" in table.stdout
    # The embedded default is announced, in one line on stderr, and nothing else is said there.
    assert table.stderr == (
        f"semantik-chunks: no --db-url or DATABASE_URL: using the embedded PostgreSQL in {embedded_data_dir}\n"
    )

    stopped = run_installed(embedded_data_dir, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped the embedded PostgreSQL" in stopped.stdout
    assert not (embedded_data_dir / "postmaster.pid").exists()
    again = run_installed(embedded_data_dir, "server", "stop")
    assert "is not running" in again.stdout

    # The data outlives the server: the next command starts it again and finds the chunks.
    health = run_installed(embedded_data_dir, "health", "--exact", "--format", "json")
    assert json.loads(health.stdout)["metrics"]["total_chunks"] == 3000


LIBRARY_OBJECTS = """
    SELECT to_regclass('chunks')::text, to_regclass('collections')::text,
           to_regclass('semantik_chunks_alembic_version')::text, to_regclass('partition_health')::text,
           to_regprocedure('chunk_partition_count()')::text
"""


def library_objects(url: str) -> tuple[str | None, ...]:
    async def read() -> tuple[str | None, ...]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            return tuple(await conn.fetchrow(LIBRARY_OBJECTS))
        finally:
            await conn.close()

    return asyncio.run(read())


def test_migrate_to_a_revision_down_to_base_and_back_with_current_and_history(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    order = migrate.revision_order()
    head = order[-1]
    assert document(url, "migrate")["revisions"] == [head]
    assert cli(url, "migrate", "current").stdout.strip().endswith(f"is at revision {head}.")

    down = document(url, "migrate", "--to", "sc0001")
    assert down["revisions"] == ["sc0001"]
    assert library_objects(url) == (None, "collections", "semantik_chunks_alembic_version", None, None)
    history = cli(url, "migrate", "history")
    assert history.exit_code == 0, history.output
    assert [line.split()[:2] for line in history.stdout.splitlines()[1:]] == [
        [revision, "applied" if revision == "sc0001" else "pending"] for revision in order
    ]

    # Base: nothing of the library's is left, its version table included.
    assert document(url, "migrate", "--to", "base")["revisions"] == []
    assert library_objects(url) == (None, None, None, None, None)
    assert cli(url, "migrate", "current").stdout.strip().endswith("is at revision (none).")

    assert document(url, "migrate", "--to", "sc0002")["revisions"] == ["sc0002"]
    assert document(url, "migrate", "--to", "heads")["revisions"] == [head]
    assert library_objects(url)[0] == "chunks"
    line = one_error_line(cli(url, "migrate", "--to", "sc9999"))
    assert "unknown revision 'sc9999'" in line


def test_migrate_current_and_history_as_json_follow_the_database(make_database: Callable[[], str]) -> None:
    url = make_database()
    order = migrate.revision_order()

    def history() -> list[tuple[str, bool]]:
        found = document(url, "migrate", "history")
        assert found["command"] == "migrate history"
        return [(r["revision"], r["applied"]) for r in found["revisions"]]

    before = document(url, "migrate", "current")
    assert (before["command"], before["revisions"]) == ("migrate current", [])
    assert history() == [(revision, False) for revision in order]

    assert document(url, "migrate", "--to", "sc0002")["database"] == before["database"]  # the same label
    assert document(url, "migrate", "current")["revisions"] == ["sc0002"]
    assert history() == [(revision, revision in ("sc0001", "sc0002")) for revision in order]
    revisions = document(url, "migrate", "history")["revisions"]
    assert [r["down_revision"] for r in revisions] == [None, *order[:-1]]  # oldest first, each after the one before
    assert all(r["description"] for r in revisions)


def test_migrate_current_and_history_take_the_options_given_to_migrate_before_them(
    make_database: Callable[[], str],
) -> None:
    url, other = make_database(), make_database()
    assert document(url, "migrate", "--to", "sc0002")["revisions"] == ["sc0002"]
    runner = CliRunner()
    # `migrate --db-url URL --format json current`: that database, as JSON (it read the default one, as a table).
    found = runner.invoke(app, ["migrate", "--db-url", url, "--format", "json", "current"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["revisions"] == ["sc0002"]
    history = runner.invoke(app, ["migrate", "--format", "json", "history", "--db-url", url])
    assert [r["applied"] for r in json.loads(history.stdout)["revisions"]][:3] == [True, True, False]
    # The subcommand's own options win over the group's.
    own = runner.invoke(app, ["migrate", "--db-url", other, "--format", "json", "current", "--db-url", url])
    assert json.loads(own.stdout)["revisions"] == ["sc0002"]
    table = runner.invoke(app, ["migrate", "--db-url", url, "--format", "json", "current", "--format", "table"])
    assert table.stdout.strip().endswith("is at revision sc0002.")
    # What changes something is migrate's own: refused with a subcommand, nothing changed.
    for option in (["--to", "base"], ["--partitions", "8"], ["--dry-run"]):
        refused = runner.invoke(app, ["migrate", "--db-url", url, *option, "current"])
        assert refused.exit_code == 2, refused.output
        assert f"{option[0]} belongs to `migrate` itself, not to `migrate current`" in refused.stderr
    assert document(url, "migrate", "current")["revisions"] == ["sc0002"]
    assert document(other, "migrate", "current")["revisions"] == []


def test_migrate_with_another_partition_count_points_to_reshape_and_changes_nothing(
    make_database: Callable[[], str],
) -> None:
    url = make_database()
    assert document(url, "migrate", "--partitions", "16")["revisions"]
    line = one_error_line(cli(url, "migrate", "--partitions", "50"))
    assert "has 16 partitions, not 50" in line
    assert "semantik-chunks reshape --partitions 50" in line
    assert document(url, "migrate", "--partitions", "16")["revisions"] == [migrate.revision_order()[-1]]  # same: fine


# -- hostile ids from the database -----------------------------------------------------------------------------

HOSTILE = "evil\x1b[2J\x1b]0;title\x07<!channel>\u202ereversed\nforged line"
ESCAPED = "evil\\x1b[2J\\x1b]0;title\\x07<!channel>\\u202ereversed\\nforged line"


def test_hostile_ids_stored_in_postgres_are_escaped_on_the_terminal(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from semantik_chunks.adapters.postgres import migrate
    from semantik_chunks.config import Settings
    from semantik_chunks.container import bootstrap, dispose
    from semantik_chunks.domain.model import Chunk

    url = make_database()
    migrate.upgrade(url, 100)

    async def store() -> None:
        container = bootstrap(Settings(database_url=url))
        try:
            await container.collection_repository().add(HOSTILE, f"name of {HOSTILE}")
            chunks = [Chunk(collection_id=HOSTILE, chunk_index=i, content="x") for i in range(50)]
            await container.chunk_repository().add_many(chunks)
            await container.partition_statistics().refresh_collection_stats()
        finally:
            await dispose(container)

    asyncio.run(store())
    monkeypatch.setenv("COLUMNS", "300")
    for command in ("collections", "hot", "full"):
        result = cli(url, command)
        assert result.exit_code in (0, 1, 4), result.output
        for raw in ("\x1b", "\x07", "\u202e", "\nforged line"):
            assert raw not in result.output, (command, raw)
        assert ESCAPED in result.output, command
