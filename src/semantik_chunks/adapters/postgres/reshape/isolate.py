"""Isolating a collection: its partition rebuilt, online, as sub-partitions (docs/reshape.md).

``chunks_part_07`` becomes ``PARTITION BY LIST (collection_id)`` with a sub-partition of its own for
each isolated collection (``chunks_part_07_c<hash>``, itself ``PARTITION BY HASH (id)`` into K parts
with ``--split-documents K``) and ``chunks_part_07_default`` for its neighbours. The top-level
routing and the CHECK do not change: ``partition_key`` stays what it was, and a query naming the
collection and its key prunes to the collection's own sub-partition.

Why HASH on ``id`` and not on ``document_id``: PostgreSQL requires a partitioned table's primary key
to contain every partitioning column, and the host's key is ``(id, collection_id, partition_key)``.
Hashing ``id`` splits the collection into K tables of equal size (what vacuum and index builds need);
a document's chunks are spread over the K parts, each read through its ``document_id`` index.

The same machinery as a reshape (``partitions.py``; both build on ``capture.py`` and ``swap.py``):
build beside, capture, copy, catch up, then one short swap that detaches the old partition, attaches
the new one (without a scan: a CHECK on the partition key proves its rows belong) and renames.
``release`` rebuilds the partition without the collection's sub-partition (plain again when no
isolated collection is left there).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres import schema
from semantik_chunks.adapters.postgres.monitoring_sql import ISOLATED_QUERY
from semantik_chunks.adapters.postgres.reshape.capture import Mover, copy_objects_onto, install_capture
from semantik_chunks.adapters.postgres.reshape.catalog import (
    Namer,
    add_partition_foreign_keys,
    add_partition_unique_keys,
    columns,
    foreign_keys,
    partition_index_templates,
    preflight,
    rename_to_final,
    stored_partition_keys,
)
from semantik_chunks.adapters.postgres.reshape.session import with_lock_retry
from semantik_chunks.adapters.postgres.reshape.state import (
    CURSORS,
    NAMES,
    NO_AUTOVACUUM,
    RUNS,
    Hooks,
    Progress,
    Run,
    database_partition_count,
    quote_ident,
    relation_exists,
    reload_run,
    set_phase,
    unfinished_run,
)
from semantik_chunks.adapters.postgres.reshape.swap import Stopwatch, add_primary_key, index_phase, swap_and_finish
from semantik_chunks.domain.hashing import partition_for, partition_table_name
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import ReshapeError, ReshapeOutcome, isolated_name

logger = logging.getLogger(__name__)

# A CHECK on the new partition that proves every row belongs to it, so ATTACH PARTITION skips its scan.
BOUND_CHECK = "semantik_chunks_partition_bound"


def isolated_collections(bind: Connection) -> list[IsolatedCollection]:
    """From the catalog: every sub-partition of a partition of ``chunks`` bound to one collection."""
    if not relation_exists(bind, "partition_isolated_collections"):
        return []
    return [
        IsolatedCollection(cid, int(num), sub, int(parts), int(rows), int(size))
        for cid, num, sub, parts, rows, size in bind.execute(text(ISOLATED_QUERY)).all()
    ]


def _layout(bind: Connection, partition_num: int) -> list[tuple[str, str, int]]:
    """``(collection_id, sub_partition, parts)`` isolated in the partition today."""
    return [
        (c.collection_id, c.sub_partition, c.parts)
        for c in isolated_collections(bind)
        if c.partition_num == partition_num
    ]


def _build(bind: Connection, run: Run, partition_num: int, layout: list[tuple[str, int]]) -> str:
    """The partition's next version beside it, empty: sub-partitioned for ``layout`` (collection, parts),
    plain when it is empty. Returns its (temporary) name."""
    n = run.from_count
    final = partition_table_name(partition_num, n)
    name = Namer(bind, run.id)
    new = name(final)
    partitioned = " PARTITION BY LIST (collection_id)" if layout else ""
    storage = "" if layout else f" {NO_AUTOVACUUM}"
    bind.execute(
        text(f"CREATE TABLE {quote_ident(new)} (LIKE chunks INCLUDING ALL EXCLUDING INDEXES){partitioned}{storage}")
    )
    bind.execute(
        text(f"ALTER TABLE {quote_ident(new)} ADD CONSTRAINT {BOUND_CHECK} CHECK (partition_key = {partition_num})")
    )
    for constraint, definition in foreign_keys(bind):
        bind.execute(text(f"ALTER TABLE {quote_ident(new)} ADD CONSTRAINT {quote_ident(constraint)} {definition}"))
    add_partition_foreign_keys(bind, stored_partition_keys(bind), new, final)
    for collection_id, parts in layout:
        sub = name(isolated_name(final, collection_id))
        value = bind.execute(text("SELECT quote_literal(CAST(:c AS text))"), {"c": collection_id}).scalar_one()
        by_hash = " PARTITION BY HASH (id)" if parts > 1 else f" {NO_AUTOVACUUM}"
        bind.execute(
            text(f"CREATE TABLE {quote_ident(sub)} PARTITION OF {quote_ident(new)} FOR VALUES IN ({value}){by_hash}")
        )
        for i in range(parts if parts > 1 else 0):
            piece = name(f"{isolated_name(final, collection_id)}_p{i}")
            bind.execute(
                text(
                    f"CREATE TABLE {quote_ident(piece)} PARTITION OF {quote_ident(sub)} "
                    f"FOR VALUES WITH (MODULUS {parts}, REMAINDER {i}) {NO_AUTOVACUUM}"
                )
            )
    if layout:
        default = name(f"{final}_default")
        bind.execute(
            text(f"CREATE TABLE {quote_ident(default)} PARTITION OF {quote_ident(new)} DEFAULT {NO_AUTOVACUUM}")
        )
    # Its primary key and indexes are built after the copy (build_indexes).
    return new


def build_indexes(bind: Connection, run: Run, final: str, new: str) -> None:
    """The old partition's indexes on the new one (recursing into its sub-partitions): ATTACH then finds
    every index the parent's indexes need."""
    name = Namer(bind, run.id)
    add_primary_key(bind, new)
    add_partition_unique_keys(bind, stored_partition_keys(bind), new, final, name)
    for template in partition_index_templates(bind, [final]):
        index = "" if template.name is None else quote_ident(name(template.name.replace("{table}", final, 1)))
        bind.execute(text(template.render(index, quote_ident(new))))
    bind.commit()


