"""Taking over a database that looks like the host's: every row kept and placed right, resumably.

Each test gets its own copy of one host-shaped database (``CREATE DATABASE … TEMPLATE``), built
once per module by ``tests/integration/host_schema.py``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from semantik_chunks import hashtext, partition_for
from semantik_chunks.adapters.postgres import migrate, mover, schema, takeover
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.domain.adoption import AdoptionError, MoveProgress, MoveReport
from semantik_chunks.domain.errors import ConfigurationError
from tests.integration import host_schema
from tests.postgres_servers import asyncpg_dsn, run_sql, with_database

MISPLACED = "SELECT count(*) FROM chunks WHERE partition_key <> abs(hashtext(collection_id) % 100)"
CHECK_VALIDATED = (
    "SELECT convalidated FROM pg_constraint "
    f"WHERE conrelid = 'chunks'::regclass AND conname = '{schema.PARTITION_CHECK}'"
)


class Interrupted(Exception):
    """Raised by a progress callback to stop a run between two batches."""


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def fetch_sync(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(fetch(url, query, *args))


async def scalar(url: str, query: str, *args: object) -> object:
    return (await fetch(url, query, *args))[0][0]


async def snapshot(url: str) -> tuple[int, str]:
    row = (await fetch(url, host_schema.CHECKSUM))[0]
    return row["rows"], row["checksum"]


def library_heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused/db")).get_heads())


async def adopt_without_moving(url: str) -> None:
    """The state a host's own Alembic history leaves: the table taken over, its rows not moved yet."""

    def take_over(conn: Connection) -> None:
        for statement in schema.create_routing_functions(100):
            conn.exec_driver_sql(statement)
        takeover.take_over_schema(conn, 100)

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(take_over)
    finally:
        await engine.dispose()


async def move(url: str, **options: Any) -> MoveReport:
    """The mover on an engine of the caller's, as a host calls it."""
    engine = create_engine(url)
    try:
        return await mover.move_misplaced_rows(engine, **options)
    finally:
        await engine.dispose()


def interrupt_after(batches: int) -> Callable[[MoveProgress], None]:
    def progress(report: MoveProgress) -> None:
        if report.batches >= batches:
            raise Interrupted

    return progress


@pytest.fixture(scope="module")
def host_template(make_database: Callable[[], str]) -> str:
    url = make_database()
    # 20 collections x 10 documents x 6 chunks: about 12 rows per partition, so batches of 5 take several steps.
    inserted = asyncio.run(
        host_schema.build_host_database(
            asyncpg_dsn(url), collections=20, documents_per_collection=10, chunks_per_document=6
        )
    )
    assert inserted == 1200
    return url


