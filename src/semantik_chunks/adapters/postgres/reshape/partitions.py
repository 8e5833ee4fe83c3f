"""Reshape, a new partition count: ``rs_chunks`` built beside ``chunks`` with M partitions, empty; its
indexes built after the copy, named after the new partitions; and the swap transaction that puts it in
the old table's place (the host's triggers, grants, views and the id sequence moved over, the routing
functions and the monitoring views rewritten for M).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres import monitoring_sql, schema
from semantik_chunks.adapters.postgres.reshape.capture import Mover, copy_objects_onto
from semantik_chunks.adapters.postgres.reshape.catalog import (
    Namer,
    add_partition_foreign_keys,
    add_partition_unique_keys,
    create_host_views,
    drop_host_views,
    foreign_keys,
    host_views,
    parent_indexes,
    partition_index_templates,
    rename_to_final,
    stored_partition_keys,
)
from semantik_chunks.adapters.postgres.reshape.state import (
    NAMES,
    NEW_TABLE,
    NEXT_STATS,
    NO_AUTOVACUUM,
    OLD_PREFIX,
    RUNS,
    Run,
    quote_ident,
    relation_exists,
)
from semantik_chunks.adapters.postgres.reshape.swap import Stopwatch, add_primary_key
from semantik_chunks.domain.hashing import partition_table_name

logger = logging.getLogger(__name__)


def build_new_table(bind: Connection, run: Run) -> None:
    """``rs_chunks`` with M partitions: columns, defaults, CHECKs (the partition CHECK for M), NOT
    NULLs, comments, storage as ``chunks`` has them; its foreign keys and primary key; empty."""
    m = run.to_count
    name = Namer(bind, run.id)
    bind.execute(
        text(f"INSERT INTO {NAMES} (run_id, temp_name, final_name) VALUES ({run.id}, '{NEW_TABLE}', 'chunks')")
    )
    bind.execute(
        text(
            f"CREATE TABLE {NEW_TABLE} (LIKE chunks INCLUDING ALL EXCLUDING INDEXES) PARTITION BY LIST (partition_key)"
        )
    )
    bind.execute(text(f"ALTER TABLE {NEW_TABLE} DROP CONSTRAINT IF EXISTS {schema.PARTITION_CHECK}"))
    bind.execute(
        text(
            f"ALTER TABLE {NEW_TABLE} ADD CONSTRAINT {schema.PARTITION_CHECK} "
            f"CHECK (partition_key = {schema.partition_key_expression('collection_id', m)})"
        )
    )
    for constraint, definition in foreign_keys(bind):
        bind.execute(text(f"ALTER TABLE {NEW_TABLE} ADD CONSTRAINT {quote_ident(constraint)} {definition}"))
    keys = stored_partition_keys(bind)
    for i in range(m):
        part = name(partition_table_name(i, m))
        bind.execute(
            text(f"CREATE TABLE {quote_ident(part)} PARTITION OF {NEW_TABLE} FOR VALUES IN ({i}) {NO_AUTOVACUUM}")
        )
        add_partition_foreign_keys(bind, keys, part, partition_table_name(i, m))
    # The indexes, the primary key included, are built after the copy (index_phase): sorted once, not
    # maintained row by row. Nothing reads the new table before then.


def children(bind: Connection, parent: str) -> dict[int, str]:
    """Partition value -> name of the LIST partitions of ``parent``."""
    found: dict[int, str] = {}
    for relname, bound in bind.execute(
        text(
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:p)"""
        ),
        {"p": quote_ident(parent)},
    ).all():
        match = re.fullmatch(r"FOR VALUES IN \((-?\d+)\)", bound or "")
        if match is not None:
            found[int(match.group(1))] = relname
    return found


