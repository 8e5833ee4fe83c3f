"""Changing the shape of ``chunks`` online: a new partition count, or one partition rebuilt as
sub-partitions (``isolate.py``). The procedure pg_partman and Citus users rely on:

1. **build** the new layout beside the old one (``rs_chunks`` with M partitions, or
   ``rs_chunks_part_07`` sub-partitioned), empty, with the table's columns, CHECKs, foreign keys and
   every index (per-partition index names follow the old partitions' names);
2. **capture**: a row trigger on the old table (``ENABLE ALWAYS``, so a replica-role session is
   captured too) writes the key ``(id, collection_id)`` of every row inserted, updated or deleted
   from now on into ``semantik_chunks_reshape_log``;
3. **copy** the old rows in id ranges, one source partition at a time, each batch one
   transaction together with its cursor: a killed run resumes after its last committed batch;
4. **catch up**: replay the log (delete the logged keys from the new table, copy their current
   version from the old one) until it is short;
5. **swap**, one short transaction under ``lock_timeout`` (retried): lock the old table, replay
   the rest of the log, move the host's triggers, grants and the id sequence over, drop the old
   table, rename the new one and its partitions and indexes, rewrite the routing functions, the
   CHECK and the monitoring views. Writers wait for this transaction only.

Progress lives in ``semantik_chunks_reshape_runs`` / ``_cursors``; a rerun of the same change
resumes, a run with nothing to do returns ``noop``. Only one change runs at a time (an advisory lock).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from semantik_chunks.adapters.postgres import local_keys, monitoring_sql, placement_sql, schema
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.adapters.postgres.errors import database_errors
from semantik_chunks.domain.errors import ConfigurationError
from semantik_chunks.domain.hashing import partition_for, partition_table_name, validate_partition_count
from semantik_chunks.domain.model import IsolatedCollection
from semantik_chunks.domain.reshape import (
    CollectionFootprint,
    PendingChange,
    ReshapeError,
    ReshapeOutcome,
    ReshapeProgress,
)

logger = logging.getLogger(__name__)

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
# pg_advisory_lock key: one change at a time per database ("semantik" in ASCII, truncated).
ADVISORY_KEY = 0x73656D616E74

DEFAULT_BATCH_SIZE = 10_000
REPLAY_BATCH = 10_000
# The swap waits this long for its lock, then gives up, catches up again and retries: writers queue
# behind a waiting ACCESS EXCLUSIVE request, so this bounds what a writer can wait for it.
SWAP_LOCK_TIMEOUT_MS = 250
SWAP_ATTEMPTS = 40
# The log is replayed outside the lock until fewer than this many changes are left for the swap (each
# replayed under its lock costs the writers' wait), or for at most CATCH_UP_ROUNDS rounds.
SWAP_BACKLOG = 200
CATCH_UP_ROUNDS = 50
_MIN_BIGINT = -(2**63)
_INSUFFICIENT_PRIVILEGE = "42501"
_LOCK_NOT_AVAILABLE = "55P03"

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


def _code(exc: DBAPIError) -> str | None:
    original = exc.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------------
# State tables
# --------------------------------------------------------------------------------------------------

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


def _reload(bind: Connection, run_id: int) -> Run:
    return Run(*bind.execute(text(f"SELECT {_RUN_COLUMNS} FROM {RUNS} WHERE id = {run_id}")).one())


def _set_phase(bind: Connection, run: Run, phase: str) -> Run:
    bind.execute(text(f"UPDATE {RUNS} SET phase = :phase WHERE id = {run.id}"), {"phase": phase})
    bind.commit()
    return _reload(bind, run.id)


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
    return bind.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": _quote(name)}).scalar_one() is True


# --------------------------------------------------------------------------------------------------
# Session setup, the one-at-a-time lock, lock_timeout + retry
# --------------------------------------------------------------------------------------------------


def prepare_session(bind: Connection) -> None:
    """The mover's session: no statement or lock timeout (it batches; the swap sets its own), and
    row triggers off for its writes when the role may (``session_replication_role = replica``): the
    copies change no value, so foreign-key checks could only pass, and the host's own triggers must
    not see a copy as an edit. Without the privilege rows are copied all the same, with checks."""
    bind.execute(text("SET statement_timeout = 0"))
    bind.execute(text("SET lock_timeout = 0"))
    bind.commit()
    try:
        bind.execute(text("SET session_replication_role = replica"))
        bind.commit()
    except DBAPIError as exc:
        bind.rollback()
        if _code(exc) != _INSUFFICIENT_PRIVILEGE:
            raise
        logger.info("copying with row triggers firing: this role may not set session_replication_role")


def take_run_lock(bind: Connection) -> None:
    if not bind.execute(text(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})")).scalar_one():
        bind.rollback()
        raise ReshapeError("another reshape or isolate is running on this database; wait for it to finish")
    bind.commit()


def release_run_lock(bind: Connection) -> None:
    try:
        bind.rollback()
        bind.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"))
        # Back to the session's own settings (the engine's timeouts) before the pool hands it out again.
        bind.execute(text("RESET session_replication_role"))
        bind.execute(text("RESET statement_timeout"))
        bind.execute(text("RESET lock_timeout"))
        bind.commit()
    except DBAPIError:
        bind.invalidate()  # interrupted mid-statement: never hand the session back as it is


def cancel_autovacuum(bind: Connection) -> None:
    """Best effort: cancel autovacuum workers holding a lock on the table's relations (old or new), which
    a swap would otherwise wait for until PostgreSQL cancels them itself (after deadlock_timeout). Needs
    a superuser (or, on PostgreSQL 18, pg_signal_autovacuum_worker); without, the retries wait them out."""
    try:
        bind.execute(
            text(
                """SELECT pg_cancel_backend(a.pid) FROM pg_stat_activity a
                   WHERE a.backend_type = 'autovacuum worker' AND a.pid IN (
                       SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                       WHERE l.granted AND (c.relname LIKE 'chunks%' OR c.relname LIKE 'rs\\_%'))"""
            )
        ).all()
        bind.commit()
    except DBAPIError:
        bind.rollback()


def with_lock_retry(bind: Connection, work: Callable[[], None], what: str, *, between: Callable[[], None]) -> int:
    """Run ``work`` (which takes locks) in a transaction with a short ``lock_timeout``; on a timeout
    roll back, call ``between`` (catch up) and try again. Returns the attempts it took."""
    waited = ""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            bind.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_MS}ms'"))
            work()
            bind.commit()
            return attempt
        except DBAPIError as exc:
            bind.rollback()
            if _code(exc) != _LOCK_NOT_AVAILABLE:
                raise
            waited = " ".join(str(exc.statement or "").split())[:100]
            logger.info(
                "%s: lock not granted within %d ms (attempt %d: %s)", what, SWAP_LOCK_TIMEOUT_MS, attempt, waited
            )
            cancel_autovacuum(bind)
            between()
            time.sleep(min(0.05 * attempt, 1.0))
    holders = bind.execute(
        text(
            """SELECT DISTINCT a.pid || ' (' || a.backend_type || ', ' || coalesce(a.state, '') || ')'
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.granted AND l.pid <> pg_backend_pid()
                 AND l.relation IN (SELECT relid FROM pg_partition_tree('chunks'))"""
        )
    ).scalars()
    found = ", ".join(sorted(holders)) or "none now"
    bind.rollback()
    raise ReshapeError(
        f"{what}: could not lock chunks in {SWAP_ATTEMPTS} attempts of {SWAP_LOCK_TIMEOUT_MS} ms (last waiting in "
        f"{waited!r}); sessions holding locks on it: {found} (see pg_stat_activity). Nothing was lost: run the "
        "command again to finish"
    )


# --------------------------------------------------------------------------------------------------
# What the table has: columns, indexes, constraints, triggers, grants
# --------------------------------------------------------------------------------------------------


def columns(bind: Connection, table: str = "chunks") -> list[str]:
    return list(
        bind.execute(
            text(
                """SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0
                   AND NOT attisdropped AND attgenerated = '' ORDER BY attnum"""
            ),
            {"t": table},
        ).scalars()
    )


def preflight(bind: Connection, partition_num: int | None = None) -> None:
    """Refuse, changing nothing, what a rebuild beside the old table (or, given ``partition_num``, beside
    that partition) cannot carry over."""
    _refuse_partitions_elsewhere(bind, partition_num)
    check = bind.execute(
        text("SELECT convalidated FROM pg_constraint WHERE conrelid = 'chunks'::regclass AND conname = :n"),
        {"n": schema.PARTITION_CHECK},
    ).scalar_one_or_none()
    if check is None or not check:
        raise ReshapeError(
            "chunks has no validated partition CHECK (an adoption is unfinished): run `semantik-chunks migrate` first"
        )
    inbound = bind.execute(
        text(
            """SELECT conname || ' on ' || conrelid::regclass::text FROM pg_constraint
               WHERE contype = 'f' AND confrelid = 'chunks'::regclass AND conrelid <> 'chunks'::regclass
               AND conparentid = 0"""
        )
    ).scalars()
    refs = sorted(inbound)
    if refs:
        raise ReshapeError(
            f"foreign keys reference chunks ({', '.join(refs)}); a reshape rebuilds the table, so drop them "
            "first and add them back afterwards"
        )


def _refuse_partitions_elsewhere(bind: Connection, partition_num: int | None) -> None:
    """A partition on another server is a foreign table (docs/scale-out.md): a rebuild beside it cannot
    copy its rows, so a reshape waits until every partition is home, an isolation until its own is. A
    partition move under way finishes first: both would capture the same writes."""
    if relation_exists(bind, placement_sql.MOVES_TABLE):
        moving = bind.execute(
            text(
                f"SELECT string_agg(partition_num::text, ', ' ORDER BY partition_num) FROM {placement_sql.MOVES_TABLE}"
            )
        ).scalar_one()
        if moving:
            raise ReshapeError(
                f"partition moves between servers are unfinished (partitions {moving}): run their "
                "`semantik-chunks place` command again to finish them first"
            )
    foreign = list(bind.execute(text(local_keys.FOREIGN_PARTITIONS)).scalars())
    if partition_num is not None:
        own = partition_table_name(partition_num, database_partition_count(bind))
        foreign = [name for name in foreign if name == own]
    if foreign:
        raise ReshapeError(
            f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} on another server: move "
            f"{'it' if len(foreign) == 1 else 'them'} home first (semantik-chunks place PARTITION --home)"
        )


def stored_partition_keys(bind: Connection) -> list[tuple[str, str, str]]:
    """``(suffix, kind, definition)`` of the keys sc0007 moved from ``chunks`` onto each partition
    (``local_keys``); none while the parent holds them (a database before sc0007)."""
    if not relation_exists(bind, local_keys.KEYS_TABLE):
        return []
    return [(r[0], r[1], r[2]) for r in bind.execute(text(local_keys.STORED_KEYS))]


def add_partition_foreign_keys(bind: Connection, keys: Sequence[tuple[str, str, str]], table: str, final: str) -> None:
    """The foreign keys of ``keys`` (``stored_partition_keys``) on ``table`` (to become partition ``final``),
    named as sc0007 names them."""
    for suffix, kind, definition in keys:
        if kind == "f":
            constraint = local_keys.partition_constraint_name(final, suffix)
            bind.execute(text(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(constraint)} {definition}"))


def add_partition_unique_keys(
    bind: Connection, keys: Sequence[tuple[str, str, str]], table: str, final: str, name: Callable[[str], str]
) -> None:
    """The primary (and unique) keys of ``keys`` (``stored_partition_keys``) on ``table`` (to become partition
    ``final``), unless it has them (an index phase killed after them); ``name`` gives the index a free name
    until the swap."""
    for suffix, kind, definition in keys:
        if kind not in ("p", "u"):
            continue
        if bind.execute(
            text(
                """SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype::text = :k
                   AND pg_get_constraintdef(oid) = :d)"""
            ),
            {"t": _quote(table), "k": kind, "d": definition},
        ).scalar_one():
            continue
        constraint = name(local_keys.partition_constraint_name(final, suffix))
        bind.execute(text(f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(constraint)} {definition}"))


LIBRARY_RELATIONS = {*monitoring_sql.VIEWS, monitoring_sql.STATS_MATVIEW, NEXT_STATS}


@attrs.frozen
class HostView:
    """A view (or materialized view) of the host's that reads the table, directly or through another."""

    name: str
    kind: str  # "v" or "m"
    definition: str
    owner: str
    grants: tuple[tuple[str, str, bool], ...]
    comment: str | None