@pytest.fixture
def host_url(pg_server_url: str, host_template: str) -> Iterator[str]:
    """A fresh copy of the host-shaped database."""
    name = f"semantik_host_{uuid.uuid4().hex[:12]}"
    run_sql(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{make_url(host_template).database}"')
    yield with_database(pg_server_url, name)
    run_sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def adopted(pg_server_url: str, host_template: str) -> Iterator[tuple[str, tuple[int, str]]]:
    """A copy of the host database taken over by ``migrate.upgrade``, with its checksum from before."""
    name = f"semantik_host_{uuid.uuid4().hex[:12]}"
    run_sql(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{make_url(host_template).database}"')
    url = with_database(pg_server_url, name)
    before = asyncio.run(snapshot(url))
    migrate.upgrade(url, 100)
    yield url, before
    run_sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------------
# migrate.upgrade on the host's database
# ---------------------------------------------------------------------------------------------------


def test_upgrade_keeps_every_row_and_places_it(adopted: tuple[str, tuple[int, str]]) -> None:
    url, before = adopted
    assert before[0] == 1200
    assert fetch_sync(url, MISPLACED)[0][0] == 0
    assert asyncio.run(snapshot(url)) == before
    assert fetch_sync(url, CHECK_VALIDATED)[0][0] is True
    assert fetch_sync(url, "SELECT obj_description('chunks'::regclass, 'pg_class')")[0][0] == schema.ADOPTED_MARK
    assert migrate.current(url) == library_heads()


def test_upgrade_removes_the_trigger_and_every_writer_must_supply_the_key(
    adopted: tuple[str, tuple[int, str]],
) -> None:
    url, _ = adopted
    assert fetch_sync(url, "SELECT count(*) FROM pg_trigger WHERE tgname = $1", host_schema.HOST_TRIGGER)[0][0] == 0
    assert fetch_sync(url, "SELECT to_regproc($1)", host_schema.HOST_TRIGGER_FUNCTION)[0][0] is None
    collection = host_schema.collection_id(3)
    right = partition_for(collection)

    async def write() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            async with conn.transaction():
                with pytest.raises(asyncpg.CheckViolationError, match=schema.PARTITION_CHECK):
                    await conn.execute(
                        "INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content) "
                        "VALUES ($1, $2, 'doc', 0, 'wrong')",
                        collection,
                        (right + 1) % 100,
                    )
            tx = conn.transaction()
            await tx.start()
            await conn.execute(
                "INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content) "
                "VALUES ($1, $2, 'doc', 0, 'right')",
                collection,
                right,
            )
            where = await conn.fetchval("SELECT tableoid::regclass::text FROM chunks WHERE content = 'right'")
            await tx.rollback()
            assert where == f"chunks_part_{right:02d}"
        finally:
            await conn.close()

    asyncio.run(write())


def test_upgrade_keeps_the_hosts_keys_indexes_and_own_objects(adopted: tuple[str, tuple[int, str]]) -> None:
    url, _ = adopted
    # The host's foreign keys, declared on every partition since sc0004 (each partition has both).
    foreign_keys = fetch_sync(
        url,
        "SELECT i.inhrelid, array_agg(c.confrelid::regclass::text || ':' || c.confdeltype::text ORDER BY 1) "
        "FROM pg_inherits i LEFT JOIN pg_constraint c ON c.conrelid = i.inhrelid AND c.contype = 'f' "
        "WHERE i.inhparent = 'chunks'::regclass GROUP BY 1",
    )
    assert len(foreign_keys) == 100
    assert {tuple(r[1]) for r in foreign_keys} == {("chunking_configs:a", "collections:c")}
    # The host's eight per-partition indexes are attached to the library's parent indexes, none rebuilt twice.
    per_partition = fetch_sync(
        url,
        "SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indrelid "
        "WHERE i.inhparent = 'chunks'::regclass GROUP BY x.indrelid",
    )
    assert {r[0] for r in per_partition} == {9}  # primary key + the host's eight
    parents = {r[0] for r in fetch_sync(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'chunks'")}
    assert {"ix_chunks_collection_id", "ix_chunks_created_at", "ix_chunks_collection_chunk_index"} <= parents
    assert "ix_chunks_document_id" in parents
    # The host's own view is left alone; its VARCHAR routing functions, which shadowed the library's, are gone.
    assert fetch_sync(url, f"SELECT count(*) FROM {host_schema.HOST_OWN_VIEW}")[0][0] == 2
    routing = {
        r[0] for r in fetch_sync(url, "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE 'get_part%'")
    }
    assert routing == {
        "get_partition_key(text)",
        "get_partition_for_collection(text)",
        "get_partition_for_collection(uuid)",
    }
    assert fetch_sync(url, "SELECT count(*) FROM collections")[0][0] == 20


def test_upgrade_replaces_the_hosts_monitoring_objects_with_the_librarys(
    adopted: tuple[str, tuple[int, str]],
) -> None:
    url, _ = adopted
    columns = {
        r[0]
        for r in fetch_sync(
            url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'partition_health_summary'"
        )
    }
    assert "partition_size" in columns  # the host's own view lacked it
    statuses = {r[0] for r in fetch_sync(url, "SELECT status FROM analyze_partition_skew()")}
    assert statuses <= {"NORMAL", "WARNING", "CRITICAL"}  # the host's answered HEALTHY
    fetch_sync(url, "SELECT refresh_collection_chunking_stats()")
    stats = fetch_sync(url, "SELECT id, total_chunks FROM collection_chunking_stats")
    assert len(stats) == 20
    assert sum(r["total_chunks"] for r in stats) == 1200


# ---------------------------------------------------------------------------------------------------
# The mover: interrupted, cancelled, parallel, dry
# ---------------------------------------------------------------------------------------------------


async def test_a_run_interrupted_between_batches_loses_nothing_and_a_rerun_finishes(host_url: str) -> None:
    before = await snapshot(host_url)
    await adopt_without_moving(host_url)
    misplaced = await scalar(host_url, MISPLACED)
    assert isinstance(misplaced, int) and misplaced > 1000

    with pytest.raises(Interrupted):
        await move(host_url, batch_size=5, progress=interrupt_after(4))

    left = await scalar(host_url, MISPLACED)
    assert isinstance(left, int) and 0 < left < misplaced
    assert await snapshot(host_url) == before
    assert await scalar(host_url, CHECK_VALIDATED) is False

    seen: list[MoveProgress] = []
    report = await move(host_url, batch_size=5, progress=seen.append)

    assert report.moved == left
    assert report.validated
    assert report.batches == len(seen) - 100 > 100  # a report per batch, and one per partition done
    assert seen[-1].moved == left and seen[-1].partitions_done == 100
    assert await scalar(host_url, MISPLACED) == 0
    assert await snapshot(host_url) == before
    assert await scalar(host_url, CHECK_VALIDATED) is True

    again = await move(host_url)
    assert (again.moved, again.batches, again.validated) == (0, 0, True)


async def test_a_cancelled_run_loses_nothing_and_a_rerun_finishes(host_url: str) -> None:
    before = await snapshot(host_url)
    await adopt_without_moving(host_url)
    misplaced = await scalar(host_url, MISPLACED)
    two_batches_done = asyncio.Event()

    def progress(report: MoveProgress) -> None:
        if report.batches >= 2:
            two_batches_done.set()

    run = asyncio.create_task(move(host_url, batch_size=5, progress=progress))
    await two_batches_done.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    left = await scalar(host_url, MISPLACED)
    assert isinstance(left, int) and isinstance(misplaced, int) and 0 < left < misplaced
    assert await snapshot(host_url) == before

    report = await move(host_url, batch_size=7)
    assert report.moved == left
    assert await scalar(host_url, MISPLACED) == 0
    assert await snapshot(host_url) == before


async def test_two_workers_place_every_row(host_url: str) -> None:
    before = await snapshot(host_url)
    await adopt_without_moving(host_url)
    misplaced = await scalar(host_url, MISPLACED)

    engine = create_engine(host_url)  # the caller's engine: its pooled connections must come back as they were
    try:
        report = await mover.move_misplaced_rows(engine, batch_size=4, workers=2)
        for _ in range(3):
            async with engine.connect() as conn:
                role = await conn.exec_driver_sql("SHOW session_replication_role")
                assert role.scalar_one() == "origin"
    finally:
        await engine.dispose()

    assert report.moved == misplaced
    assert report.validated
    assert await scalar(host_url, MISPLACED) == 0
    assert await snapshot(host_url) == before


async def test_a_failing_worker_stops_the_others_and_nothing_is_lost(host_url: str) -> None:
    before = await snapshot(host_url)
    await adopt_without_moving(host_url)
    calls: list[int] = []

    def progress(report: MoveProgress) -> None:
        calls.append(report.batches)
        if report.batches == 6:
            raise Interrupted

    with pytest.raises(Interrupted):
        await move(host_url, batch_size=3, workers=2, progress=progress)

    assert max(calls) <= 7  # the other worker finished at most the batch it was in
    assert await snapshot(host_url) == before
    assert (await move(host_url, batch_size=50)).validated
    assert await scalar(host_url, MISPLACED) == 0
    assert await snapshot(host_url) == before


async def test_a_move_is_not_an_edit_for_the_hosts_row_triggers(host_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(host_url))
    try:  # a host trigger stamping updated_at on every UPDATE: a move must not look like one
        await conn.execute(
            """CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN NEW.updated_at := now() + interval '1 day'; RETURN NEW; END $$;
               CREATE TRIGGER chunks_touch_updated_at BEFORE UPDATE ON chunks
               FOR EACH ROW EXECUTE FUNCTION touch_updated_at()"""
        )
    finally:
        await conn.close()
    before = await snapshot(host_url)
    await adopt_without_moving(host_url)

    await move(host_url, batch_size=50)

    assert await snapshot(host_url) == before  # updated_at included
    assert await scalar(host_url, "SELECT count(*) FROM pg_trigger WHERE tgname = 'chunks_touch_updated_at'") == 101


@pytest.fixture
def unprivileged_host_url(pg_server_url: str) -> Iterator[str]:
    """A host database owned and built by a role that is not a superuser."""
    suffix = uuid.uuid4().hex[:12]
    role, name = f"semantik_owner_{suffix}", f"semantik_host_{suffix}"
    run_sql(pg_server_url, f'CREATE ROLE "{role}" LOGIN', f'CREATE DATABASE "{name}" OWNER "{role}"')
    url = make_url(with_database(pg_server_url, name)).set(username=role).render_as_string(hide_password=False)
    asyncio.run(
        host_schema.build_host_database(
            asyncpg_dsn(url), collections=8, documents_per_collection=5, chunks_per_document=4
        )
    )
    yield url
    run_sql(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE IF EXISTS "{role}"')


async def test_a_role_that_may_not_turn_triggers_off_still_moves_every_row(
    unprivileged_host_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = unprivileged_host_url
    assert await scalar(url, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
    before = await snapshot(url)
    await adopt_without_moving(url)

    with caplog.at_level(logging.INFO, logger=mover.__name__):
        report = await move(url, batch_size=10, workers=2)

    assert "row triggers firing" in caplog.text
    assert report.validated and report.moved > 100
    assert await scalar(url, MISPLACED) == 0
    assert await snapshot(url) == before


async def test_dry_run_reports_each_partitions_gain_and_loss_and_changes_nothing(host_url: str) -> None:
    before = await snapshot(host_url)
    placement = [(r[0], r[1]) for r in await fetch(host_url, "SELECT collection_id, partition_key FROM chunks")]
    expected_gain: Counter[int] = Counter()
    expected_lose: Counter[int] = Counter()
    for collection, current in placement:
        right = partition_for(collection)  # the Python routing: independent of the SQL under test
        if right != current:
            expected_gain[right] += 1
            expected_lose[current] += 1

    # Before any migration the database does not know its partition count; the host's is 100.
    report = await move(host_url, dry_run=True, partition_count=100)

    assert report.dry_run and report.moved == 0
    assert {p: n for p, n in report.would_gain.items() if n} == dict(expected_gain)
    assert {p: n for p, n in report.would_lose.items() if n} == dict(expected_lose)
    assert set(report.would_gain) == set(range(100))
    assert report.would_move == sum(expected_lose.values()) == await scalar(host_url, MISPLACED)
    assert [(r[0], r[1]) for r in await fetch(host_url, "SELECT collection_id, partition_key FROM chunks")] == placement
    assert await snapshot(host_url) == before
    trigger = "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'chunks'::regclass AND tgname = $1"
    assert await scalar(host_url, trigger, host_schema.HOST_TRIGGER) == 1

    await adopt_without_moving(host_url)
    assert (await move(host_url, dry_run=True)).would_lose == report.would_lose


async def test_the_mover_refuses_a_table_that_was_not_taken_over(host_url: str) -> None:
    with pytest.raises(ConfigurationError, match="partition count"):
        await move(host_url)
    conn = await asyncpg.connect(asyncpg_dsn(host_url))
    try:
        for statement in schema.create_routing_functions(100):
            await conn.execute(statement)
    finally:
        await conn.close()
    with pytest.raises(AdoptionError, match="migrate"):
        await move(host_url)


@pytest.fixture
def library_url(make_database: Callable[[], str]) -> str:
    url = make_database()
    migrate.upgrade(url, 100)
    return url


async def test_a_library_created_table_has_nothing_to_move(library_url: str) -> None:
    report = await move(library_url)
    assert (report.moved, report.batches, report.validated) == (0, 0, True)
    assert await scalar(library_url, "SELECT to_regclass($1)", takeover.REPLACED_OBJECTS) is None
    assert await scalar(library_url, "SELECT obj_description('chunks'::regclass, 'pg_class')") == schema.OWNED_MARK


# ---------------------------------------------------------------------------------------------------
# Migration paths: an interrupted migration, a host's own history, a partition count mismatch, downgrade
# ---------------------------------------------------------------------------------------------------


def test_rerunning_an_interrupted_migration_finishes_it(host_url: str) -> None:
    before = asyncio.run(snapshot(host_url))
    migrate.upgrade(host_url, 100, "sc0001")

    async def killed_mid_way() -> None:
        # What a migration killed while moving rows leaves: the DDL committed, sc0002 not recorded.
        await adopt_without_moving(host_url)
        with pytest.raises(Interrupted):
            await move(host_url, batch_size=5, progress=interrupt_after(3))

    asyncio.run(killed_mid_way())
    assert migrate.current(host_url) == ("sc0001",)

    migrate.upgrade(host_url, 100)

    assert migrate.current(host_url) == library_heads()
    assert fetch_sync(host_url, MISPLACED)[0][0] == 0
    assert asyncio.run(snapshot(host_url)) == before
    assert fetch_sync(host_url, CHECK_VALIDATED)[0][0] is True
    recorded = fetch_sync(host_url, f"SELECT kind, name, count(*) FROM {takeover.REPLACED_OBJECTS} GROUP BY 1, 2")
    assert {r[2] for r in recorded} == {1}  # the rerun recorded nothing twice


def test_inside_a_hosts_transaction_the_table_is_adopted_and_the_mover_finishes(host_url: str) -> None:
    before = asyncio.run(snapshot(host_url))

    async def host_revision() -> None:
        engine = create_engine(host_url)
        try:
            async with engine.begin() as conn:  # the host's migration transaction
                await conn.run_sync(lambda sync_conn: migrate.upgrade_on_connection(sync_conn, partition_count=100))
        finally:
            await engine.dispose()

    asyncio.run(host_revision())

    assert migrate.current(host_url) == library_heads()
    assert fetch_sync(host_url, CHECK_VALIDATED)[0][0] is False  # rows are not moved inside a host's transaction
    assert fetch_sync(host_url, MISPLACED)[0][0] > 0

    report = asyncio.run(move(host_url))

    assert report.validated and report.moved > 1000
    assert fetch_sync(host_url, MISPLACED)[0][0] == 0
    assert asyncio.run(snapshot(host_url)) == before


def test_a_partition_count_other_than_the_hosts_is_refused_and_nothing_changes(host_url: str) -> None:
    with pytest.raises(ConfigurationError, match="--partitions 100"):
        migrate.upgrade(host_url, 64)
    assert fetch_sync(host_url, "SELECT count(*) FROM pg_trigger WHERE tgname = $1", host_schema.HOST_TRIGGER)[0][0]
    assert fetch_sync(host_url, "SELECT to_regclass('partition_health_summary') IS NOT NULL")[0][0] is True
    assert fetch_sync(host_url, "SELECT obj_description('chunks'::regclass, 'pg_class')")[0][0] is None


def test_downgrade_gives_the_host_its_table_back_as_it_was(host_url: str) -> None:
    before = asyncio.run(snapshot(host_url))
    host_summary_columns = "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY 1"
    summary_before = fetch_sync(host_url, host_summary_columns, "partition_health_summary")
    stats_before = fetch_sync(host_url, host_summary_columns, "collection_chunking_stats")
    migrate.upgrade(host_url, 100)

    migrate.downgrade(host_url, "base")

    assert asyncio.run(snapshot(host_url)) == before
    assert fetch_sync(host_url, MISPLACED)[0][0] == 0  # rows stay where the takeover put them
    assert fetch_sync(host_url, CHECK_VALIDATED) == []
    assert fetch_sync(host_url, "SELECT obj_description('chunks'::regclass, 'pg_class')")[0][0] is None
    assert fetch_sync(host_url, "SELECT to_regclass($1)", takeover.REPLACED_OBJECTS)[0][0] is None
    # The host's monitoring objects are back in their own shapes, with the materialized view's unique index.
    assert fetch_sync(host_url, host_summary_columns, "partition_health_summary") == summary_before
    assert fetch_sync(host_url, host_summary_columns, "collection_chunking_stats") == stats_before
    assert fetch_sync(host_url, "SELECT to_regclass('ix_collection_chunking_stats_id') IS NOT NULL")[0][0] is True
    assert fetch_sync(host_url, "SELECT status FROM analyze_partition_skew()")[0][0] == "HEALTHY"
    for relation in host_schema.HOST_VIEWS:
        assert fetch_sync(host_url, "SELECT to_regclass($1) IS NOT NULL", relation)[0][0] is True
    routing = {
        r[0] for r in fetch_sync(host_url, "SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE 'get_part%'")
    }
    assert routing == {"get_partition_key(character varying)", "get_partition_for_collection(character varying)"}

    # The trigger is back: a writer supplying its key succeeds, any other key is refused by it.
    collection = host_schema.collection_id(1)
    host_key = abs(hashtext(f"{collection}:doc-new")) % 100
    insert = (
        "INSERT INTO chunks (collection_id, partition_key, document_id, chunk_index, content) "
        "VALUES ('{}', {}, 'doc-new', {}, 'x')"
    )
    run_sql(host_url, insert.format(collection, host_key, 0))
    with pytest.raises(asyncpg.FeatureNotSupportedError, match="moving row to another partition"):
        run_sql(host_url, insert.format(collection, (host_key + 1) % 100, 1))
    run_sql(host_url, "DELETE FROM chunks WHERE document_id = 'doc-new'")

    migrate.upgrade(host_url, 100)  # and it can be taken over again
    assert fetch_sync(host_url, CHECK_VALIDATED)[0][0] is True
    assert asyncio.run(snapshot(host_url)) == before


# ---------------------------------------------------------------------------------------------------
# The operator's command: semantik-chunks migrate [--dry-run]
# ---------------------------------------------------------------------------------------------------


def test_the_cli_previews_then_takes_over_keeping_every_row(host_url: str) -> None:
    import json

    import jsonschema_rs
    from typer.testing import CliRunner

    from semantik_chunks.entrypoints.cli import app

    schema_path = Path(__file__).parents[2] / "docs" / "cli.schema.json"
    schema_validator = jsonschema_rs.validator_for(json.loads(schema_path.read_text()))
    before = asyncio.run(snapshot(host_url))
    misplaced = fetch_sync(host_url, MISPLACED)[0][0]
    assert misplaced > 0

    preview = CliRunner().invoke(app, ["migrate", "--dry-run", "--format", "json", "--db-url", host_url])
    assert preview.exit_code == 0, preview.output
    document = json.loads(preview.stdout)
    schema_validator.validate(document)
    assert document["dry_run"] is True
    assert document["rows_to_move"] == misplaced
    assert sum(p["gain"] for p in document["partitions"]) == sum(p["lose"] for p in document["partitions"])
    assert fetch_sync(host_url, MISPLACED)[0][0] == misplaced  # nothing changed
    assert fetch_sync(host_url, "SELECT count(*) FROM pg_trigger WHERE tgname = 'set_partition_key'")[0][0] > 0

    result = CliRunner().invoke(app, ["migrate", "--format", "json", "--db-url", host_url])
    assert result.exit_code == 0, result.output
    schema_validator.validate(json.loads(result.stdout))
    assert json.loads(result.stdout)["rows_moved"] == misplaced
    assert asyncio.run(snapshot(host_url)) == before
    assert fetch_sync(host_url, MISPLACED)[0][0] == 0
    assert fetch_sync(host_url, CHECK_VALIDATED)[0][0] is True

    again = CliRunner().invoke(app, ["migrate", "--format", "json", "--db-url", host_url])
    assert json.loads(again.stdout)["rows_moved"] == 0


def test_an_adopted_table_keeps_the_hosts_index_names(adopted: tuple[str, tuple[int, str]]) -> None:
    """The host's tests read idx_chunks_part_NN_{collection,created,chunk_index,document}; sc0005 renames none."""
    url, _ = adopted
    names = {r[0] for r in fetch_sync(url, "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'chunks_part_%'")}
    for p in range(100):
        for suffix in ("collection", "created", "chunk_index", "document"):
            assert f"idx_chunks_part_{p:02d}_{suffix}" in names
    renamed = fetch_sync(url, "SELECT count(*) FROM pg_description WHERE description LIKE 'semantik_chunks: renamed%'")
    assert renamed[0][0] == 0


def test_after_the_move_statistics_count_what_exact_counts(adopted: tuple[str, tuple[int, str]]) -> None:
    """The mover analysed every partition it touched: no dead versions or lagging counters in the quick answer."""
    from semantik_chunks.adapters.postgres.statistics import PostgresPartitionStatistics

    url, before = adopted

    async def both() -> tuple[list[int], list[int]]:
        engine = create_engine(url)
        try:
            stats = PostgresPartitionStatistics(engine, 100)
            quick = [s.row_count for s in await stats.partition_snapshots()]
            exact = [s.row_count for s in await stats.partition_snapshots(exact=True)]
        finally:
            await engine.dispose()
        return quick, exact

    quick, exact = asyncio.run(both())
    assert sum(exact) == before[0]
    assert quick == exact
