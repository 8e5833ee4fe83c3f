"""Taking over a host database's existing chunks table (DDL only), and giving it back.

The host (Semantik) already has ``chunks`` LIST-partitioned on ``partition_key``, with a BEFORE
INSERT trigger that derived the key from ``collection_id || ':' || document_id``: nearly every row
sits in the wrong partition for the library's rule ``abs(hashtext(collection_id) % N)``.

``adopt_host_table`` (called by sc0002) runs inside the migration's transaction, fast, no row moves:
drop the trigger, add the CHECK as NOT VALID (it binds every writer at once; existing rows are fixed
by the mover, ``mover.py``), drop the host's monitoring objects (sc0003 creates the library's), make
sure the library's indexes exist (the host's equivalent per-partition indexes are attached, not
rebuilt), mark the table. What it drops is recorded so that ``release_host_table`` can put it back.
When the migration runs in the library's own Alembic environment, the rows are moved at once, outside
the migration's transaction (Alembic's ``autocommit_block``). See docs/adoption.md.
"""

from __future__ import annotations

import logging
import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres import schema
from semantik_chunks.adapters.postgres.mover import DEFAULT_BATCH_SIZE, Mover, ProgressLog, check_state
from semantik_chunks.domain.adoption import AdoptionError
from semantik_chunks.domain.errors import ConfigurationError
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


def adopt_host_table(bind: Connection, partition_count: int) -> None:
    """Take over the host's LIST-partitioned ``chunks`` (called by sc0002), then move its rows if the
    running migration can commit on its own (the library's environment); otherwise the rows are moved
    by ``semantik-chunks migrate`` / ``move_misplaced_rows`` afterwards."""
    n = validate_partition_count(partition_count)
    take_over_schema(bind, n)
    if check_state(bind) == "validated":
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
            "Finish with `semantik-chunks migrate` or semantik_chunks.adapters.postgres.mover.move_misplaced_rows"
        )
        return
    with migration.autocommit_block():
        report = Mover(n, DEFAULT_BATCH_SIZE, ProgressLog()).run_and_validate(migration.connection)
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
    kinds = {name: kind for name, kind, _ in rows}
    # A view comes after every view that reads it: its readers are its predecessors.
    sorter = TopologicalSorter({name: set(dependents) & kinds.keys() for name, _, dependents in rows})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise AdoptionError(f"the views {sorted(set(exc.args[1]))} depend on each other in a cycle") from None
    ordered: list[tuple[str, str]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())  # sorted: the same database gives the same order
        ordered.extend((name, kinds[name]) for name in ready)
        sorter.done(*ready)
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