def host_views(bind: Connection, table: str = "chunks") -> list[HostView]:
    """The host's views over ``table`` (or its partitions), each after every view it reads: the order to
    create them in. The library's own monitoring objects are not listed (the swap renders them)."""
    found = bind.execute(
        text(
            """WITH RECURSIVE readers(oid, depth) AS (
                   SELECT DISTINCT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                   WHERE d.classid = 'pg_rewrite'::regclass
                     AND d.refobjid IN (SELECT relid FROM pg_partition_tree(to_regclass(:t)))
                     AND r.ev_class NOT IN (SELECT relid FROM pg_partition_tree(to_regclass(:t)))
                   UNION
                   SELECT r.ev_class, readers.depth + 1 FROM readers
                   JOIN pg_depend d ON d.refobjid = readers.oid AND d.classid = 'pg_rewrite'::regclass
                   JOIN pg_rewrite r ON r.oid = d.objid
                   WHERE r.ev_class <> readers.oid AND readers.depth < 20
               )
               SELECT c.relname, c.relkind::text, pg_get_viewdef(c.oid), c.relowner::regrole::text,
                      obj_description(c.oid, 'pg_class'), max(readers.depth)
               FROM readers JOIN pg_class c ON c.oid = readers.oid
               WHERE c.relkind IN ('v', 'm')
               GROUP BY c.oid, c.relname, c.relkind, c.relowner ORDER BY max(readers.depth), c.relname"""
        ),
        {"t": table},
    ).all()
    views = []
    for name, kind, definition, owner, comment, _depth in found:
        if name in LIBRARY_RELATIONS:
            continue
        grants = bind.execute(
            text(
                """SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                          a.is_grantable
                   FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                   WHERE c.oid = to_regclass(:v) AND a.grantee <> c.relowner"""
            ),
            {"v": _quote(name)},
        ).all()
        views.append(HostView(name, kind, definition, owner, tuple((p, g, bool(o)) for p, g, o in grants), comment))
    return views


