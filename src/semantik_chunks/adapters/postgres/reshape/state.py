"""A run's state, kept in the database: the names of the tables, functions, triggers and temporary
objects a reshape or isolation makes, the ``Hooks`` tests synchronise on, a run's row (``Run``) with its
bookkeeping in ``semantik_chunks_reshape_runs`` and the other state tables, the partition count the
database has, and the SQL quoting the rest of the package builds its statements with.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from semantik_chunks.adapters.postgres import monitoring_sql
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count
from semantik_chunks.domain.reshape import PendingChange, ReshapeProgress

RUNS = "semantik_chunks_reshape_runs"
CURSORS = "semantik_chunks_reshape_cursors"
LOG = "semantik_chunks_reshape_log"
NAMES = "semantik_chunks_reshape_names"
ISOLATED = "semantik_chunks_isolated_collections"
CAPTURE_FUNCTION = "semantik_chunks_reshape_capture"
GUARD_FUNCTION = "semantik_chunks_reshape_no_truncate"
CAPTURE_TRIGGER = "semantik_chunks_reshape_capture"
GUARD_TRIGGER = "semantik_chunks_reshape_no_truncate"
TEMP_PREFIX = "rs_"
NEW_TABLE = TEMP_PREFIX + "chunks"
# New leaves are built without autovacuum: an autovacuum worker analysing them would hold a lock the swap
# needs for longer than the swap waits (PostgreSQL cancels it only after deadlock_timeout, 1 s). Reset
# right after the swap.
NO_AUTOVACUUM = "WITH (autovacuum_enabled = false)"
# The old objects, renamed out of the way in the swap and dropped right after it.
OLD_PREFIX = TEMP_PREFIX + "old_"
NEXT_STATS = TEMP_PREFIX + monitoring_sql.STATS_MATVIEW

Progress = Callable[[ReshapeProgress], None]


@attrs.define
class Hooks:
    """Points where tests (and the benchmark) synchronise with a run: each is called with the run's
    state; a hook may block (wait for a writer) or raise (simulate a crash)."""

    after_batch: Callable[[int], None] | None = None  # batches committed so far in this process
    before_swap: Callable[[], None] | None = None
    after_swap: Callable[[], None] | None = None


@attrs.frozen
class Run:
    id: int
    kind: str
    from_count: int
    to_count: int
    collection_id: str | None
    parts: int
    phase: str
    rows_copied: int
    copy_seconds: float
    batches: int
    replayed: int
    attempts: int

    def pending(self) -> PendingChange:
        return PendingChange(self.kind, self.from_count, self.to_count, self.collection_id, self.parts, self.phase)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


STATE_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS {RUNS} (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        from_count INTEGER NOT NULL,
        to_count INTEGER NOT NULL,
        collection_id TEXT,
        parts INTEGER NOT NULL DEFAULT 1,
        phase TEXT NOT NULL,
        rows_copied BIGINT NOT NULL DEFAULT 0,
        copy_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        batches BIGINT NOT NULL DEFAULT 0,
        replayed BIGINT NOT NULL DEFAULT 0,
        swap_attempts INTEGER NOT NULL DEFAULT 0,
        swap_seconds DOUBLE PRECISION,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        finished_at TIMESTAMPTZ
    )""",
    f"""CREATE TABLE IF NOT EXISTS {CURSORS} (
        run_id BIGINT NOT NULL REFERENCES {RUNS} (id) ON DELETE CASCADE,
        source INTEGER NOT NULL,
        last_id BIGINT,
        done BOOLEAN NOT NULL DEFAULT false,
        PRIMARY KEY (run_id, source)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {NAMES} (
        run_id BIGINT NOT NULL REFERENCES {RUNS} (id) ON DELETE CASCADE,
        temp_name TEXT NOT NULL,
        final_name TEXT NOT NULL,
        PRIMARY KEY (run_id, temp_name)
    )""",
    f"""CREATE TABLE IF NOT EXISTS {ISOLATED} (
        collection_id TEXT PRIMARY KEY,
        partition_num INTEGER NOT NULL,
        sub_partition TEXT NOT NULL UNIQUE,
        parts INTEGER NOT NULL,
        isolated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
)

_RUN_COLUMNS = (
    "id, kind, from_count, to_count, collection_id, parts, phase, rows_copied, copy_seconds, batches, "
    "replayed, swap_attempts"
)


def ensure_state_tables(bind: Connection) -> None:
    if bind.execute(text(f"SELECT to_regclass('{ISOLATED}') IS NOT NULL")).scalar_one():
        return
    for statement in STATE_TABLES:
        bind.execute(text(statement))
    bind.commit()


def unfinished_run(bind: Connection) -> Run | None:
    if not bind.execute(text(f"SELECT to_regclass('{RUNS}') IS NOT NULL")).scalar_one():
        return None
    row = bind.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM {RUNS} WHERE phase <> 'done' ORDER BY id DESC LIMIT 1")
    ).one_or_none()
    return None if row is None else Run(*row)


def reload_run(bind: Connection, run_id: int) -> Run:
    return Run(*bind.execute(text(f"SELECT {_RUN_COLUMNS} FROM {RUNS} WHERE id = {run_id}")).one())


def set_phase(bind: Connection, run: Run, phase: str) -> Run:
    bind.execute(text(f"UPDATE {RUNS} SET phase = :phase WHERE id = {run.id}"), {"phase": phase})
    bind.commit()
    return reload_run(bind, run.id)


def database_partition_count(bind: Connection) -> int:
    try:
        count = bind.execute(text("SELECT chunk_partition_count()")).scalar_one()
    except DBAPIError:
        bind.rollback()
        raise ConfigurationError(
            "the database has no chunk_partition_count(): run `semantik-chunks migrate` first"
        ) from None
    return validate_partition_count(int(count))


def relation_exists(bind: Connection, name: str) -> bool:
    return bind.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": quote_ident(name)}).scalar_one() is True
