"""Taking over a host database's existing chunks table, and moving its rows to where they belong.

The host (Semantik) already has ``chunks`` LIST-partitioned on ``partition_key``, with a BEFORE
INSERT trigger that derived the key from ``collection_id || ':' || document_id``: nearly every row
sits in the wrong partition for the library's rule ``abs(hashtext(collection_id) % N)``.

The takeover has two halves (docs/adoption.md):

1. ``adopt_host_table`` — DDL only, inside the migration's transaction, fast, no row moves: drop the
   trigger, add the CHECK as NOT VALID (it binds every writer at once; existing rows are fixed next),
   drop the host's monitoring objects (sc0003 creates the library's), make sure the library's indexes
   exist (the host's equivalent per-partition indexes are attached, not rebuilt), mark the table.
   What it drops is recorded so that ``release_host_table`` can put it back.
2. The row mover — ``move_misplaced_rows``: walks one source partition at a time in id ranges (an
   index range scan per batch), moves each misplaced row with an UPDATE of its partition key (which
   PostgreSQL performs as a move between partitions), one autocommitted statement per batch; then
   ``VALIDATE CONSTRAINT``. An interrupted run loses nothing and a rerun finishes the job. When the
   migration runs in the library's own Alembic environment, ``adopt_host_table`` runs it at once,
   outside the migration's transaction (Alembic's ``autocommit_block``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import attrs
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from semantik_chunks.adapters.postgres import maintenance, schema
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import reading_database
from semantik_chunks.domain.errors import ChunksError, ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count

logger = logging.getLogger(__name__)

HOST_TRIGGER = "set_partition_key"
# What the host built around its table that the library replaces (sc0003 creates the library's).
HOST_RELATIONS = (
    "partition_health_summary",
    "partition_stats",
    "partition_hot_spots",
    "partition_chunk_distribution",
    "partition_size_distribution",
    "partition_health",
    "partition_distribution",
    "collection_chunking_stats",
)
HOST_FUNCTIONS = ("analyze_partition_skew", "refresh_collection_chunking_stats")
# The library's routing functions (sc0002); the host's overloads of these names (VARCHAR) would
# shadow them for VARCHAR arguments and compute abs(hashtext(x)) % 100, which overflows on INT_MIN.
LIBRARY_ROUTING_SIGNATURES = {
    "get_partition_key": {"text"},
    "get_partition_for_collection": {"text", "uuid"},
}
REPLACED_OBJECTS = "semantik_chunks_replaced_objects"

# Rows per batch: one batch is one UPDATE statement. Measured (docs/performance.md) at 0.1-0.4 s on
# the embedded server, well under the 1 s a concurrent writer touching one of those rows could wait.
DEFAULT_BATCH_SIZE = 5_000
_MAX_BIGINT = 2**63 - 1
_INSUFFICIENT_PRIVILEGE = "42501"


class AdoptionError(ChunksError):
    """The chunks table cannot be taken over or its rows moved as things are; the message says why."""


# --------------------------------------------------------------------------------------------------
# The takeover (DDL)
# --------------------------------------------------------------------------------------------------


def adopt_host_table(bind: Connection, partition_count: int) -> None:
    """Take over the host's LIST-partitioned ``chunks`` (called by sc0002), then move its rows if the
    running migration can commit on its own (the library's environment); otherwise the rows are moved
    by ``semantik-chunks migrate`` / ``move_misplaced_rows`` afterwards."""
    n = validate_partition_count(partition_count)
    take_over_schema(bind, n)
    if _check_state(bind) == "validated":
        return  # every row is placed already (a rerun of this revision)
    migration = _running_migration()
    if (
        migration is not None
        and migration.config is not None
        and not migration.config.attributes.get("move_rows", True)
    ):
        return  # the caller moves the rows itself (semantik-chunks migrate, with its progress report)
    if migration is None or not _commits_per_migration(migration):
        logger.warning(
            "chunks adopted; its rows are not moved inside this migration (it runs in the host's transaction). "
            "Finish with `semantik-chunks migrate` or semantik_chunks.adapters.postgres.adoption.move_misplaced_rows"
        )
        return
    with migration.autocommit_block():
        report = _Mover(n, DEFAULT_BATCH_SIZE, _ProgressLog()).run_and_validate(migration.connection)
    logger.info("chunks adopted: %d rows moved in %.1f s, every row placed", report.moved, report.seconds)


def take_over_schema(bind: Connection, partition_count: int) -> None:
    """The DDL half of the takeover. Idempotent: a rerun after an interrupted move changes nothing."""
    n = validate_partition_count(partition_count)
    comment = _table_comment(bind)
    if comment == schema.OWNED_MARK:
        return  # the library created this table: there is nothing to take over
    # Every lock the takeover needs, taken at once on the parent before any partition: a writer locks the
    # parent first too, so it queues here instead of holding a partition the DDL needs (a deadlock).
    bind.execute(text("LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE"))
    _check_columns(bind)
    _check_partitions(bind, n)
    bind.execute(
        text(
            f"""CREATE TABLE IF NOT EXISTS {REPLACED_OBJECTS} (
                position BIGSERIAL PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                definition TEXT,
                replaced_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"""
        )
    )
    if comment != schema.ADOPTED_MARK:
        _record(bind, "comment", "chunks", comment)
    _drop_host_trigger(bind)
    if not _has_partition_check(bind):
        bind.execute(
            text(
                f"ALTER TABLE chunks ADD CONSTRAINT {schema.PARTITION_CHECK} "
                f"CHECK (partition_key = {schema.partition_key_expression('collection_id', n)}) NOT VALID"
            )
        )
    _drop_host_monitoring(bind)
    for statement in schema.CHUNK_INDEXES:
        bind.execute(text(statement))
    bind.execute(text(f"COMMENT ON TABLE chunks IS '{schema.ADOPTED_MARK}'"))


def release_host_table(bind: Connection) -> None:
    """Undo what the takeover did (called by sc0002's downgrade, after sc0003 dropped the library's views):
    drop the CHECK, put back the host's trigger, functions and views as they were, restore the comment.

    Rows stay where they are; the four parent indexes stay too (they hold the host's own per-partition
    indexes, which dropping them would drop).
    """
    bind.execute(text(f"ALTER TABLE chunks DROP CONSTRAINT IF EXISTS {schema.PARTITION_CHECK}"))
    restored_comment: str | None = None
    if _relation_exists(bind, REPLACED_OBJECTS):
        # As pg_dump does: a SQL function may name a view that is restored after it.
        checking = bind.execute(text("SELECT current_setting('check_function_bodies')")).scalar_one()
        bind.execute(text("SELECT set_config('check_function_bodies', 'off', true)"))
        rows = bind.execute(text(f"SELECT kind, definition FROM {REPLACED_OBJECTS} ORDER BY position DESC")).all()
        for kind, definition in rows:
            if kind == "comment":
                restored_comment = definition
            else:
                bind.exec_driver_sql(definition)  # verbatim: a definition's ':x' is no bind parameter
        bind.execute(text(f"DROP TABLE {REPLACED_OBJECTS}"))
        bind.execute(text("SELECT set_config('check_function_bodies', :on, true)"), {"on": checking})
    if restored_comment is None:
        bind.execute(text("COMMENT ON TABLE chunks IS NULL"))
    else:
        statement = bind.execute(
            text("SELECT format('COMMENT ON TABLE chunks IS %L', CAST(:comment AS text))"),
            {"comment": restored_comment},
        ).scalar_one()
        bind.execute(text(statement))


def _record(bind: Connection, kind: str, name: str, definition: str | None) -> None:
    bind.execute(
        text(f"INSERT INTO {REPLACED_OBJECTS} (kind, name, definition) VALUES (:kind, :name, :definition)"),
        {"kind": kind, "name": name, "definition": definition},
    )


def _table_comment(bind: Connection) -> str | None:
    comment: str | None = bind.execute(text("SELECT obj_description('chunks'::regclass, 'pg_class')")).scalar_one()
    return comment


def _relation_exists(bind: Connection, name: str) -> bool:
    return bind.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one() is True


def _check_columns(bind: Connection) -> None:
    present = set(
        bind.execute(
            text("SELECT attname FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attnum > 0")
        ).scalars()
    )
    missing = [column for column in schema.CHUNK_COLUMNS if column not in present]
    if missing:
        raise AdoptionError(f"the existing chunks table lacks the columns {', '.join(missing)}; it cannot be adopted")


def _check_partitions(bind: Connection, n: int) -> None:
    bounds = bind.execute(
        text(
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'chunks'::regclass"""
        )
    ).all()
    values: list[int] = []
    for name, bound in bounds:
        match = re.fullmatch(r"FOR VALUES IN \((-?\d+)\)", bound or "")
        if match is None:
            raise AdoptionError(f"partition {name} of chunks is {bound!r}, not one LIST value; it cannot be adopted")
        values.append(int(match.group(1)))
    if sorted(values) != list(range(n)):
        found = f"{len(values)} partitions" + (f" for values {min(values)}..{max(values)}" if values else "")
        raise ConfigurationError(
            f"the existing chunks table has {found}; the library was asked for {n} (0..{n - 1}). "
            f"Run the migration with the host's partition count (CHUNK_PARTITION_COUNT / --partitions {len(values)})"
        )