def drop_host_views(bind: Connection, views: Sequence[HostView]) -> None:
    for view in reversed(views):
        what = "MATERIALIZED VIEW" if view.kind == "m" else "VIEW"
        bind.execute(text(f"DROP {what} IF EXISTS {_quote(view.name)}"))


def create_host_views(bind: Connection, views: Sequence[HostView]) -> None:
    """The host's views again, from their definitions (which name ``chunks``: now the new table)."""
    for view in views:
        what = "MATERIALIZED VIEW" if view.kind == "m" else "VIEW"
        bind.exec_driver_sql(f"CREATE {what} {_quote(view.name)} AS {view.definition}")
        bind.execute(text(f"ALTER {what} {_quote(view.name)} OWNER TO {view.owner}"))
        for privilege, grantee, grantable in view.grants:
            option = " WITH GRANT OPTION" if grantable else ""
            bind.execute(text(f"GRANT {privilege} ON {_quote(view.name)} TO {grantee}{option}"))
        if view.comment is not None:
            bind.execute(text(f"COMMENT ON {what} {_quote(view.name)} IS {_literal(view.comment)}"))


def sub_partitioned(bind: Connection) -> list[str]:
    return list(
        bind.execute(
            text(
                """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'chunks'::regclass AND c.relkind = 'p' ORDER BY 1"""
            )
        ).scalars()
    )


@attrs.frozen
class IndexTemplate:
    """An index of a partition, with ``{table}`` where the partition's name was."""

    name: str | None  # None: let PostgreSQL name it
    definition: str  # CREATE [UNIQUE] INDEX {name} ON {table} USING ...

    def render(self, name: str, table: str) -> str:
        return self.definition.replace("{name}", name, 1).replace("{table}", table, 1)


