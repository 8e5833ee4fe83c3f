"""The chunks table's keys declared on each partition instead of the parent (migration sc0007).

PostgreSQL refuses to ATTACH a foreign table to a partitioned table that has a unique index or a
foreign key. So the parent's primary key and foreign keys move to its partitions, each with the same
definition. The guarantees stay:

- ``(id, collection_id, partition_key)`` unique: unique within each partition, and a row's
  ``partition_key`` decides its partition, so two rows with the same key always meet in one partition;
- no chunk of an unknown collection: every local partition keeps the FK to ``collections`` (ON DELETE
  CASCADE). A partition on another server cannot reference the coordinator's ``collections``: there a
  trigger on the coordinator's foreign table checks the collection on every write routed through the
  coordinator, and a trigger on ``collections`` deletes the chunks of a deleted collection
  (``adapters/postgres/fdw.py``, docs/scale-out.md).

The parent's definitions are kept in ``semantik_chunks_partition_keys``, so that a partition made
later (a partition moved back home) gets the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence

KEYS_TABLE = "semantik_chunks_partition_keys"

# The parent's primary/unique keys and foreign keys (not those a partition inherited: conparentid = 0).
PARENT_KEYS = """
SELECT conname, contype::text, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE conrelid = 'chunks'::regclass AND contype IN ('p', 'u', 'f') AND conparentid = 0
ORDER BY CASE contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 ELSE 2 END, conname
"""
# Local partitions of chunks, by name: plain tables, and those an isolation sub-partitioned (relkind p;
# their keys recurse into their sub-partitions). Never a foreign table.
LOCAL_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'chunks'::regclass AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""
# Partitions of chunks that are foreign tables (on another server, docs/scale-out.md), by name.
FOREIGN_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'chunks'::regclass AND c.relkind = 'f' ORDER BY c.relname
"""
STORED_KEYS = f"SELECT suffix, kind::text, definition FROM {KEYS_TABLE} ORDER BY position"

CREATE_KEYS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
    position integer PRIMARY KEY,
    suffix text NOT NULL UNIQUE,
    kind "char" NOT NULL,
    definition text NOT NULL
)
"""
DROP_KEYS_TABLE = f"DROP TABLE IF EXISTS {KEYS_TABLE}"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def suffix_of(constraint_name: str, kind: str) -> str:
    """``chunks_pkey`` -> ``pkey``, ``chunks_collection_id_fkey`` -> ``collection_id_fkey``."""
    if kind == "p":
        return "pkey"
    return constraint_name[len("chunks_") :] if constraint_name.startswith("chunks_") else constraint_name


def partition_constraint_name(partition: str, suffix: str) -> str:
    return f"{partition}_{suffix}"[:63]


def add_keys_statements(partition: str, keys: Sequence[tuple[str, str, str]], *, table: str | None = None) -> list[str]:
    """``ALTER TABLE`` statements giving ``partition`` (or ``table``, to become it) the keys
    ``(suffix, kind, definition)``, named after ``partition``."""
    return [
        f"ALTER TABLE {_quote(table or partition)} "
        f"ADD CONSTRAINT {_quote(partition_constraint_name(partition, suffix))} {definition}"
        for suffix, _kind, definition in keys
    ]


def move_to_partitions_statements(parent_keys: Sequence[tuple[str, str, str]], partitions: Sequence[str]) -> list[str]:
    """Drop the parent's keys, declare them on every partition, remember them (all in the caller's transaction)."""
    keys = [(suffix_of(name, kind), kind, definition) for name, kind, definition in parent_keys]
    statements = [CREATE_KEYS_TABLE]
    statements += [
        f"INSERT INTO {KEYS_TABLE} (position, suffix, kind, definition) "
        f"VALUES ({i}, {_literal(suffix)}, {_literal(kind)}, {_literal(definition)})"
        for i, (suffix, kind, definition) in enumerate(keys)
    ]
    # Foreign keys first: nothing depends on them, and a PK can then go.
    for name, _kind, _definition in sorted(parent_keys, key=lambda k: k[1] != "f"):
        statements.append(f"ALTER TABLE chunks DROP CONSTRAINT {_quote(name)}")
    for partition in partitions:
        statements += add_keys_statements(partition, keys)
    return statements


def move_to_parent_statements(stored_keys: Sequence[tuple[str, str, str]], partitions: Sequence[str]) -> list[str]:
    """The reverse: the partitions' keys dropped, the parent's declared again (PostgreSQL puts them on
    every partition)."""
    statements: list[str] = []
    for partition in partitions:
        for suffix, _kind, _definition in reversed(stored_keys):
            name = partition_constraint_name(partition, suffix)
            statements.append(f"ALTER TABLE {_quote(partition)} DROP CONSTRAINT IF EXISTS {_quote(name)}")
    for suffix, _kind, definition in stored_keys:
        name = "chunks_pkey" if suffix == "pkey" else f"chunks_{suffix}"
        statements.append(f"ALTER TABLE chunks ADD CONSTRAINT {_quote(name)} {definition}")
    statements.append(DROP_KEYS_TABLE)
    return statements