def build_reshape_indexes(bind: Connection, run: Run) -> None:
    """The primary key, every per-partition index of the old partitions on each new one (named after the
    new partition), then the parent's indexes, which attach them."""
    name = Namer(bind, run.id)
    keys = [index for index, _definition, is_primary in parent_indexes(bind, "chunks") if is_primary]
    add_primary_key(bind, NEW_TABLE, name(keys[0]) if keys else None)
    templates = partition_index_templates(
        bind, [partition_table_name(i, run.from_count) for i in range(run.from_count)]
    )
    stored = stored_partition_keys(bind)
    for number, part in sorted(children(bind, NEW_TABLE).items()):
        final = partition_table_name(number, run.to_count)
        add_partition_unique_keys(bind, stored, part, final, name)
        for template in templates:
            index = "" if template.name is None else quote_ident(name(template.name.replace("{table}", final, 1)))
            bind.execute(text(template.render(index, quote_ident(part))))
        bind.commit()
    for index, definition, primary in parent_indexes(bind, "chunks"):
        if not primary:
            body = re.sub(r" ON (ONLY )?(public\.)?chunks ", f" ON {NEW_TABLE} ", definition, count=1)
            bind.execute(text(body.replace(f"INDEX {index} ", f"INDEX {quote_ident(name(index))} ", 1)))
    bind.commit()


def swap_reshape(bind: Connection, run: Run, mover: Mover, with_monitoring: bool) -> None:
    """The one short transaction (its lock_timeout set by the caller)."""
    took = Stopwatch()
    lock_sequence_first(bind)
    # The parent only: every statement on chunks locks it first, so this stops every writer, while an
    # autovacuum worker busy on one of the old partitions does not hold the swap up.
    bind.execute(text("LOCK TABLE ONLY chunks IN ACCESS EXCLUSIVE MODE"))
    bind.execute(text(f"LOCK TABLE ONLY {NEW_TABLE} IN ACCESS EXCLUSIVE MODE"))
    took("locks")
    mover.replay_all(bind)
    took("replay")
    copy_objects_onto(bind, "chunks", NEW_TABLE)
    views = host_views(bind)
    drop_host_views(bind, views)
    if with_monitoring:
        for statement in monitoring_sql.drop_statements():
            bind.execute(text(statement))
    took("drop views")
    hand_over_sequence(bind, "chunks", NEW_TABLE)
    bind.execute(text(f"ALTER TABLE chunks RENAME TO {OLD_PREFIX}chunks"))
    rename_to_final(bind, run.id, "chunks")
    took("renames")
    for statement in schema.create_routing_functions(run.to_count):
        bind.execute(text(statement))
    create_host_views(bind, views)
    if with_monitoring:
        for statement in monitoring_sql.create_statements(stats_matview=not relation_exists(bind, NEXT_STATS)):
            bind.execute(text(statement))
        if relation_exists(bind, NEXT_STATS):
            bind.execute(text(f"ALTER MATERIALIZED VIEW {NEXT_STATS} RENAME TO {monitoring_sql.STATS_MATVIEW}"))
            for suffix in ("_id", "_partition"):
                bind.execute(text(f"ALTER INDEX {NEXT_STATS}{suffix} RENAME TO {monitoring_sql.STATS_MATVIEW}{suffix}"))
    took("functions and views")
    bind.execute(text(f"UPDATE {RUNS} SET phase = 'done', finished_at = now() WHERE id = {run.id}"))
    logger.info("swap: %s", took.report())


def hand_over_sequence(bind: Connection, old: str, new: str) -> None:
    """The id sequence owned by ``new``'s ``id`` (``pg_get_serial_sequence``, which writers use, follows)."""
    sequence = bind.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old}).scalar_one_or_none()
    if sequence is not None:
        bind.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {quote_ident(new)}.id"))


def lock_sequence_first(bind: Connection) -> None:
    """The id sequence's lock, before the table's: a writer takes ids (a lock on the sequence) before its
    COPY locks chunks, so a swap that locked chunks first and then altered the sequence would wait for a
    writer waiting for it. A no-op ALTER SEQUENCE takes the lock (LOCK TABLE refuses sequences)."""
    hand_over_sequence(bind, "chunks", "chunks")