def partition_index_templates(bind: Connection, partitions: Iterable[str]) -> list[IndexTemplate]:
    """The indexes the old partitions have (primary keys aside: the parent's key makes those), one
    template per distinct definition."""
    rows = bind.execute(
        text(
            """SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
               WHERE t.relname = ANY(:parts) AND t.relnamespace = 'public'::regnamespace
               AND NOT x.indisprimary ORDER BY t.relname, i.relname"""
        ),
        {"parts": list(partitions)},
    ).all()
    seen: dict[str, IndexTemplate] = {}
    for table, index, definition in rows:
        body = definition.split(" ON ", 1)[1]
        body = re.sub(rf"^(ONLY )?(public\.)?{re.escape(table)} ", "{table} ", body)
        kind = "CREATE UNIQUE INDEX" if definition.startswith("CREATE UNIQUE") else "CREATE INDEX"
        template_def = f"{kind} {{name}} ON {body}"
        if template_def in seen:
            continue
        name = index.replace(table, "{table}", 1) if table in index else None
        seen[template_def] = IndexTemplate(name, template_def)
    return list(seen.values())


def parent_indexes(bind: Connection, table: str) -> list[tuple[str, str, bool]]:
    """``(name, definition, is_primary_key)`` of the indexes declared on ``table`` itself."""
    return [
        (name, definition, primary)
        for name, definition, primary in bind.execute(
            text(
                """SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary
                   FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                   WHERE x.indrelid = to_regclass(:t) ORDER BY i.relname"""
            ),
            {"t": table},
        ).all()
    ]


def foreign_keys(bind: Connection, table: str = "chunks") -> list[tuple[str, str]]:
    return [
        (name, definition)
        for name, definition in bind.execute(
            text(
                """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid = to_regclass(:t) AND contype = 'f' AND conparentid = 0 ORDER BY conname"""
            ),
            {"t": table},
        ).all()
    ]


def host_triggers(bind: Connection, table: str) -> list[tuple[str, str, str]]:
    """``(name, definition, enabled)`` of the triggers declared on ``table`` (not ours, not internal)."""
    return [
        (name, definition, enabled)
        for name, definition, enabled in bind.execute(
            text(
                """SELECT tgname, pg_get_triggerdef(oid), tgenabled::text FROM pg_trigger
                   WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal AND tgname NOT IN (:capture, :guard)
                   AND tgparentid = 0 ORDER BY tgname"""
            ),
            {"t": table, "capture": CAPTURE_TRIGGER, "guard": GUARD_TRIGGER},
        ).all()
    ]


class Namer:
    """Names for the new objects: the final name when it is free, else ``rs_`` + it (recorded, and
    renamed in the swap once the old object is gone)."""

    def __init__(self, bind: Connection, run_id: int) -> None:
        self._bind = bind
        self._run_id = run_id

    def __call__(self, final: str) -> str:
        if not relation_exists(self._bind, final):
            return final
        temp = (TEMP_PREFIX + final)[:63]
        self._bind.execute(
            text(f"INSERT INTO {NAMES} (run_id, temp_name, final_name) VALUES (:r, :t, :f) ON CONFLICT DO NOTHING"),
            {"r": self._run_id, "t": temp, "f": final},
        )
        return temp


def _relkind(bind: Connection, name: str) -> str | None:
    kind: str | None = bind.execute(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:n)"), {"n": _quote(name)}
    ).scalar_one_or_none()
    return kind


