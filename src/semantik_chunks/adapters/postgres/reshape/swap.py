"""After the copy, shared by reshape and isolate: the index phase (the primary key and indexes built
once the rows are in, resumable), the one short swap transaction with its retries and its figures, the
``Stopwatch`` that logs where a swap's time goes, and ``drop_old``, which drops the old table and the
capture once the swap has committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres.reshape.capture import Mover, drop_capture
from semantik_chunks.adapters.postgres.reshape.catalog import parent_indexes, reset_autovacuum
from semantik_chunks.adapters.postgres.reshape.session import with_lock_retry
from semantik_chunks.adapters.postgres.reshape.state import CURSORS, RUNS, Hooks, Run, quote_ident, set_phase


def drop_partial_indexes(bind: Connection, root: str) -> None:
    """The indexes (all but primary keys) an interrupted index phase left under ``root``."""
    for index in bind.execute(
        text(
            """WITH tree AS (SELECT relid FROM pg_partition_tree(to_regclass(:root))
                            UNION SELECT to_regclass(:root))
               SELECT x.indexrelid::regclass::text FROM pg_index x JOIN tree ON tree.relid = x.indrelid
               WHERE NOT x.indisprimary AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"""
        ),
        {"root": quote_ident(root)},
    ).scalars():
        bind.execute(text(f"DROP INDEX IF EXISTS {index}"))
    bind.commit()


def add_primary_key(bind: Connection, table: str, name: str | None = None) -> None:
    """``chunks``' primary key on ``table`` (for a partitioned one, on each of its partitions too), unless it
    has one (an index phase killed after it)."""
    if bind.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass(:t) AND indisprimary)"),
        {"t": quote_ident(table)},
    ).scalar_one():
        return
    for _index, definition, primary in parent_indexes(bind, "chunks"):
        if primary:
            columns_sql = definition[definition.index(" USING ") :]
            columns_sql = columns_sql[columns_sql.index("(") :]
            constraint = f"CONSTRAINT {quote_ident(name)} " if name else ""
            bind.execute(text(f"ALTER TABLE {quote_ident(table)} ADD {constraint}PRIMARY KEY {columns_sql}"))
    bind.commit()


def index_phase(bind: Connection, run: Run, root: str, build: Callable[[], None]) -> tuple[Run, float]:
    """After the copy: build the indexes (resumable: a killed phase's partial indexes are dropped and
    built again). Returns the run and the seconds it took."""
    if run.phase not in ("copied", "indexing"):
        return run, 0.0
    run = set_phase(bind, run, "indexing")
    drop_partial_indexes(bind, root)
    started = time.perf_counter()
    build()
    took = time.perf_counter() - started
    bind.execute(text(f"UPDATE {RUNS} SET copy_seconds = copy_seconds + {took!r} WHERE id = {run.id}"))
    return set_phase(bind, run, "indexed"), took


def swap_and_finish(
    bind: Connection, run: Run, mover: Mover, hooks: Hooks, swap: Callable[[], None], what: str, root: str
) -> tuple[int, float]:
    """The one short swap transaction (retried while a lock is not granted in time, catching up between
    attempts), then the end of the run: its figures recorded, its cursors and the old table dropped,
    autovacuum back on under ``root``. Returns the attempts and the seconds the swap took."""
    if hooks.before_swap is not None:
        hooks.before_swap()
    mover.report("swapping")
    swap_started = time.perf_counter()
    attempts = with_lock_retry(bind, swap, what, between=lambda: mover.catch_up(bind))
    swap_seconds = time.perf_counter() - swap_started
    bind.execute(
        text(f"UPDATE {RUNS} SET swap_attempts = {attempts}, swap_seconds = {swap_seconds!r} WHERE id = {run.id}")
    )
    bind.execute(text(f"DELETE FROM {CURSORS} WHERE run_id = {run.id}"))
    bind.commit()
    drop_old(bind)
    reset_autovacuum(bind, root)
    if hooks.after_swap is not None:
        hooks.after_swap()
    return attempts, swap_seconds


class Stopwatch:
    """Where the swap's time goes (logged)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._steps: list[str] = []

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self._steps.append(f"{step} {1000 * (now - self._last):.0f} ms")
        self._last = now

    def report(self) -> str:
        return ", ".join(self._steps)


def drop_old(bind: Connection) -> None:
    """After a swap (or at the start of the next run, if a kill came between): the old table, the
    capture's log and functions. Nothing reads the old table any more."""

    def work() -> None:
        for name in bind.execute(
            text(
                """SELECT relname FROM pg_class WHERE relname LIKE 'rs\\_old\\_%' AND relkind IN ('r', 'p')
                   AND NOT relispartition AND relnamespace = 'public'::regnamespace"""
            )
        ).scalars():
            bind.execute(text(f"DROP TABLE IF EXISTS {quote_ident(name)}"))
        drop_capture(bind, None)

    with_lock_retry(bind, work, "dropping the old table", between=lambda: None)