def _has_partition_check(bind: Connection) -> bool:
    return (
        bind.execute(
            text("SELECT 1 FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND conname = :name"),
            {"name": schema.PARTITION_CHECK},
        ).first()
        is not None
    )


def _drop_host_trigger(bind: Connection) -> None:
    trigger = bind.execute(
        text(
            """SELECT pg_get_triggerdef(t.oid), t.tgfoid, pg_get_functiondef(t.tgfoid), t.tgfoid::regprocedure::text
               FROM pg_trigger t WHERE t.tgrelid = 'chunks'::regclass AND t.tgname = :name AND NOT t.tgisinternal"""
        ),
        {"name": HOST_TRIGGER},
    ).one_or_none()
    if trigger is None:
        return
    trigger_def, function_oid, function_def, function_name = trigger
    _record(bind, "trigger", HOST_TRIGGER, trigger_def)
    bind.execute(text(f"DROP TRIGGER {HOST_TRIGGER} ON chunks"))
    still_used = bind.execute(text("SELECT count(*) FROM pg_trigger WHERE tgfoid = :f"), {"f": function_oid})
    if still_used.scalar_one() == 0:
        _record(bind, "function", function_name, function_def)
        bind.execute(text(f"DROP FUNCTION {function_name}"))


def _drop_host_monitoring(bind: Connection) -> None:
    for name, kind in _dependents_first(bind, HOST_RELATIONS):
        if kind == "m":
            # Its indexes go with it; they are recorded first so that they are restored after it.
            for index_def in bind.execute(
                text("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass(:n) ORDER BY 1"),
                {"n": name},
            ).scalars():
                _record(bind, "index", name, index_def)
        select = bind.execute(text("SELECT pg_get_viewdef(to_regclass(:n))"), {"n": name}).scalar_one()
        kind_sql = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
        _record(bind, kind_sql.lower(), name, f"CREATE {kind_sql} {name} AS {select}")
        bind.execute(text(f"DROP {kind_sql} {name}"))
    functions = bind.execute(
        text(
            """SELECT p.oid::regprocedure::text, p.proname, oidvectortypes(p.proargtypes), pg_get_functiondef(p.oid)
               FROM pg_proc p WHERE p.proname = ANY(:names) AND p.pronamespace = 'public'::regnamespace
               ORDER BY 1"""
        ),
        {"names": [*HOST_FUNCTIONS, *LIBRARY_ROUTING_SIGNATURES]},
    ).all()
    for signature, name, argument_types, definition in functions:
        if argument_types in LIBRARY_ROUTING_SIGNATURES.get(name, set()):
            continue  # the library's own routing function, created by sc0002
        _record(bind, "function", signature, definition)
        bind.execute(text(f"DROP FUNCTION {signature}"))


