"""What the table has, read from the catalog: its columns, what a rebuild beside it refuses to start
without (``preflight``), the keys sc0007 put on each partition, the host's views over it, its partitions'
indexes as templates, its foreign keys and triggers, and each collection's footprint (which plans read);
then the names of the new objects (``Namer``), their renaming to the final names in the swap, and
autovacuum turned back on for the leaves built without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import attrs
from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres import local_keys, monitoring_sql, placement_sql, schema
from semantik_chunks.adapters.postgres.reshape.state import (
    CAPTURE_TRIGGER,
    GUARD_TRIGGER,
    NAMES,
    NEXT_STATS,
    OLD_PREFIX,
    TEMP_PREFIX,
    database_partition_count,
    quote_ident,
    quote_literal,
    relation_exists,
)
from semantik_chunks.domain.hashing import partition_table_name
from semantik_chunks.domain.reshape import CollectionFootprint, ReshapeError


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
            bind.execute(
                text(f"ALTER TABLE {quote_ident(table)} ADD CONSTRAINT {quote_ident(constraint)} {definition}")
            )


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
            {"t": quote_ident(table), "k": kind, "d": definition},
        ).scalar_one():
            continue
        constraint = name(local_keys.partition_constraint_name(final, suffix))
        bind.execute(text(f"ALTER TABLE {quote_ident(table)} ADD CONSTRAINT {quote_ident(constraint)} {definition}"))


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
            {"v": quote_ident(name)},
        ).all()
        views.append(HostView(name, kind, definition, owner, tuple((p, g, bool(o)) for p, g, o in grants), comment))
    return views


def drop_host_views(bind: Connection, views: Sequence[HostView]) -> None:
    for view in reversed(views):
        what = "MATERIALIZED VIEW" if view.kind == "m" else "VIEW"
        bind.execute(text(f"DROP {what} IF EXISTS {quote_ident(view.name)}"))


def create_host_views(bind: Connection, views: Sequence[HostView]) -> None:
    """The host's views again, from their definitions (which name ``chunks``: now the new table)."""
    for view in views:
        what = "MATERIALIZED VIEW" if view.kind == "m" else "VIEW"
        bind.exec_driver_sql(f"CREATE {what} {quote_ident(view.name)} AS {view.definition}")
        bind.execute(text(f"ALTER {what} {quote_ident(view.name)} OWNER TO {view.owner}"))
        for privilege, grantee, grantable in view.grants:
            option = " WITH GRANT OPTION" if grantable else ""
            bind.execute(text(f"GRANT {privilege} ON {quote_ident(view.name)} TO {grantee}{option}"))
        if view.comment is not None:
            bind.execute(text(f"COMMENT ON {what} {quote_ident(view.name)} IS {quote_literal(view.comment)}"))


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


def relkind(bind: Connection, name: str) -> str | None:
    kind: str | None = bind.execute(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:n)"), {"n": quote_ident(name)}
    ).scalar_one_or_none()
    return kind


def _rename(bind: Connection, name: str, new_name: str) -> None:
    kind = relkind(bind, name)
    if kind is None:
        return
    what = {"i": "INDEX", "I": "INDEX", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
    bind.execute(text(f"ALTER {what} {quote_ident(name)} RENAME TO {quote_ident(new_name)}"))


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