def _swap(bind: Connection, run: Run, mover: Mover, partition_num: int, new: str) -> None:
    final = partition_table_name(partition_num, run.from_count)
    took = Stopwatch()
    # The parent only (every writer locks it first), then the partition that is replaced (DETACH needs it).
    bind.execute(text("LOCK TABLE ONLY chunks IN ACCESS EXCLUSIVE MODE"))
    bind.execute(text(f"LOCK TABLE {quote_ident(final)} IN ACCESS EXCLUSIVE MODE"))
    took("locks")
    mover.replay_all(bind)
    took("replay")
    copy_objects_onto(bind, final, new)
    bind.execute(text(f"ALTER TABLE chunks DETACH PARTITION {quote_ident(final)}"))
    took("detach")
    rename_to_final(bind, run.id, final)
    took("renames")
    bind.execute(text(f"ALTER TABLE chunks ATTACH PARTITION {quote_ident(final)} FOR VALUES IN ({partition_num})"))
    took("attach")
    bind.execute(text(f"ALTER TABLE {quote_ident(final)} DROP CONSTRAINT {BOUND_CHECK}"))
    bind.execute(text(f"UPDATE {RUNS} SET phase = 'done', finished_at = now() WHERE id = {run.id}"))
    took("check")
    logger.info("swap: %s", took.report())