def _dependents_first(bind: Connection, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The views and materialized views among ``names`` that exist, each after every one that reads it."""
    rows = bind.execute(
        text(
            """SELECT c.relname, c.relkind::text,
                      ARRAY(SELECT DISTINCT dependent.relname::text FROM pg_depend d
                            JOIN pg_rewrite r ON r.oid = d.objid
                            JOIN pg_class dependent ON dependent.oid = r.ev_class
                            WHERE d.refobjid = c.oid AND dependent.oid <> c.oid)
               FROM pg_class c
               WHERE c.relname = ANY(:names) AND c.relkind IN ('v', 'm') AND c.relnamespace = 'public'::regnamespace"""
        ),
        {"names": list(names)},
    ).all()
    readers = {name: set(dependents) & set(names) for name, _, dependents in rows}
    kinds = {name: kind for name, kind, _ in rows}
    ordered: list[tuple[str, str]] = []
    while readers:
        ready = sorted(name for name, still_read_by in readers.items() if not still_read_by & readers.keys())
        if not ready:
            raise AdoptionError(f"the views {sorted(readers)} depend on each other in a cycle")
        for name in ready:
            ordered.append((name, kinds[name]))
            del readers[name]
    return ordered


def _running_migration() -> Any:
    """Alembic's MigrationContext when called from a migration, else None."""
    from alembic import op

    try:
        return op.get_context()
    except NameError:  # Alembic's proxy is not established outside a migration
        return None


def _commits_per_migration(migration: Any) -> bool:
    """Whether the migration may commit mid-way: each revision in its own transaction, none begun by the caller.

    In a host's history that runs the library inside its own transaction (``upgrade_on_connection``), the
    rows cannot be moved in committed batches, so they are left to the mover.
    """
    external = getattr(migration, "_in_external_transaction", True)
    return bool(migration.opts.get("transaction_per_migration")) and external is False


# --------------------------------------------------------------------------------------------------
# The row mover
# --------------------------------------------------------------------------------------------------


@attrs.frozen
class MoveProgress:
    """Where a run is, reported after every batch and when a source partition is done."""

    source_partition: int
    partitions_done: int
    partition_count: int
    moved: int
    batches: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.moved / self.seconds if self.seconds > 0 else 0.0


def _frozen_counts(counts: Mapping[int, int]) -> Mapping[int, int]:
    return MappingProxyType(dict(counts))


@attrs.frozen
class MoveReport:
    """What a run did (or, with ``dry_run``, would do)."""

    partition_count: int
    moved: int
    batches: int
    seconds: float
    validated: bool
    dry_run: bool = False
    would_gain: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_counts)
    would_lose: Mapping[int, int] = attrs.field(factory=dict, converter=_frozen_counts)

    @property
    def rows_per_second(self) -> float:
        return self.moved / self.seconds if self.seconds > 0 else 0.0

    @property
    def would_move(self) -> int:
        return sum(self.would_lose.values())


