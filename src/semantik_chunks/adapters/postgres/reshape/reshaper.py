"""``PostgresTableReshaper``, the ``TableReshaper`` port on PostgreSQL. Each change runs in one session
under the run lock: ``reshape`` takes a new partition count through its phases (build, capture, copy,
indexes, catch up, swap), resuming a killed run where it stopped; ``isolate`` and ``release`` hand over
to ``isolate.py``; ``abandon`` drops what an unfinished run built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import monitoring_sql, schema
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.adapters.postgres.reshape import isolate
from semantik_chunks.adapters.postgres.reshape.capture import Mover, drop_capture, install_capture
from semantik_chunks.adapters.postgres.reshape.catalog import (
    collection_footprints,
    columns,
    preflight,
    relkind,
    sub_partitioned,
)
from semantik_chunks.adapters.postgres.reshape.partitions import (
    build_new_table,
    build_reshape_indexes,
    swap_reshape,
)
from semantik_chunks.adapters.postgres.reshape.session import (
    prepare_session,
    release_run_lock,
    take_run_lock,
    with_lock_retry,
)
from semantik_chunks.adapters.postgres.reshape.state import (
    CURSORS,
    NEW_TABLE,
    NEXT_STATS,
    RUNS,
    TEMP_PREFIX,
    Hooks,
    Progress,
    Run,
    database_partition_count,
    ensure_state_tables,
    quote_ident,
    relation_exists,
    reload_run,
    set_phase,
    unfinished_run,
)
from semantik_chunks.adapters.postgres.reshape.swap import drop_old, index_phase, swap_and_finish
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import partition_for, partition_table_name, validate_partition_count
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import (
    CollectionFootprint,
    PendingChange,
    ReshapeError,
    ReshapeOutcome,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)


DEFAULT_BATCH_SIZE = 10_000


def _abandon_build(bind: Connection, run: Run) -> None:
    """Drop what an unfinished run built; ``chunks`` is as it was (the swap never ran)."""

    def work() -> None:
        source = (
            "chunks" if run.kind == "partitions" else partition_table_name(_isolated_partition(run), run.from_count)
        )
        drop_capture(bind, source)
        for name in (NEW_TABLE, NEXT_STATS, TEMP_PREFIX + source):
            kind = relkind(bind, name)
            if kind is not None:
                what = "MATERIALIZED VIEW" if kind == "m" else "TABLE"
                bind.execute(text(f"DROP {what} {quote_ident(name)}"))
        bind.execute(text(f"DELETE FROM {RUNS} WHERE id = {run.id}"))

    with_lock_retry(bind, work, "abandon", between=lambda: None)


def _isolated_partition(run: Run) -> int:
    assert run.collection_id is not None
    return partition_for(run.collection_id, run.from_count)


class PostgresTableReshaper:
    """The ``TableReshaper`` port on PostgreSQL. ``engine`` is a host's ``AsyncEngine`` or a URL."""

    def __init__(
        self,
        engine: AsyncEngine | str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        hooks: Hooks | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch size must be at least 1, got {batch_size}")
        self._engine = create_engine(engine)
        self._batch_size = batch_size
        self.hooks = hooks or Hooks()

    async def _read(self, work: Callable[[Connection], T]) -> T:
        async with database_errors(), self._engine.connect() as conn:
            return await conn.run_sync(work)

    async def _change(self, work: Callable[[Connection], T]) -> T:
        async with database_errors(), self._engine.connect() as conn:
            return await conn.run_sync(self._locked, work)

    @staticmethod
    def _locked(bind: Connection, work: Callable[[Connection], T]) -> T:
        prepare_session(bind)
        take_run_lock(bind)
        try:
            ensure_state_tables(bind)
            if unfinished_run(bind) is None:
                drop_old(bind)  # a run killed between its swap and its cleanup
            return work(bind)
        finally:
            release_run_lock(bind)

    async def current_partition_count(self) -> int:
        return await self._read(database_partition_count)

    async def collection_footprints(self) -> list[CollectionFootprint]:
        return await self._read(collection_footprints)

    async def collection_exists(self, collection_id: str) -> bool:
        def exists(bind: Connection) -> bool:
            return bool(
                bind.execute(
                    text("SELECT EXISTS (SELECT 1 FROM collections WHERE id = :c)"), {"c": collection_id}
                ).scalar_one()
            )

        return await self._read(exists)

    async def isolated_collections(self) -> list[IsolatedCollection]:
        return await self._read(isolate.isolated_collections)

    async def move_rate(self) -> float | None:
        def rate(bind: Connection) -> float | None:
            if not relation_exists(bind, RUNS):
                return None
            value = bind.execute(
                text(
                    f"""SELECT rows_copied / copy_seconds FROM {RUNS}
                        WHERE phase = 'done' AND copy_seconds > 0 AND rows_copied >= 10000
                        ORDER BY id DESC LIMIT 1"""
                )
            ).scalar_one_or_none()
            return None if value is None else float(value)

        return await self._read(rate)

    async def pending(self) -> PendingChange | None:
        def find(bind: Connection) -> PendingChange | None:
            run = unfinished_run(bind)
            return None if run is None else run.pending()

        return await self._read(find)

    async def previous_count(self) -> int | None:
        def previous(bind: Connection) -> int | None:
            if not relation_exists(bind, RUNS):
                return None
            value = bind.execute(
                text(
                    f"""SELECT from_count FROM {RUNS} WHERE kind = 'partitions' AND phase = 'done'
                        ORDER BY id DESC LIMIT 1"""
                )
            ).scalar_one_or_none()
            return None if value is None else int(value)

        return await self._read(previous)

    async def abandon(self) -> PendingChange | None:
        def abandon(bind: Connection) -> PendingChange | None:
            run = unfinished_run(bind)
            if run is None:
                return None
            _abandon_build(bind, run)
            return run.pending()

        return await self._change(abandon)

    async def reshape(self, target: int, progress: Progress | None = None) -> ReshapeOutcome:
        return await self._change(lambda bind: self._reshape(bind, target, progress))

    async def isolate(self, collection_id: str, parts: int, progress: Progress | None = None) -> ReshapeOutcome:
        return await self._change(
            lambda bind: isolate.run_isolation(bind, collection_id, parts, self._batch_size, progress, self.hooks)
        )

    async def release(self, collection_id: str, progress: Progress | None = None) -> ReshapeOutcome:
        return await self._change(
            lambda bind: isolate.run_release(bind, collection_id, self._batch_size, progress, self.hooks)
        )

    # -- reshape ---------------------------------------------------------------------------------

    def _reshape(self, bind: Connection, target: int, progress: Progress | None) -> ReshapeOutcome:
        started = time.perf_counter()
        validate_partition_count(target)
        run = unfinished_run(bind)
        resumed = run is not None
        if run is None:
            current = database_partition_count(bind)
            if current == target:
                return ReshapeOutcome("partitions", current, target, noop=True)
            preflight(bind)
            isolated = sub_partitioned(bind)
            if isolated:
                raise ReshapeError(
                    f"partitions {', '.join(isolated)} are sub-partitioned (isolated collections); undo those "
                    "first with `semantik-chunks isolate COLLECTION_ID --undo`"
                )
            run_id = bind.execute(
                text(
                    f"""INSERT INTO {RUNS} (kind, from_count, to_count, phase)
                        VALUES ('partitions', {current}, {target}, 'building') RETURNING id"""
                )
            ).scalar_one()
            run = reload_run(bind, run_id)
            build_new_table(bind, run)
            bind.execute(
                text(
                    f"INSERT INTO {CURSORS} (run_id, source) "
                    f"SELECT {run.id}, s FROM generate_series(0, {current - 1}) AS s"
                )
            )
            run = set_phase(bind, run, "built")  # commits the build with its run: all or nothing
        elif run.kind != "partitions" or run.to_count != target:
            raise ReshapeError(
                f"an unfinished `{run.pending().describe()}` is in progress; run that command again to finish it, "
                "or `semantik-chunks reshape --undo` to abandon it"
            )
        n, m = run.from_count, run.to_count
        mover = Mover(
            run=run,
            target=NEW_TABLE,
            key_sql=f"{schema.partition_key_expression('c.collection_id', m)} AS partition_key",
            new_key=lambda c: partition_for(c, m),
            old_key=lambda c: partition_for(c, n),
            columns=columns(bind),
            batch_size=self._batch_size,
            progress=progress,
            hooks=self.hooks,
        )
        mover.expected_rows = int(
            bind.execute(
                text(
                    "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class WHERE oid IN "
                    "(SELECT relid FROM pg_partition_tree('chunks') WHERE isleaf)"
                )
            ).scalar_one()
        )
        bind.commit()
        if run.phase == "built":
            with_lock_retry(
                bind, lambda: install_capture(bind, "chunks"), "installing the change capture", between=lambda: None
            )
            run = set_phase(bind, run, "copying")
        if run.phase == "copying":
            mover.copy_all(bind)
            run = set_phase(bind, run, "copied")
        copied = run
        run, indexing = index_phase(bind, run, NEW_TABLE, lambda: build_reshape_indexes(bind, copied))
        mover.copy_seconds += indexing
        with_monitoring = relation_exists(bind, "partition_stats")
        mover.catch_up(bind)
        if with_monitoring and not relation_exists(bind, NEXT_STATS):
            for statement in monitoring_sql.collection_stats_matview(NEW_TABLE, NEXT_STATS):
                bind.execute(text(statement))
            bind.commit()
        mover.catch_up(bind)
        swap = swap_and_finish(
            bind,
            run,
            mover,
            self.hooks,
            lambda: swap_reshape(bind, run, mover, with_monitoring),
            "swapping in the new table",
            "chunks",
        )
        if with_monitoring:
            # The stats built beside the old table carry old partition numbers until refreshed.
            bind.execute(text("SELECT refresh_collection_chunking_stats()"))
            bind.commit()
        mover.report("done")
        logger.info("reshaped chunks from %d to %d partitions: %d rows copied", n, m, mover.rows_copied)
        return mover.outcome("partitions", n, m, started=started, swap=swap, resumed=resumed)
