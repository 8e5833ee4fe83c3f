"""Statement statistics from ``pg_stat_statements``, with how many partitions each plan reads.

Reading: the rows of ``pg_stat_statements`` for the current database whose text names ``chunks``
or one of its partitions (``chunks_part_NN``), but for the library's own monitoring reads that read every
partition by design (``statistics.LIBRARY_STATEMENTS``: last hour's writes, as the views' reads, which do
not name ``chunks``). pg_stat_statements writes constants as ``$n``.

Planning, never executing: each distinct text is ``PREPARE``d and ``EXPLAIN (FORMAT JSON) EXECUTE``d
with a sample value of each parameter's type (``pg_prepared_statements.parameter_types``) under
``plan_cache_mode = force_custom_plan``, which is the plan a real call gets: the planner prunes with
the values it is given, as it does for a call. (``EXPLAIN (GENERIC_PLAN)`` would list every partition
even for ``partition_key = $2``, because a generic plan prunes at executor start.) A ModifyTable's
``Target Tables`` are not counted: on PostgreSQL < 18 they may list partitions the scans below it
never read.

Statements are planned in batches (``batch_size``), each batch in one transaction that is rolled
back, by a temporary PL/pgSQL function that plans each statement inside a sub-transaction (a
statement that fails is rolled back alone) and returns only the count of partitions read.
``concurrency`` batches run at once, each on its own connection.

By default a statement naming ``chunks`` is planned against a replica of the table made for the
batch (``pg_temp.chunks``: same columns, CHECK constraints, partition key and partitions, no index;
see ``_REPLICA_FUNCTION``), which prunes exactly as the table does, costs the planner less, and takes
no lock on the table; one the replica cannot plan is planned against the table. Locks: ACCESS SHARE
on the table while its definition is copied, and what planning takes for a statement planned on
real tables (ACCESS SHARE for reads, ROW EXCLUSIVE for writes: what PREPARE itself takes), all held
until the batch's transaction ends. ``SET LOCAL lock_timeout`` bounds every wait; after one lock
was not granted in time, the rest of the batch waits at most 10 ms per lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.statistics import LIBRARY_STATEMENTS
from semantik_chunks.domain.concurrency import concurrently
from semantik_chunks.domain.hashing import partition_table_name, validate_partition_count
from semantik_chunks.domain.pruning import (
    ENABLE_HINT,
    StatementPlan,
    StatementStatisticsUnavailableError,
    StatementStats,
    plan_shape,
    repair_normalised,
    unplannable_reason,
)
from semantik_chunks.domain.timeouts import DEFAULT_LOCK_TIMEOUT_MS

# The library's default lock timeout (domain/timeouts.py); the container passes SEMANTIK_LOCK_TIMEOUT_MS.
LOCK_TIMEOUT_SECONDS = DEFAULT_LOCK_TIMEOUT_MS / 1000
# Statements planned per transaction (the locks planning takes are held until it ends), and how many
# such transactions run at once (each on a connection of its own). BATCH_SIZE counts plan shapes, the
# statements explained; the statements of a shape planned already are only prepared, and ride along up
# to STATEMENTS_PER_BATCH: a batch's own cost (the replica: 101 temporary tables) is about 80 ms, so
# batches of 500 cheap statements spent more on that than on the statements (issue 17: 5,000 statements
# of 5 shapes, 1.09 s in batches of 500 against 0.45 s in batches of 2,500; docs/performance.md).
BATCH_SIZE = 500
STATEMENTS_PER_BATCH = 2500
CONCURRENCY = 2
PG_STAT_STATEMENTS = "pg_stat_statements"
TABLE = "chunks"
# Names chunks or one of its partitions, as a word (``total_chunks`` and ``chunks_count`` do not).
CHUNKS_PATTERN = r"\mchunks(_part_[0-9]+)?\M"

_OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"  # "pg_stat_statements must be loaded via shared_preload_libraries"
_UNDEFINED_TABLE = "42P01"
_FRIENDLY = {
    "55P03": "a lock it needs was not granted within the lock timeout ({seconds:g} s; 10 ms after a first one)",
    "42501": "this role may not read a table it uses",
    "42601": "not valid SQL (a damaged or truncated text?)",
}

_READ = """
SELECT queryid, query, calls, total_exec_time, rows
FROM {source}
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query ~* :pattern
  AND query <> ALL(CAST(:library AS text[]))
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

