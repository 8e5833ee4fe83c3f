"""Statement statistics from ``pg_stat_statements``, with how many partitions each plan reads.

Reading: the rows of ``pg_stat_statements`` for the current database whose text names ``chunks``
or one of its partitions (``chunks_part_NN``). pg_stat_statements writes constants as ``$n``.

Planning, never executing: each distinct text is ``PREPARE``d and ``EXPLAIN (FORMAT JSON) EXECUTE``d
with a sample value of each parameter's type (``pg_prepared_statements.parameter_types``) under
``plan_cache_mode = force_custom_plan``, which is the plan a real call gets: the planner prunes with
the values it is given, as it does for a call. (``EXPLAIN (GENERIC_PLAN)`` would list every partition
even for ``partition_key = $2``, because a generic plan prunes at executor start.) A ModifyTable's
``Target Tables`` are not counted: on PostgreSQL < 18 they may list partitions the scans below it
never read.

Statements are planned in batches (``batch_size``), each batch in one transaction that is rolled
back, by a temporary PL/pgSQL function that plans each statement inside a sub-transaction (a
statement that fails is rolled back alone) and returns only the count of partitions read. The locks
taken are the ones planning takes (ACCESS SHARE for reads, ROW EXCLUSIVE for writes: what PREPARE
itself takes), held until the batch's transaction ends (well under a second), and ``SET LOCAL
lock_timeout`` bounds every wait. ``concurrency`` batches run at once, each on its own connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import reading_database
from semantik_chunks.domain.hashing import partition_name, validate_partition_count
from semantik_chunks.domain.pruning import (
    ENABLE_HINT,
    StatementPlan,
    StatementStatisticsUnavailableError,
    StatementStats,
    repair_normalised,
    unplannable_reason,
)

LOCK_TIMEOUT_SECONDS = 1.0
# Statements planned per transaction (the locks planning takes are held until it ends), and how many
# such transactions run at once (each on a connection of its own).
BATCH_SIZE = 200
CONCURRENCY = 2
PG_STAT_STATEMENTS = "pg_stat_statements"
# Names chunks or one of its partitions, as a word (``total_chunks`` and ``chunks_count`` do not).
CHUNKS_PATTERN = r"\mchunks(_part_[0-9]+)?\M"

_OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"  # "pg_stat_statements must be loaded via shared_preload_libraries"
_UNDEFINED_TABLE = "42P01"
_FRIENDLY = {
    "55P03": "a lock it needs was held longer than the lock timeout ({seconds:g} s)",
    "42501": "this role may not read a table it uses",
    "42601": "not valid SQL (a damaged or truncated text?)",
}

_READ = """
SELECT queryid, query, calls, total_exec_time, rows
FROM {source}
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ~* :pattern
"""

# The sample value of a parameter type, as SQL: what a call might pass. Never NULL where avoidable
# (``partition_key = NULL`` would prune every partition), never an empty array (``= ANY('{}')`` too).
_SAMPLE_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_sample(type_oid oid) RETURNS text LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  t pg_type;
  value text;
BEGIN
  SELECT * INTO t FROM pg_type WHERE oid = type_oid;
  IF NOT FOUND THEN
    RETURN 'NULL';
  END IF;
  IF t.typcategory = 'A' AND t.typelem <> 0 THEN
    RETURN 'ARRAY[' || pg_temp.semantik_sample(t.typelem) || ']::' || format_type(type_oid, NULL);
  END IF;
  value := CASE
    WHEN type_oid = 'boolean'::regtype THEN 'true'
    WHEN type_oid = 'uuid'::regtype THEN '00000000-0000-0000-0000-000000000001'
    WHEN type_oid IN ('json'::regtype, 'jsonb'::regtype) THEN '{}'
    WHEN type_oid = 'bytea'::regtype THEN '\x00'
    WHEN t.typcategory = 'N' THEN '1'
    WHEN t.typcategory = 'S' THEN 'x'
    WHEN t.typcategory = 'D' THEN 'now'
    WHEN t.typcategory = 'T' THEN '1 hour'
    WHEN t.typcategory = 'I' THEN '127.0.0.1'
    WHEN t.typcategory = 'E' THEN
      (SELECT enumlabel FROM pg_enum WHERE enumtypid = type_oid ORDER BY enumsortorder LIMIT 1)
  END;
  IF value IS NULL THEN
    RETURN 'NULL::' || format_type(type_oid, NULL);
  END IF;
  RETURN quote_literal(value) || '::' || format_type(type_oid, NULL);
END
$fn$
"""