def _run(
    bind: Connection,
    kind: str,
    collection_id: str,
    parts: int,
    batch_size: int,
    progress: Progress | None,
    hooks: Hooks,
) -> ReshapeOutcome:
    started = time.perf_counter()
    run = unfinished_run(bind)
    resumed = run is not None
    n = database_partition_count(bind)
    partition_num = partition_for(collection_id, n)
    if run is None:
        preflight(bind, partition_num)
        current = _layout(bind, partition_num)
        mine = [c for c in current if c[0] == collection_id]
        if kind == "isolate" and mine:
            raise ReshapeError(f"collection {collection_id!r} is isolated already (sub-partition {mine[0][1]})")
        if kind == "release" and not mine:
            raise ReshapeError(f"collection {collection_id!r} is not isolated; there is nothing to undo")
        layout = [(cid, p) for cid, _, p in current if cid != collection_id]
        if kind == "isolate":
            layout.append((collection_id, parts))
        run_id = bind.execute(
            text(
                f"""INSERT INTO {RUNS} (kind, from_count, to_count, collection_id, parts, phase)
                    VALUES (:kind, {n}, {n}, :cid, {parts}, 'building') RETURNING id"""
            ),
            {"kind": kind, "cid": collection_id},
        ).scalar_one()
        run = reload_run(bind, run_id)
        _build(bind, run, partition_num, sorted(layout))
        bind.execute(text(f"INSERT INTO {CURSORS} (run_id, source) VALUES ({run.id}, {partition_num})"))
        run = set_phase(bind, run, "built")
    elif run.kind != kind or run.collection_id != collection_id or (kind == "isolate" and run.parts != parts):
        raise ReshapeError(f"an unfinished `{run.pending().describe()}` is in progress; run that command again")
    final = partition_table_name(partition_num, n)
    new = bind.execute(
        text(f"SELECT temp_name FROM {NAMES} WHERE run_id = {run.id} AND final_name = :f"), {"f": final}
    ).scalar_one()
    mover = Mover(
        run=run,
        target=new,
        key_sql="c.partition_key",
        new_key=lambda _c: partition_num,
        old_key=lambda _c: partition_num,
        columns=columns(bind),
        batch_size=batch_size,
        progress=progress,
        hooks=hooks,
    )
    mover.expected_rows = int(
        bind.execute(text(f"SELECT count(*) FROM chunks WHERE partition_key = {partition_num}")).scalar_one()
    )
    bind.commit()
    if run.phase == "built":
        with_lock_retry(
            bind, lambda: install_capture(bind, final), "installing the change capture", between=lambda: None
        )
        run = set_phase(bind, run, "copying")
    if run.phase == "copying":
        mover.copy_all(bind)
        run = set_phase(bind, run, "copied")
    copied = run
    run, indexing = index_phase(bind, run, new, lambda: build_indexes(bind, copied, final, new))
    mover.copy_seconds += indexing
    mover.catch_up(bind)
    swap = swap_and_finish(
        bind,
        run,
        mover,
        hooks,
        lambda: _swap(bind, run, mover, partition_num, new),
        "swapping in the new partition",
        final,
    )
    return mover.outcome(
        kind, n, n, started=started, swap=swap, resumed=resumed, collection_id=collection_id, split_parts=parts
    )


def run_isolation(
    bind: Connection, collection_id: str, parts: int, batch_size: int, progress: Progress | None, hooks: Hooks
) -> ReshapeOutcome:
    return _run(bind, "isolate", collection_id, parts, batch_size, progress, hooks)


def run_release(
    bind: Connection, collection_id: str, batch_size: int, progress: Progress | None, hooks: Hooks
) -> ReshapeOutcome:
    return _run(bind, "release", collection_id, 1, batch_size, progress, hooks)


__all__ = ["isolated_collections", "run_isolation", "run_release", "schema"]