Progress = Callable[[MoveProgress], None]


async def move_misplaced_rows(
    url_or_engine: str | AsyncEngine,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
    partition_count: int | None = None,
    workers: int = 1,
) -> MoveReport:
    """Move every row of ``chunks`` whose ``partition_key`` is not ``abs(hashtext(collection_id) % N)`` to
    its partition, ``batch_size`` rows of one source partition per committed statement, then validate
    the CHECK. Resumable: a rerun finds what is left. A table whose CHECK is already valid returns at once.

    ``dry_run`` changes nothing and reports per partition how many rows it would gain and lose.
    ``partition_count`` is read from the database (``chunk_partition_count()``); give it only for a
    dry run before the migrations ran. ``workers`` connections walk distinct source partitions.
    """
    if batch_size < 1:
        raise ConfigurationError(f"batch size must be at least 1, got {batch_size}")
    if workers < 1:
        raise ConfigurationError(f"workers must be at least 1, got {workers}")
    engine = create_engine(url_or_engine)
    try:
        async with reading_database(), _autocommit(engine) as conn:
            n = await conn.run_sync(_partition_count, partition_count)
            if dry_run:
                return await conn.run_sync(_dry_run, n)
            state = await conn.run_sync(_check_state)
            if state == "validated":
                return MoveReport(partition_count=n, moved=0, batches=0, seconds=0.0, validated=True)
            if state == "missing":
                raise AdoptionError(
                    "chunks has no partition CHECK yet: run `semantik-chunks migrate` first, which adopts the table"
                )
            mover = _Mover(n, batch_size, progress)
            await _run_workers(engine, mover, workers)
            await conn.run_sync(mover.validate)
            await conn.run_sync(mover.analyze)
            return mover.report(validated=True)
    finally:
        if engine is not url_or_engine:
            await engine.dispose()