# How many of ``partitions`` the plan of one statement reads as a call would get it, or the error that
# stopped it. The block is a sub-transaction: an error rolls it back (its locks included); a success
# keeps its locks until the batch's transaction ends, so the next statement finds them taken.
# ``Target Tables`` (a ModifyTable's list) are not counted: they are the scans' partitions in a custom
# plan, and every partition in a generic one on PostgreSQL < 18.
_PLAN_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_plan(statement text, partitions text[], OUT reads integer, OUT problem text)
LANGUAGE plpgsql AS $fn$
DECLARE
  arguments text;
  plan text;
BEGIN
  BEGIN
    EXECUTE 'PREPARE semantik_probe AS ' || statement;
    SELECT string_agg(pg_temp.semantik_sample(p.t), ', ' ORDER BY p.n) INTO arguments
      FROM pg_prepared_statements AS ps, unnest(ps.parameter_types::oid[]) WITH ORDINALITY AS p(t, n)
     WHERE ps.name = 'semantik_probe';
    EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) EXECUTE semantik_probe'
            || coalesce('(' || arguments || ')', '') INTO plan;
    plan := regexp_replace(plan, '"Target Tables": \[[^]]*\]', '', 'g');
    SELECT count(DISTINCT m[1]) INTO reads
      FROM regexp_matches(plan, '"Relation Name": "([^"]*)"', 'g') AS m
     WHERE m[1] = ANY(partitions);
  EXCEPTION
    WHEN OTHERS THEN problem := SQLSTATE || ' ' || SQLERRM;
  END;
  -- Prepared statements outlive a rolled-back transaction.
  IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'semantik_probe') THEN
    DEALLOCATE semantik_probe;
  END IF;
END
$fn$
"""

_PLAN_ALL = """
SELECT p.reads, p.problem
FROM unnest(CAST(:statements AS text[])) WITH ORDINALITY AS s(statement, n),
     LATERAL pg_temp.semantik_plan(s.statement, CAST(:partitions AS text[])) AS p