# A replica of the table, for planning only: ``pg_temp.chunks`` with the same columns, defaults,
# CHECK constraints, partition key and partitions (same names, same bounds), and no index. A session
# looks up unqualified names in pg_temp first, so statements naming ``chunks`` or ``chunks_part_07``
# plan against it: pruning depends on the partition key, the bounds and the statement, all the same,
# while planning skips the indexes and statistics of every partition (about half the planner's work on
# a statement reading 100 partitions), and no lock is taken on the real table. It lives in the batch's
# transaction, which is rolled back: it can never outlive it, nor be seen by another session. Copying
# the definition takes ACCESS SHARE on the table for the batch. No replica (False) when the table is
# not a partitioned table of one level, temporary tables are not allowed (a standby) or the table is
# locked: every statement is then planned against the real table.
_REPLICA_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_replica(parent_name text, partitions text[]) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  parent oid := to_regclass(quote_ident(parent_name));
  part record;
BEGIN
  IF parent IS NULL OR (SELECT relkind FROM pg_class WHERE oid = parent) <> 'p'
     OR EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = parent AND c.relkind <> 'r')
     OR (SELECT count(*) FROM pg_inherits WHERE inhparent = parent) <> cardinality(partitions) THEN
    RETURN false;
  END IF;
  BEGIN
    EXECUTE format('CREATE TEMPORARY TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING GENERATED) PARTITION BY %s', parent_name, parent::regclass, pg_get_partkeydef(parent));
    FOR part IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = parent LOOP
      EXECUTE format('CREATE TEMPORARY TABLE %I PARTITION OF pg_temp.%I %s', part.relname, parent_name, part.bound);
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    RETURN false;
  END;
  RETURN true;
END
$fn$
"""

# How many of ``partitions`` the plan of one statement reads as a call would get it; raises what
# stopped it. The relations are those of the plan's nodes (objects with a "Node Type"), found with one
# JSON path; ``Target Tables`` (a ModifyTable's list, objects without a node type) are not counted:
# they are the scans' partitions in a custom plan, and every partition in a generic one on PostgreSQL
# < 18. (It replaced two regular expressions over the plan's text, the same answers 10 % faster: 1,000
# statements of distinct shapes, 1.33 -> 1.20 s median, alternated; issue 17, docs/performance.md.)
# With ``explain`` false the statement is only prepared (is it valid here?) and NULL is returned.
_PLAN_ONCE_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_plan_once(statement text, partitions text[], explain boolean) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  arguments text;
  plan json;
  reads integer;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'semantik_probe') THEN
    DEALLOCATE semantik_probe;
  END IF;
  EXECUTE 'PREPARE semantik_probe AS ' || statement;
  IF NOT explain THEN
    DEALLOCATE semantik_probe;
    RETURN NULL;
  END IF;
  SELECT string_agg(pg_temp.semantik_sample(p.t), ', ' ORDER BY p.n) INTO arguments
    FROM pg_prepared_statements AS ps, unnest(ps.parameter_types::oid[]) WITH ORDINALITY AS p(t, n)
   WHERE ps.name = 'semantik_probe';
  EXECUTE 'EXPLAIN (COSTS OFF, FORMAT JSON) EXECUTE semantik_probe'
          || coalesce('(' || arguments || ')', '') INTO plan;
  DEALLOCATE semantik_probe;
  SELECT count(DISTINCT r.name) INTO reads
    FROM jsonb_path_query(plan::jsonb, 'lax $.** ? (exists(@."Node Type"))."Relation Name"') AS found(name_json),
         LATERAL (SELECT found.name_json #>> '{}' AS name) AS r
   WHERE r.name = ANY(partitions);
  RETURN reads;
END
$fn$
"""

