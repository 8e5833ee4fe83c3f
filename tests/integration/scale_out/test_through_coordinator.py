"""Reads and writes through the coordinator with partitions on two other servers; the CLI; credentials."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from semantik_chunks.adapters.postgres import chunks as chunk_sql
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository, PostgresCollectionRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.fdw import PostgresPlacement
from semantik_chunks.domain.errors import InvalidChunkError
from semantik_chunks.domain.model import Chunk
from semantik_chunks.entrypoints.cli.app import app
from tests.integration.scale_out.conftest import REMOTE_PASSWORD, Cluster, add_servers, run_sql, scalar
from tests.integration.test_migrations import fetch as fetch_blocking

CLI_SCHEMA = jsonschema_rs.validator_for(
    json.loads((Path(__file__).parents[3] / "docs" / "cli.schema.json").read_text())
)
ON_ALPHA = "6b4f0c1e-0d55-4a3e-9d6e-3f0f4b8b2a11"  # partition 20
ON_BETA = "collection-b"  # partition 40
LOCAL = "local-collection"


def _chunks(collection: str, n: int) -> list[Chunk]:
    return [Chunk(collection_id=collection, chunk_index=i, content=f"{collection} {i}") for i in range(n)]


async def _placed(cluster: Cluster) -> tuple[object, PostgresChunkRepository]:
    from semantik_chunks import partition_for

    engine = create_engine(cluster.coordinator)
    placement = PostgresPlacement(engine, 100)
    await add_servers(cluster, placement)
    await placement.move(partition_for(ON_ALPHA, 100), "alpha")
    await placement.move(partition_for(ON_BETA, 100), "beta")
    collections = PostgresCollectionRepository(engine)
    for c in (ON_ALPHA, ON_BETA, LOCAL):
        await collections.add(c)
    return engine, PostgresChunkRepository(engine, 100)


async def test_a_collection_read_on_a_remote_partition_is_exactly_one_foreign_scan(cluster: Cluster) -> None:
    engine, repo = await _placed(cluster)
    await repo.add_many(_chunks(ON_ALPHA, 50))
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                text(f"EXPLAIN {chunk_sql.LIST_BY_COLLECTION.text}"),
                {"partition_key": 20, "collection_id": ON_ALPHA},
            )
        )
    assert plan.count("Foreign Scan") == 1, plan
    assert "chunks_part_20" in plan and "Seq Scan" not in plan and "Append" not in plan
    assert [c.chunk_index for c in await repo.list_by_collection(ON_ALPHA)] == list(range(50))
    assert await repo.delete_collection(ON_ALPHA) == 50
    assert await repo.count() == 0
    await engine.dispose()  # type: ignore[attr-defined]


async def test_a_batch_over_three_servers_is_all_or_nothing_when_one_server_fails_mid_batch(cluster: Cluster) -> None:
    engine, repo = await _placed(cluster)
    # The fault: beta's table refuses its 30th row of the batch, after the coordinator and alpha took theirs.
    await run_sql(
        cluster.servers["beta"],
        """CREATE FUNCTION fail_mid_batch() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.chunk_index = 29 THEN RAISE EXCEPTION 'injected fault on beta'; END IF; RETURN NEW; END $$""",
        "CREATE TRIGGER fail_mid_batch BEFORE INSERT ON chunks_part_40 FOR EACH ROW EXECUTE FUNCTION fail_mid_batch()",
    )
    batch = _chunks(LOCAL, 40) + _chunks(ON_ALPHA, 40) + _chunks(ON_BETA, 40)
    with pytest.raises(Exception, match="injected fault on beta"):
        await repo.add_many(batch)
    assert await repo.count() == 0
    assert await scalar(cluster.servers["alpha"], "SELECT count(*) FROM chunks_part_20") == 0
    assert await scalar(cluster.servers["beta"], "SELECT count(*) FROM chunks_part_40") == 0

    await run_sql(cluster.servers["beta"], "DROP TRIGGER fail_mid_batch ON chunks_part_40")
    stored = await repo.add_many(batch)
    assert len(stored) == 120 and await repo.count() == 120
    assert await repo.count(ON_BETA) == 40
    # Guarantees on remote partitions: unknown collections refused by the coordinator, deletes cascade.
    with pytest.raises(InvalidChunkError, match="does not exist in collections"):
        await repo.add_many(_chunks("3bd1b7c7-no-such-collection-on-alpha", 1))
    await run_sql(cluster.coordinator, f"DELETE FROM collections WHERE id = '{ON_BETA}'")
    assert await scalar(cluster.servers["beta"], "SELECT count(*) FROM chunks_part_40") == 0
    await engine.dispose()  # type: ignore[attr-defined]


def test_the_cli_adds_lists_places_and_removes_servers_and_never_shows_the_password(
    make_cluster: Callable[[], Cluster], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cluster = make_cluster()
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    db = ["--db-url", cluster.coordinator]
    alpha_url, beta_url = cluster.servers["alpha"], cluster.servers["beta"]
    password_file = tmp_path / "pw"
    password_file.write_text(REMOTE_PASSWORD + "\n")
    beta_without_password = beta_url.replace(f":{REMOTE_PASSWORD}@", "@")
    assert REMOTE_PASSWORD not in beta_without_password
    results = [
        runner.invoke(app, ["servers", "add", "alpha", alpha_url, *db, "--format", "json"]),
        runner.invoke(
            app, ["servers", "add", "beta", beta_without_password, "--password-file", str(password_file), *db]
        ),
        runner.invoke(app, ["place", "20", "--on", "alpha", *db, "--format", "json"]),
        runner.invoke(app, ["place", "--spread", "coordinator,alpha,beta", *db]),
        runner.invoke(app, ["place", "--spread", "coordinator,alpha,beta", *db, "--format", "json"]),
        runner.invoke(app, ["servers", "list", *db, "--format", "json"]),
        runner.invoke(app, ["servers", "remove", "alpha", *db]),
        runner.invoke(app, ["place", "20", "--home", *db]),
        runner.invoke(app, ["servers", "remove", "alpha", *db, "--format", "json"]),
        runner.invoke(app, ["servers", "list", *db]),
    ]
    codes = [r.exit_code for r in results]
    assert codes == [0, 0, 0, 0, 0, 0, 3, 0, 0, 0], [r.output for r in results]
    assert json.loads(results[2].output)["moves"][0]["target"] == "alpha"
    assert "Would move" in results[3].output and "Dry run" in results[3].output
    listed = {s["name"]: s for s in json.loads(results[5].output)["servers"]}
    assert listed["alpha"]["partitions"] == [20] and listed["alpha"]["reachable"] is True
    assert "holds partitions 20" in results[6].output
    assert "alpha" not in results[9].output and "beta" in results[9].output
    # Every JSON document of these commands as docs/cli.schema.json publishes it.
    for document in (results[i].output for i in (0, 2, 4, 5, 8)):
        errors = [e.message for e in CLI_SCHEMA.iter_errors(json.loads(document))]
        assert not errors, (document, errors)
    everything = "\n".join(r.output for r in results) + "\n".join(m.getMessage() for m in caplog.records)
    assert REMOTE_PASSWORD not in everything
    # Stored where postgres_fdw needs it, for both ways of giving it.
    mappings = fetch_blocking(cluster.coordinator, "SELECT srvname, umoptions FROM pg_user_mappings ORDER BY 1")
    assert [(m[0], f"password={REMOTE_PASSWORD}" in m[1]) for m in mappings] == [("beta", True)]