ORDER BY s.n
"""


def _sqlstate(exc: BaseException) -> str | None:
    original = getattr(exc, "orig", None)
    return getattr(original, "sqlstate", None) or getattr(getattr(original, "__cause__", None), "sqlstate", None)


class PostgresStatementStatistics:
    """The ``StatementStatistics`` port over ``pg_stat_statements``.

    ``source`` is the relation read instead of ``pg_stat_statements`` (tests give a table of the
    same columns); ``lock_timeout_seconds`` bounds every lock wait while planning."""

    def __init__(
        self,
        engine_or_url: str | AsyncEngine,
        partition_count: int,
        *,
        lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
        source: str = PG_STAT_STATEMENTS,
        batch_size: int = BATCH_SIZE,
        concurrency: int = CONCURRENCY,
    ) -> None:
        if not source.replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"not a relation name: {source!r}")
        self._engine = create_engine(engine_or_url)
        self._partition_count = validate_partition_count(partition_count)
        self._names = [partition_name(n, partition_count) for n in range(partition_count)]
        self._batch = batch_size
        self._concurrency = concurrency
        self._lock_timeout = lock_timeout_seconds
        self._source = source

    @property
    def partition_count(self) -> int:
        return self._partition_count

    async def chunk_statements(self) -> list[StatementPlan]:
        async with reading_database(), self._engine.connect() as conn:
            try:
                stats = await self._read(conn)
            finally:
                await conn.rollback()
        return await self._plan(stats)

    async def reset(self) -> None:
        """Forget this database's statement statistics (``pg_stat_statements_reset`` for its dbid)."""
        async with reading_database(), self._engine.connect() as conn:
            await self._available(conn)
            await conn.execute(
                text(
                    "SELECT pg_stat_statements_reset(0, "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
                )
            )
            await conn.commit()

    async def _available(self, conn: AsyncConnection) -> None:
        if self._source != PG_STAT_STATEMENTS:
            return
        found = (await conn.execute(text("SELECT to_regclass('pg_stat_statements') IS NOT NULL"))).scalar_one()
        if found:
            return
        loaded = (await conn.execute(text("SELECT current_setting('shared_preload_libraries')"))).scalar_one()
        database = (await conn.execute(text("SELECT current_database()"))).scalar_one()
        if "pg_stat_statements" in loaded:
            raise StatementStatisticsUnavailableError(
                f"pg_stat_statements is loaded but not installed in database {database!r}: "
                "run CREATE EXTENSION pg_stat_statements there"
            )
        raise StatementStatisticsUnavailableError(f"pg_stat_statements is not enabled: {ENABLE_HINT} ({database!r})")

    async def _read(self, conn: AsyncConnection) -> list[StatementStats]:
        await self._available(conn)
        try:
            rows = (await conn.execute(text(_READ.format(source=self._source)), {"pattern": CHUNKS_PATTERN})).all()
        except DBAPIError as exc:
            state = _sqlstate(exc)
            if state == _OBJECT_NOT_IN_PREREQUISITE_STATE:
                raise StatementStatisticsUnavailableError(
                    f"pg_stat_statements is installed but not loaded: {ENABLE_HINT}"
                ) from None
            if state == _UNDEFINED_TABLE:
                raise StatementStatisticsUnavailableError(f"pg_stat_statements is not enabled: {ENABLE_HINT}") from None
            raise
        return [
            StatementStats(
                query_id=queryid, query=query, calls=int(calls), total_time_ms=float(total), rows=int(row_count)
            )
            for queryid, query, calls, total, row_count in rows
        ]

    async def _plan(self, stats: Sequence[StatementStats]) -> list[StatementPlan]:
        problems: dict[str, str] = {}
        texts: dict[str, str] = {}  # what pg_stat_statements shows -> what PREPARE is given
        for s in stats:
            if s.query is None or s.query in texts or s.query in problems:
                continue
            reason = unplannable_reason(s.query)
            if reason is None:
                texts[s.query] = repair_normalised(s.query.strip().rstrip(";"))
            else:
                problems[s.query] = reason
        read = await self._partitions_read(list(dict.fromkeys(texts.values()))) if texts else {}
        plans = []
        for s in stats:
            if s.query is None or s.query in problems:
                plans.append(StatementPlan(s, None, problems.get(s.query or "") or unplannable_reason(s.query)))
                continue
            count, problem = read[texts[s.query]]
            plans.append(StatementPlan(s, count, problem))
        return plans

    async def _partitions_read(self, statements: list[str]) -> dict[str, tuple[int | None, str | None]]:
        batches = [statements[i : i + self._batch] for i in range(0, len(statements), self._batch)]
        gate = asyncio.Semaphore(self._concurrency)
        found = await asyncio.gather(*(self._plan_batch(batch, gate) for batch in batches))
        result: dict[str, tuple[int | None, str | None]] = {}
        for batch, rows in zip(batches, found, strict=True):
            for statement, (reads, problem) in zip(batch, rows, strict=True):
                result[statement] = (None, self._explain_problem(problem)) if reads is None else (reads, None)
        return result

    async def _plan_batch(self, batch: list[str], gate: asyncio.Semaphore) -> Sequence[Any]:
        """Plan ``batch`` in one transaction that is rolled back; its locks last as long as it does."""
        async with gate, reading_database(), self._engine.connect() as conn:
            try:
                await conn.execute(text(f"SET LOCAL lock_timeout = '{int(self._lock_timeout * 1000)}ms'"))
                await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
                await conn.execute(text(_SAMPLE_FUNCTION))
                await conn.execute(text(_PLAN_FUNCTION))
                return (await conn.execute(text(_PLAN_ALL), {"statements": batch, "partitions": self._names})).all()
            finally:
                await conn.rollback()

    def _explain_problem(self, problem: str | None) -> str:
        if problem is None:
            return "PostgreSQL returned no plan"
        state, _, message = problem.partition(" ")
        friendly = _FRIENDLY.get(state)
        if friendly is None:
            return f"PostgreSQL could not plan it: {message} (SQLSTATE {state})"
        return f"{friendly.format(seconds=self._lock_timeout)}: {message} (SQLSTATE {state})"