# One statement: against the replica (if there is one), and if that fails (a statement the replica
# cannot plan, e.g. ON CONFLICT needs a unique index it lacks) against the real table, with pg_temp
# searched last. Each attempt is a sub-transaction: an error rolls it back, its locks and its
# search_path included; a success keeps its locks until the batch's transaction ends.
_PLAN_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_plan(statement text, partitions text[], replica boolean, explain boolean,
                                      OUT reads integer, OUT problem text)
LANGUAGE plpgsql AS $fn$
DECLARE
  search_path text := current_setting('search_path');
BEGIN
  IF replica THEN
    BEGIN
      reads := pg_temp.semantik_plan_once(statement, partitions, explain);
      RETURN;
    EXCEPTION WHEN OTHERS THEN
      IF SQLSTATE = '55P03' THEN
        problem := SQLSTATE || ' ' || SQLERRM;
      END IF;  -- else planned against the real table below, which says what is wrong if anything is
    END;
  END IF;
  IF problem IS NULL THEN
    BEGIN
      IF replica THEN
        PERFORM set_config('search_path', search_path || ', pg_temp', true);
      END IF;
      reads := pg_temp.semantik_plan_once(statement, partitions, explain);
      IF replica THEN
        PERFORM set_config('search_path', search_path, true);
      END IF;
    EXCEPTION WHEN OTHERS THEN
      problem := SQLSTATE || ' ' || SQLERRM;
    END;
  END IF;
  IF problem LIKE '55P03 %' THEN
    -- A lock was not granted in time: the rest of the batch waits at most 10 ms per lock.
    PERFORM set_config('lock_timeout', '10ms', true);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'semantik_probe') THEN
    DEALLOCATE semantik_probe;  -- prepared statements outlive a rolled-back transaction
  END IF;
END
$fn$
"""

# Every statement of a batch in order. ``shapes[i]`` numbers the plan shape of ``statements[i]``
# (``domain.pruning.plan_shape``): the first statement of a shape that plans is explained, the others
# of that shape are only prepared (each is valid or says why not) and read what it reads. Preparing
# costs a small part of planning a statement over 100 partitions and explaining it (issue 17,
# docs/performance.md).
_PLAN_ALL_FUNCTION = r"""
CREATE FUNCTION pg_temp.semantik_plan_all(statements text[], shapes integer[], partitions text[], replica boolean)
RETURNS TABLE(n integer, reads integer, problem text)
LANGUAGE plpgsql AS $fn$
DECLARE
  known integer[] := '{}';  -- partitions read by the shape of that number, once planned
  found record;
BEGIN
  FOR i IN 1 .. coalesce(cardinality(statements), 0) LOOP
    n := i;
    IF known[shapes[i]] IS NOT NULL THEN
      SELECT * INTO found FROM pg_temp.semantik_plan(statements[i], partitions, replica, false);
      reads := CASE WHEN found.problem IS NULL THEN known[shapes[i]] END;
    ELSE
      SELECT * INTO found FROM pg_temp.semantik_plan(statements[i], partitions, replica, true);
      reads := found.reads;
      IF reads IS NOT NULL THEN
        known[shapes[i]] := reads;
      END IF;
    END IF;
    problem := found.problem;
    RETURN NEXT;
  END LOOP;
END
$fn$
"""

_PLAN_ALL = """
SELECT p.reads, p.problem
FROM pg_temp.semantik_plan_all(CAST(:statements AS text[]), CAST(:shapes AS integer[]),
                               CAST(:partitions AS text[]), :replica) AS p
