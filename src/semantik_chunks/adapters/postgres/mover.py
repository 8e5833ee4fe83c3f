"""The row mover: every row of an adopted ``chunks`` table moved to the partition its collection hashes to.

``move_misplaced_rows`` walks one source partition at a time in id ranges (an index range scan per
batch), moves each misplaced row with an UPDATE of its partition key (which PostgreSQL performs as a
move between partitions), one autocommitted statement per batch; then ``VALIDATE CONSTRAINT``. An
interrupted run loses nothing and a rerun finishes the job. The takeover (``takeover.py``) runs the
same ``Mover`` on the migration's connection when the migration may commit on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import maintenance, schema
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.domain.adoption import AdoptionError, MoveProgress, MoveReport, Progress
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import validate_partition_count

logger = logging.getLogger(__name__)

# Rows per batch: one batch is one UPDATE statement. Measured (docs/performance.md) at 0.1-0.4 s on
# the embedded server, well under the 1 s a concurrent writer touching one of those rows could wait.
DEFAULT_BATCH_SIZE = 5_000
_MAX_BIGINT = 2**63 - 1
_INSUFFICIENT_PRIVILEGE = "42501"


async def move_misplaced_rows(
    engine: AsyncEngine,
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
    # Every statement commits by itself: one batch is one transaction.
    async with database_errors(), _autocommitting(engine).connect() as conn:
        n = await conn.run_sync(_partition_count, partition_count)
        if dry_run:
            return await conn.run_sync(_dry_run, n)
        state = await conn.run_sync(check_state)
        if state == "validated":
            return MoveReport(partition_count=n, moved=0, batches=0, seconds=0.0, validated=True)
        if state == "missing":
            raise AdoptionError(
                "chunks has no partition CHECK yet: run `semantik-chunks migrate` first, which adopts the table"
            )
        mover = Mover(n, batch_size, progress)
        await _run_workers(engine, mover, workers)
        await conn.run_sync(mover.validate)
        await conn.run_sync(mover.analyze)
        return mover.report(validated=True)


class PostgresTableAdoption:
    """The ``TableAdoption`` port: the mover on the container's engine."""

    def __init__(self, engine: AsyncEngine, partition_count: int) -> None:
        self._engine = engine
        self._partition_count = validate_partition_count(partition_count)

    async def move_misplaced_rows(self, progress: Progress | None = None) -> MoveReport:
        # The partition count is the database's own (a mismatch is refused by the migration before).
        return await move_misplaced_rows(self._engine, progress=progress)

    async def preview_moves(self) -> MoveReport:
        # Before the migrations ran the database does not know its partition count: the configured one.
        return await move_misplaced_rows(self._engine, dry_run=True, partition_count=self._partition_count)


def _autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (its pool) with every statement committing by itself; the pool restores the isolation
    level of a connection it gets back."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def _run_workers(engine: AsyncEngine, mover: Mover, workers: int) -> None:
    async def work() -> None:
        async with _autocommitting(engine).connect() as conn:
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


def check_state(bind: Connection) -> str:
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


class Mover:
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


class ProgressLog:
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