def finish_adoption(
    url: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    workers: int = 1,
) -> MoveReport:
    """Blocking ``move_misplaced_rows`` for ``semantik-chunks migrate`` to call after the migrations: moves
    what is left (returns at once, ``moved == 0``, when the table is the library's or already placed)."""
    return asyncio.run(move_misplaced_rows(url, batch_size=batch_size, progress=progress, workers=workers))


class _autocommit:
    """A connection on which every statement commits by itself (one batch = one transaction)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        self._conn = await self._engine.connect()
        await self._conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        await self._conn.close()


async def _run_workers(engine: AsyncEngine, mover: _Mover, workers: int) -> None:
    async def work() -> None:
        async with _autocommit(engine) as conn:
            await conn.run_sync(mover.run)

    outcomes = await asyncio.gather(*(work() for _ in range(workers)), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _partition_count(bind: Connection, given: int | None) -> int:
    recorded = None
    if bind.execute(text("SELECT to_regproc('chunk_partition_count') IS NOT NULL")).scalar_one():
        recorded = bind.execute(text("SELECT chunk_partition_count()")).scalar_one()
    if recorded is None:
        if given is None:
            raise ConfigurationError("the database does not record its partition count yet: give partition_count")
        return validate_partition_count(given)
    if given is not None and recorded != given:
        raise ConfigurationError(f"the database has {recorded} partitions, not {given}")
    return validate_partition_count(int(recorded))


def _check_state(bind: Connection) -> str:
    validated = bind.execute(
        text("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass('chunks') AND conname = :name"),
        {"name": schema.PARTITION_CHECK},
    ).scalar_one_or_none()
    if validated is None:
        return "missing"
    return "validated" if validated else "not validated"


def _dry_run(bind: Connection, n: int) -> MoveReport:
    started = time.perf_counter()
    key = schema.partition_key_expression("collection_id", n)
    flows = bind.execute(
        text(
            f"""SELECT partition_key, {key} AS target, count(*) FROM chunks
                WHERE partition_key <> {key} GROUP BY 1, 2"""
        )
    ).all()
    gain = dict.fromkeys(range(n), 0)
    lose = dict.fromkeys(range(n), 0)
    for source, target, rows in flows:
        lose[source] = lose.get(source, 0) + rows
        gain[target] += rows
    return MoveReport(
        partition_count=n,
        moved=0,
        batches=0,
        seconds=time.perf_counter() - started,
        validated=False,
        dry_run=True,
        would_gain=gain,
        would_lose=lose,
    )


class _Mover:
    """Source partitions to walk, shared by the workers; counters for progress and the report.

    The workers are greenlets of one event loop (or the migration's one connection): they switch only
    while awaiting the database, so the plain counters need no lock.
    """

    def __init__(self, partition_count: int, batch_size: int, progress: Progress | None) -> None:
        self._n = partition_count
        self._batch_size = batch_size
        self._progress = progress
        self._pending = list(range(partition_count))
        self._done = 0
        self._moved = 0
        self._batches = 0
        self._stopping = False
        self._started = time.perf_counter()
        self._key = schema.partition_key_expression("collection_id", partition_count)
        self.touched: set[int] = set()  # partitions that lost or gained rows

    def run_and_validate(self, bind: Connection) -> MoveReport:
        self.run(bind)
        self.validate(bind)
        self.analyze(bind)
        return self.report(validated=True)

    def run(self, bind: Connection) -> None:
        with _row_triggers_off(bind):
            try:
                while self._pending and not self._stopping:
                    self._walk(bind, self._pending.pop(0))
            except BaseException:
                # Before any cleanup awaits the database: the other workers stop after their current batch.
                self._stopping = True
                raise
        # This worker's row counts reach the shared statistics now, before the ANALYZE that follows the run.
        maintenance.flush_statistics(bind)

    def analyze(self, bind: Connection) -> None:
        """ANALYZE the partitions the run moved rows out of or into: without it, statistics-mode reports
        count the moved rows' dead versions until autovacuum comes by."""
        maintenance.analyze_partitions(bind, self.touched, self._n)

    def _walk(self, bind: Connection, source: int) -> None:
        start = -_MAX_BIGINT - 1
        while True:
            if self._stopping:
                return
            upper = self._batch_end(bind, source, start)
            if upper is None:
                break
            # Literal bounds: the planner sees the range and scans the index for just this batch. Where the
            # rows went comes back counted per target partition (they are analysed at the end).
            targets = bind.execute(
                text(
                    f"""WITH moved AS (
                            UPDATE chunks SET partition_key = {self._key}
                            WHERE partition_key = {source} AND id BETWEEN {start} AND {upper}
                              AND {self._key} <> {source}
                            RETURNING partition_key)
                        SELECT partition_key, count(*) FROM moved GROUP BY partition_key"""
                )
            ).all()
            moved = sum(count for _, count in targets)
            if moved:
                self.touched.add(source)
                self.touched.update(target for target, _ in targets)
            self._moved += moved
            self._batches += 1
            if self._progress is not None:
                self._progress(self._snapshot(source))
            if upper == _MAX_BIGINT:
                break
            start = upper + 1
        self._done += 1
        if self._progress is not None:
            self._progress(self._snapshot(source))

    def _batch_end(self, bind: Connection, source: int, start: int) -> int | None:
        """The last id of the next batch: ``batch_size`` ids along the source partition's primary key."""
        upper = bind.execute(
            text(
                f"""SELECT max(id) FROM (SELECT id FROM chunks WHERE partition_key = {source} AND id >= {start}
                                        ORDER BY id LIMIT {self._batch_size}) AS batch"""
            )
        ).scalar_one()
        return None if upper is None else int(upper)

    def validate(self, bind: Connection) -> None:
        # SHARE UPDATE EXCLUSIVE: writers go on while every row is checked.
        bind.execute(text(f"ALTER TABLE chunks VALIDATE CONSTRAINT {schema.PARTITION_CHECK}"))

    def _snapshot(self, source: int) -> MoveProgress:
        return MoveProgress(
            source_partition=source,
            partitions_done=self._done,
            partition_count=self._n,
            moved=self._moved,
            batches=self._batches,
            seconds=time.perf_counter() - self._started,
        )

    def report(self, *, validated: bool) -> MoveReport:
        return MoveReport(
            partition_count=self._n,
            moved=self._moved,
            batches=self._batches,
            seconds=time.perf_counter() - self._started,
            validated=validated,
        )


@contextmanager
def _row_triggers_off(bind: Connection) -> Iterator[None]:
    """Move rows with ``session_replication_role = replica`` when the role may set it (a superuser, or
    ``GRANT SET ON PARAMETER session_replication_role``): row triggers then do not fire for the moves.

    A move changes no value, so the foreign-key checks it would run (about a third of its cost) can only
    pass, and a host's own row triggers (an ``updated_at`` stamp, an audit log) must not see a move as an
    edit. CHECK, NOT NULL and unique constraints are still enforced. Without the privilege the rows move
    all the same, with triggers firing (docs/adoption.md).
    """
    try:
        bind.execute(text("SET session_replication_role = replica"))
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)  # asyncpg, psycopg
        if code != _INSUFFICIENT_PRIVILEGE:
            raise
        logger.info("moving rows with row triggers firing: this role may not set session_replication_role")
        yield
        return
    try:
        yield
    finally:
        try:
            bind.execute(text("RESET session_replication_role"))
        except DBAPIError:
            bind.invalidate()  # broken by whatever interrupted the run: never hand it back to a pool as it is


class _ProgressLog:
    """Progress as log lines, at most one every ``every`` seconds (the migration's reporter)."""

    def __init__(self, every: float = 5.0) -> None:
        self._every = every
        self._last = time.perf_counter()

    def __call__(self, progress: MoveProgress) -> None:
        now = time.perf_counter()
        if now - self._last >= self._every:
            self._last = now
            logger.info(
                "moving chunks: %d rows moved, %d/%d partitions done, %.0f rows/s",
                progress.moved,
                progress.partitions_done,
                progress.partition_count,
                progress.rows_per_second,
            )