ORDER BY p.n
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
        statements_per_batch: int = STATEMENTS_PER_BATCH,
        concurrency: int = CONCURRENCY,
        replica: bool = True,
    ) -> None:
        if not source.replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"not a relation name: {source!r}")
        self._engine = create_engine(engine_or_url)
        self._partition_count = validate_partition_count(partition_count)
        self._names = [partition_table_name(n, partition_count) for n in range(partition_count)]
        self._batch = batch_size
        self._batch_statements = max(batch_size, statements_per_batch)
        self._concurrency = concurrency
        self._replica = replica
        self._lock_timeout = lock_timeout_seconds
        self._source = source

    @property
    def partition_count(self) -> int:
        return self._partition_count

    @property
    def lock_timeout_seconds(self) -> float:
        """The longest planning waits for any one lock (0: no bound)."""
        return self._lock_timeout

    async def chunk_statements(self) -> list[StatementPlan]:
        async with database_errors(), self._engine.connect() as conn:
            try:
                stats = await self._read(conn)
            finally:
                await conn.rollback()
        return await self._plan(stats)

    async def reset(self) -> None:
        """Forget this database's statement statistics (``pg_stat_statements_reset`` for its dbid)."""
        async with database_errors(), self._engine.connect() as conn:
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
            rows = (
                await conn.execute(
                    text(_READ.format(source=self._source)),
                    {"pattern": CHUNKS_PATTERN, "library": list(LIBRARY_STATEMENTS)},
                )
            ).all()
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
        # Statements of one plan shape next to each other, so that a batch plans each shape once.
        shapes = {statement: plan_shape(statement) for statement in statements}
        first_seen = {shape: i for i, shape in reversed(list(enumerate(shapes.values())))}
        statements = sorted(statements, key=lambda statement: first_seen[shapes[statement]])
        batches: list[list[str]] = []
        batch_shapes: set[str] = set()
        for statement in statements:
            shape = shapes[statement]
            new_shape = shape not in batch_shapes
            if (
                not batches
                or len(batches[-1]) == self._batch_statements
                or (new_shape and len(batch_shapes) == self._batch)
            ):
                batches.append([])
                batch_shapes = set()
            batches[-1].append(statement)
            batch_shapes.add(shape)
        gate = asyncio.Semaphore(self._concurrency)
        # A failed batch cancels the others (their transactions end) before its error goes on.
        found = await concurrently(*(self._plan_batch(batch, gate) for batch in batches))
        result: dict[str, tuple[int | None, str | None]] = {}
        for batch, rows in zip(batches, found, strict=True):
            for statement, (reads, problem) in zip(batch, rows, strict=True):
                result[statement] = (None, self._explain_problem(problem)) if reads is None else (reads, None)
        return result

    async def _plan_batch(self, batch: list[str], gate: asyncio.Semaphore) -> Sequence[Any]:
        """Plan ``batch`` in one transaction that is rolled back; its locks last as long as it does."""
        async with gate, database_errors(), self._engine.connect() as conn:
            try:
                await conn.execute(text(f"SET LOCAL lock_timeout = '{int(self._lock_timeout * 1000)}ms'"))
                await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
                for function in (
                    _SAMPLE_FUNCTION,
                    _REPLICA_FUNCTION,
                    _PLAN_ONCE_FUNCTION,
                    _PLAN_FUNCTION,
                    _PLAN_ALL_FUNCTION,
                ):
                    await conn.execute(text(function))
                replica = (
                    self._replica
                    and (
                        await conn.execute(
                            text("SELECT pg_temp.semantik_replica(:parent, :partitions)"),
                            {"parent": TABLE, "partitions": self._names},
                        )
                    ).scalar_one()
                )
                numbers: dict[str, int] = {}
                shapes = [numbers.setdefault(plan_shape(statement), len(numbers) + 1) for statement in batch]
                parameters = {"statements": batch, "shapes": shapes, "partitions": self._names, "replica": replica}
                return (await conn.execute(text(_PLAN_ALL), parameters)).all()
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