def _rename(bind: Connection, name: str, new_name: str) -> None:
    kind = _relkind(bind, name)
    if kind is None:
        return
    what = {"i": "INDEX", "I": "INDEX", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
    bind.execute(text(f"ALTER {what} {_quote(name)} RENAME TO {_quote(new_name)}"))


def _take_name(bind: Connection, temp: str, final: str) -> None:
    """``temp`` becomes ``final``; an old relation holding ``final`` is renamed ``rs_old_…`` first
    (it goes with the old table, dropped after the swap)."""
    if relation_exists(bind, final):
        _rename(bind, final, (OLD_PREFIX + final)[:63])
    _rename(bind, temp, final)


def rename_to_final(bind: Connection, run_id: int, tree_root: str) -> None:
    """Every recorded temporary name to its final one, then PostgreSQL's own ``rs_…`` names in the
    new tree (primary-key indexes named after a temporary partition)."""
    for temp, final in bind.execute(
        text(f"SELECT temp_name, final_name FROM {NAMES} WHERE run_id = {run_id} ORDER BY temp_name")
    ).all():
        _take_name(bind, temp, final)
    # pg_partition_tree answers nothing for a plain table that is no partition (yet): add the root itself.
    leftovers = bind.execute(
        text(
            """WITH tree AS (SELECT relid FROM pg_partition_tree(to_regclass(:root))
                            UNION SELECT to_regclass(:root))
               SELECT c.relname FROM tree JOIN pg_class c ON c.oid = tree.relid WHERE c.relname LIKE 'rs\\_%'
               UNION ALL
               SELECT i.relname FROM tree JOIN pg_index x ON x.indrelid = tree.relid
               JOIN pg_class i ON i.oid = x.indexrelid WHERE i.relname LIKE 'rs\\_%'"""
        ),
        {"root": tree_root},
    ).scalars()
    for name in list(leftovers):
        _take_name(bind, name, name[len(TEMP_PREFIX) :])


def reset_autovacuum(bind: Connection, root: str) -> None:
    """Autovacuum back on for the leaves under ``root`` that the build turned it off for."""
    for leaf in bind.execute(
        text(
            """WITH tree AS (SELECT relid FROM pg_partition_tree(to_regclass(:root)) WHERE isleaf
                            UNION SELECT to_regclass(:root))
               SELECT c.oid::regclass::text FROM tree JOIN pg_class c ON c.oid = tree.relid
               WHERE c.relkind = 'r' AND 'autovacuum_enabled=false' = ANY(c.reloptions)"""
        ),
        {"root": root},
    ).scalars():
        bind.execute(text(f"ALTER TABLE {leaf} RESET (autovacuum_enabled)"))
    bind.commit()


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
            bind.execute(text(f"DROP TABLE IF EXISTS {_quote(name)}"))
        drop_capture(bind, None)

    with_lock_retry(bind, work, "dropping the old table", between=lambda: None)


# --------------------------------------------------------------------------------------------------
# Capture, copy, catch-up: shared by reshape and isolate
# --------------------------------------------------------------------------------------------------


def install_capture(bind: Connection, source: str) -> None:
    """The log, and the triggers on ``source`` that fill it (called inside a lock-retry transaction)."""
    bind.execute(text(f"CREATE TABLE IF NOT EXISTS {LOG} (seq BIGSERIAL PRIMARY KEY, id BIGINT, collection_id TEXT)"))
    bind.execute(
        text(
            f"""CREATE OR REPLACE FUNCTION {CAPTURE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO {LOG} (id, collection_id) VALUES (OLD.id, OLD.collection_id);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO {LOG} (id, collection_id) VALUES (NEW.id, NEW.collection_id);
                END IF;
                RETURN NULL;
            END $$"""
        )
    )
    bind.execute(
        text(
            f"""CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'chunks is being reshaped: TRUNCATE is refused until the reshape finishes'
                    USING ERRCODE = 'object_in_use';
            END $$"""
        )
    )
    target = _quote(source)
    bind.execute(text(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"))
    bind.execute(text(f"DROP TRIGGER IF EXISTS {CAPTURE_TRIGGER} ON {target}"))
    bind.execute(text(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {target}"))
    bind.execute(
        text(
            f"CREATE TRIGGER {CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {target} "
            f"FOR EACH ROW EXECUTE FUNCTION {CAPTURE_FUNCTION}()"
        )
    )
    bind.execute(
        text(
            f"CREATE TRIGGER {GUARD_TRIGGER} BEFORE TRUNCATE ON {target} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()"
        )
    )
    bind.execute(text(f"ALTER TABLE {target} ENABLE ALWAYS TRIGGER {CAPTURE_TRIGGER}"))
    bind.execute(text(f"ALTER TABLE {target} ENABLE ALWAYS TRIGGER {GUARD_TRIGGER}"))


def drop_capture(bind: Connection, source: str | None) -> None:
    if source is not None and relation_exists(bind, source):
        bind.execute(text(f"DROP TRIGGER IF EXISTS {CAPTURE_TRIGGER} ON {_quote(source)}"))
        bind.execute(text(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {_quote(source)}"))
    bind.execute(text(f"DROP TABLE IF EXISTS {LOG}"))
    bind.execute(text(f"DROP FUNCTION IF EXISTS {CAPTURE_FUNCTION}()"))
    bind.execute(text(f"DROP FUNCTION IF EXISTS {GUARD_FUNCTION}()"))


@attrs.define
class Mover:
    """Copies ``chunks`` rows of the source partitions into ``target``, and replays the log.

    ``new_key(collection_id)`` is the partition_key a row gets in the target (its old one for an
    isolation); ``old_key(collection_id)`` the one it has in ``chunks``; ``key_sql`` the SQL of the
    former over a column."""

    run: Run
    target: str
    key_sql: str
    new_key: Callable[[str], int]
    old_key: Callable[[str], int]
    columns: list[str]
    batch_size: int
    progress: Progress | None
    hooks: Hooks
    expected_rows: int = 0
    rows_copied: int = 0
    replayed: int = 0
    batches: int = 0
    copy_seconds: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.rows_copied = self.run.rows_copied
        self.copy_seconds = self.run.copy_seconds
        self.batches = self.run.batches
        self.replayed = self.run.replayed

    @property
    def _select_list(self) -> str:
        return ", ".join(self.key_sql if c == "partition_key" else f"c.{_quote(c)}" for c in self.columns)

    @property
    def _column_list(self) -> str:
        return ", ".join(_quote(c) for c in self.columns)

    def _report(self, phase: str) -> None:
        if self.progress is not None:
            self.progress(ReshapeProgress(phase, self.rows_copied, self.expected_rows, self.copy_seconds))

    def copy_all(self, bind: Connection) -> None:
        pending = bind.execute(
            text(f"SELECT source, last_id FROM {CURSORS} WHERE run_id = {self.run.id} AND NOT done ORDER BY source")
        ).all()
        bind.commit()
        for source, last_id in pending:
            self._copy_partition(bind, source, last_id)

    def _copy_partition(self, bind: Connection, source: int, last_id: int | None) -> None:
        batch_count = 0
        while True:
            started = time.perf_counter()
            lower = "" if last_id is None else f"AND id > {int(last_id)}"
            upper = bind.execute(
                text(
                    f"""SELECT max(id) FROM (SELECT id FROM chunks WHERE partition_key = {source} {lower}
                        ORDER BY id LIMIT {self.batch_size}) AS batch"""
                )
            ).scalar_one()
            if upper is None:
                bind.execute(
                    text(f"UPDATE {CURSORS} SET done = true WHERE run_id = {self.run.id} AND source = {source}")
                )
                bind.commit()
                return
            # Literal bounds: the planner sees the range and reads just this batch through the primary key.
            copied = bind.execute(
                text(
                    f"""INSERT INTO {_quote(self.target)} ({self._column_list})
                        SELECT {self._select_list} FROM chunks AS c
                        WHERE c.partition_key = {source} {lower.replace("id", "c.id")} AND c.id <= {int(upper)}"""
                )
            ).rowcount
            took = time.perf_counter() - started
            bind.execute(
                text(f"UPDATE {CURSORS} SET last_id = {int(upper)} WHERE run_id = {self.run.id} AND source = {source}")
            )
            bind.execute(
                text(
                    f"""UPDATE {RUNS} SET rows_copied = rows_copied + {copied}, batches = batches + 1,
                        copy_seconds = copy_seconds + {took!r} WHERE id = {self.run.id}"""
                )
            )
            bind.commit()  # the batch and its cursor: one transaction
            self.rows_copied += copied
            self.copy_seconds += took
            self.batches += 1
            batch_count += 1
            last_id = int(upper)
            self._report("copying")
            if self.hooks.after_batch is not None:
                self.hooks.after_batch(self.batches)

    def replay(self, bind: Connection, *, limit: int = REPLAY_BATCH, commit: bool = True) -> int:
        """Replay up to ``limit`` logged changes: the keys' rows in the target become what they are in
        ``chunks`` now (deleted, or copied again). Returns how many log entries were taken."""
        taken = bind.execute(
            text(
                f"""DELETE FROM {LOG} WHERE seq IN (SELECT seq FROM {LOG} ORDER BY seq LIMIT {limit})
                    RETURNING id, collection_id"""
            )
        ).all()
        if not taken:
            if commit:
                bind.commit()
            return 0
        keys = sorted({(int(i), c) for i, c in taken})
        ids = [i for i, _ in keys]
        collections = [c for _, c in keys]
        bind.execute(
            text(
                f"""DELETE FROM {_quote(self.target)} AS t
                    USING unnest(CAST(:ids AS bigint[]), CAST(:cids AS text[]), CAST(:keys AS integer[]))
                        AS k(id, cid, pk)
                    WHERE t.partition_key = k.pk AND t.collection_id = k.cid AND t.id = k.id"""
            ),
            {"ids": ids, "cids": collections, "keys": [self.new_key(c) for c in collections]},
        )
        bind.execute(
            text(
                f"""INSERT INTO {_quote(self.target)} ({self._column_list})
                    SELECT {self._select_list} FROM chunks AS c
                    JOIN unnest(CAST(:ids AS bigint[]), CAST(:cids AS text[]), CAST(:keys AS integer[]))
                        AS k(id, cid, pk)
                      ON c.partition_key = k.pk AND c.collection_id = k.cid AND c.id = k.id"""
            ),
            {"ids": ids, "cids": collections, "keys": [self.old_key(c) for c in collections]},
        )
        self.replayed += len(taken)
        bind.execute(text(f"UPDATE {RUNS} SET replayed = replayed + {len(taken)} WHERE id = {self.run.id}"))
        if commit:
            bind.commit()
        return len(taken)

    def catch_up(self, bind: Connection, *, until: int = SWAP_BACKLOG) -> None:
        """Replay the log until fewer than ``until`` changes are left (writers keep adding to it)."""
        for _ in range(CATCH_UP_ROUNDS):
            taken = self.replay(bind)
            self._report("catching up")
            if taken < until:
                return

    def replay_all(self, bind: Connection) -> None:
        """Under the swap's lock: nothing is added any more."""
        while self.replay(bind, commit=False) == REPLAY_BATCH:
            pass


def copy_objects_onto(bind: Connection, old: str, new: str) -> None:
    """The host's triggers, grants, owner and comment of ``old``, onto ``new`` (in the swap)."""
    for name, definition, enabled in host_triggers(bind, old):
        body = re.sub(rf" ON (public\.)?{re.escape(old)} ", f" ON {_quote(new)} ", definition, count=1)
        bind.exec_driver_sql(body)
        state = {"D": "DISABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}.get(enabled)
        if state:
            bind.execute(text(f"ALTER TABLE {_quote(new)} {state} TRIGGER {_quote(name)}"))
    grants = bind.execute(
        text(
            """SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                      a.is_grantable
               FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
               WHERE c.oid = to_regclass(:t) AND a.grantee <> c.relowner"""
        ),
        {"t": old},
    ).all()
    for privilege, grantee, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        bind.execute(text(f"GRANT {privilege} ON {_quote(new)} TO {grantee}{option}"))
    owners = bind.execute(
        text(
            """SELECT o.relowner::regrole::text, n.relowner::regrole::text FROM pg_class o, pg_class n
               WHERE o.oid = to_regclass(:old) AND n.oid = to_regclass(:new)"""
        ),
        {"old": old, "new": _quote(new)},
    ).one()
    if owners[0] != owners[1]:
        bind.execute(text(f"ALTER TABLE {_quote(new)} OWNER TO {owners[0]}"))
    comment = bind.execute(text("SELECT obj_description(to_regclass(:t), 'pg_class')"), {"t": old}).scalar_one()
    if comment is not None:
        bind.execute(text(f"COMMENT ON TABLE {_quote(new)} IS {_literal(comment)}"))


# --------------------------------------------------------------------------------------------------
# Reshape: a new partition count
# --------------------------------------------------------------------------------------------------


def _build_new_table(bind: Connection, run: Run) -> None:
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
        bind.execute(text(f"ALTER TABLE {NEW_TABLE} ADD CONSTRAINT {_quote(constraint)} {definition}"))
    keys = stored_partition_keys(bind)
    for i in range(m):
        part = name(partition_table_name(i, m))
        bind.execute(text(f"CREATE TABLE {_quote(part)} PARTITION OF {NEW_TABLE} FOR VALUES IN ({i}) {NO_AUTOVACUUM}"))
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
        {"p": _quote(parent)},
    ).all():
        match = re.fullmatch(r"FOR VALUES IN \((-?\d+)\)", bound or "")
        if match is not None:
            found[int(match.group(1))] = relname
    return found


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
        {"root": _quote(root)},
    ).scalars():
        bind.execute(text(f"DROP INDEX IF EXISTS {index}"))
    bind.commit()


def add_primary_key(bind: Connection, table: str, name: str | None = None) -> None:
    """``chunks``' primary key on ``table`` (for a partitioned one, on each of its partitions too), unless it
    has one (an index phase killed after it)."""
    if bind.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = to_regclass(:t) AND indisprimary)"),
        {"t": _quote(table)},
    ).scalar_one():
        return
    for _index, definition, primary in parent_indexes(bind, "chunks"):
        if primary:
            columns_sql = definition[definition.index(" USING ") :]
            columns_sql = columns_sql[columns_sql.index("(") :]
            constraint = f"CONSTRAINT {_quote(name)} " if name else ""
            bind.execute(text(f"ALTER TABLE {_quote(table)} ADD {constraint}PRIMARY KEY {columns_sql}"))
    bind.commit()


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
            index = "" if template.name is None else _quote(name(template.name.replace("{table}", final, 1)))
            bind.execute(text(template.render(index, _quote(part))))
        bind.commit()
    for index, definition, primary in parent_indexes(bind, "chunks"):
        if not primary:
            body = re.sub(r" ON (ONLY )?(public\.)?chunks ", f" ON {NEW_TABLE} ", definition, count=1)
            bind.execute(text(body.replace(f"INDEX {index} ", f"INDEX {_quote(name(index))} ", 1)))
    bind.commit()


def index_phase(bind: Connection, run: Run, root: str, build: Callable[[], None]) -> tuple[Run, float]:
    """After the copy: build the indexes (resumable: a killed phase's partial indexes are dropped and
    built again). Returns the run and the seconds it took."""
    if run.phase not in ("copied", "indexing"):
        return run, 0.0
    run = _set_phase(bind, run, "indexing")
    drop_partial_indexes(bind, root)
    started = time.perf_counter()
    build()
    took = time.perf_counter() - started
    bind.execute(text(f"UPDATE {RUNS} SET copy_seconds = copy_seconds + {took!r} WHERE id = {run.id}"))
    return _set_phase(bind, run, "indexed"), took


def swap_and_finish(
    bind: Connection, run: Run, mover: Mover, hooks: Hooks, swap: Callable[[], None], what: str, root: str
) -> tuple[int, float]:
    """The one short swap transaction (retried while a lock is not granted in time, catching up between
    attempts), then the end of the run: its figures recorded, its cursors and the old table dropped,
    autovacuum back on under ``root``. Returns the attempts and the seconds the swap took."""
    if hooks.before_swap is not None:
        hooks.before_swap()
    mover._report("swapping")
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


def _swap_reshape(bind: Connection, run: Run, mover: Mover, with_monitoring: bool) -> None:
    """The one short transaction (its lock_timeout set by the caller)."""
    took = _Stopwatch()
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


class _Stopwatch:
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


def hand_over_sequence(bind: Connection, old: str, new: str) -> None:
    """The id sequence owned by ``new``'s ``id`` (``pg_get_serial_sequence``, which writers use, follows)."""
    sequence = bind.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": old}).scalar_one_or_none()
    if sequence is not None:
        bind.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {_quote(new)}.id"))


def lock_sequence_first(bind: Connection) -> None:
    """The id sequence's lock, before the table's: a writer takes ids (a lock on the sequence) before its
    COPY locks chunks, so a swap that locked chunks first and then altered the sequence would wait for a
    writer waiting for it. A no-op ALTER SEQUENCE takes the lock (LOCK TABLE refuses sequences)."""
    hand_over_sequence(bind, "chunks", "chunks")


def _abandon_build(bind: Connection, run: Run) -> None:
    """Drop what an unfinished run built; ``chunks`` is as it was (the swap never ran)."""

    def work() -> None:
        source = (
            "chunks" if run.kind == "partitions" else partition_table_name(_isolated_partition(run), run.from_count)
        )
        drop_capture(bind, source)
        for name in (NEW_TABLE, NEXT_STATS, TEMP_PREFIX + source):
            kind = _relkind(bind, name)
            if kind is not None:
                what = "MATERIALIZED VIEW" if kind == "m" else "TABLE"
                bind.execute(text(f"DROP {what} {_quote(name)}"))
        bind.execute(text(f"DELETE FROM {RUNS} WHERE id = {run.id}"))

    with_lock_retry(bind, work, "abandon", between=lambda: None)


def _isolated_partition(run: Run) -> int:
    assert run.collection_id is not None
    return partition_for(run.collection_id, run.from_count)


def collection_footprints(bind: Connection) -> list[CollectionFootprint]:
    """Exact rows per collection (one index-only pass), bytes from its partition's bytes per row."""
    n = database_partition_count(bind)
    counts = bind.execute(
        text("SELECT collection_id, partition_key, count(*) FROM chunks GROUP BY collection_id, partition_key")
    ).all()
    sizes: dict[int, int] = dict(
        bind.execute(
            text(
                """SELECT p.partition_key, sum(pg_total_relation_size(t.relid))::bigint
                   FROM (SELECT c.oid, substring(pg_get_expr(c.relpartbound, c.oid) from '\\((-?\\d+)\\)')::int
                         AS partition_key FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                         WHERE i.inhparent = 'chunks'::regclass) AS p,
                        pg_partition_tree(p.oid) AS t
                   GROUP BY p.partition_key"""
            )
        ).all()
    )
    rows_by_partition: dict[int, int] = {}
    for _, key, rows in counts:
        rows_by_partition[key] = rows_by_partition.get(key, 0) + rows
    footprints = []
    for collection_id, key, rows in counts:
        if not 0 <= key < n:
            continue
        per_row = sizes.get(key, 0) / rows_by_partition[key] if rows_by_partition.get(key) else 0.0
        footprints.append(CollectionFootprint(collection_id, key, int(rows), round(rows * per_row)))
    return footprints


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

    async def _read(self, work: Callable[[Connection], Any]) -> Any:
        async with database_errors(), self._engine.connect() as conn:
            return await conn.run_sync(work)

    async def _change(self, work: Callable[[Connection], Any]) -> Any:
        async with database_errors(), self._engine.connect() as conn:
            return await conn.run_sync(self._locked, work)

    @staticmethod
    def _locked(bind: Connection, work: Callable[[Connection], Any]) -> Any:
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
        result: int = await self._read(database_partition_count)
        return result

    async def collection_footprints(self) -> list[CollectionFootprint]:
        result: list[CollectionFootprint] = await self._read(collection_footprints)
        return result

    async def collection_exists(self, collection_id: str) -> bool:
        def exists(bind: Connection) -> bool:
            return bool(
                bind.execute(
                    text("SELECT EXISTS (SELECT 1 FROM collections WHERE id = :c)"), {"c": collection_id}
                ).scalar_one()
            )

        result: bool = await self._read(exists)
        return result

    async def isolated_collections(self) -> list[IsolatedCollection]:
        from semantik_chunks.adapters.postgres.isolate import isolated_collections

        result: list[IsolatedCollection] = await self._read(isolated_collections)
        return result

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

        result: float | None = await self._read(rate)
        return result

    async def pending(self) -> PendingChange | None:
        def find(bind: Connection) -> PendingChange | None:
            run = unfinished_run(bind)
            return None if run is None else run.pending()

        result: PendingChange | None = await self._read(find)
        return result

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

        result: int | None = await self._read(previous)
        return result

    async def abandon(self) -> PendingChange | None:
        def abandon(bind: Connection) -> PendingChange | None:
            run = unfinished_run(bind)
            if run is None:
                return None
            _abandon_build(bind, run)
            return run.pending()

        result: PendingChange | None = await self._change(abandon)
        return result

    async def reshape(self, target: int, progress: Progress | None = None) -> ReshapeOutcome:
        result: ReshapeOutcome = await self._change(lambda bind: self._reshape(bind, target, progress))
        return result

    async def isolate(self, collection_id: str, parts: int, progress: Progress | None = None) -> ReshapeOutcome:
        from semantik_chunks.adapters.postgres import isolate

        result: ReshapeOutcome = await self._change(
            lambda bind: isolate.run_isolation(bind, collection_id, parts, self._batch_size, progress, self.hooks)
        )
        return result

    async def release(self, collection_id: str, progress: Progress | None = None) -> ReshapeOutcome:
        from semantik_chunks.adapters.postgres import isolate

        result: ReshapeOutcome = await self._change(
            lambda bind: isolate.run_release(bind, collection_id, self._batch_size, progress, self.hooks)
        )
        return result

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
            run = _reload(bind, run_id)
            _build_new_table(bind, run)
            bind.execute(
                text(
                    f"INSERT INTO {CURSORS} (run_id, source) "
                    f"SELECT {run.id}, s FROM generate_series(0, {current - 1}) AS s"
                )
            )
            run = _set_phase(bind, run, "built")  # commits the build with its run: all or nothing
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
            run = _set_phase(bind, run, "copying")
        if run.phase == "copying":
            mover.copy_all(bind)
            run = _set_phase(bind, run, "copied")
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
        attempts, swap_seconds = swap_and_finish(
            bind,
            run,
            mover,
            self.hooks,
            lambda: _swap_reshape(bind, run, mover, with_monitoring),
            "swapping in the new table",
            "chunks",
        )
        if with_monitoring:
            # The stats built beside the old table carry old partition numbers until refreshed.
            bind.execute(text("SELECT refresh_collection_chunking_stats()"))
            bind.commit()
        mover._report("done")
        logger.info("reshaped chunks from %d to %d partitions: %d rows copied", n, m, mover.rows_copied)
        return ReshapeOutcome(
            kind="partitions",
            from_count=n,
            to_count=m,
            rows_copied=mover.rows_copied,
            changes_replayed=mover.replayed,
            batches=mover.batches,
            copy_seconds=mover.copy_seconds,
            seconds=time.perf_counter() - started,
            swap_seconds=swap_seconds,
            swap_attempts=attempts,
            resumed=resumed,
        )
