"""For a host's Alembic environment: keep ``alembic revision --autogenerate`` quiet about the library.

The library's schema is migrated by the library's own revisions (docs/migrations.md). A host whose
``target_metadata`` lists only its own models would otherwise be offered a ``drop_table`` for
``chunks``, each of its partitions, ``semantik_chunks_alembic_version`` and the rest. In the host's
``env.py``::

    from semantik_chunks.alembic import include_object

    context.configure(connection=connection, target_metadata=Base.metadata, include_object=include_object)

or, with an ``include_object`` of the host's own::

    from semantik_chunks.alembic import include_object_except_library

    context.configure(..., include_object=include_object_except_library(my_include_object))

Left out: the tables ``chunks``, ``chunks_part_*`` and ``chunk_partition_history``, the version table,
the bookkeeping of partition keys and moves (``semantik_chunks_partition_keys``, ``semantik_chunks_moves``,
``semantik_chunks_move_log``),
the monitoring views and the materialized view (for an environment that reflects views), and every
index, constraint and column of those. ``collections`` is left out only when the host's models do not
have it (the library's own minimal table); when the host maps ``collections`` it is the host's,
compared as usual.
PostgreSQL functions are not compared by Alembic's autogenerate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from semantik_chunks.adapters.postgres.history import HISTORY_TABLE
from semantik_chunks.adapters.postgres.local_keys import KEYS_TABLE
from semantik_chunks.adapters.postgres.monitoring_sql import STATS_MATVIEW, VIEWS
from semantik_chunks.adapters.postgres.placement_sql import MOVE_LOG_TABLE, MOVES_TABLE
from semantik_chunks.adapters.postgres.schema import VERSION_TABLE

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]

LIBRARY_TABLES = frozenset(
    {"chunks", VERSION_TABLE, HISTORY_TABLE, STATS_MATVIEW, *VIEWS, KEYS_TABLE, MOVES_TABLE, MOVE_LOG_TABLE}
)
# A partition, and the tables of a partition move under way (docs/scale-out.md).
_PARTITION = re.compile(r"chunks_part_\d+(_home|_moved|_fdw)?")
_COLLECTIONS = "collections"


def _table_name(object_: Any, name: str | None, type_: str) -> str | None:
    if type_ == "table":
        return name
    table = getattr(object_, "table", None)  # a column, index or constraint: the table it belongs to
    return getattr(table, "name", None)


def is_library_object(object_: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """True for the library's tables, partitions, views and version table, and whatever belongs to them."""
    table = _table_name(object_, name, type_)
    if table is None:
        return False
    if table in LIBRARY_TABLES or _PARTITION.fullmatch(table):
        return True
    # The library's own collections table exists in the database only (reflected, nothing to compare to).
    return table == _COLLECTIONS and type_ == "table" and reflected and compare_to is None


def include_object(object_: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook: everything but the library's schema."""
    return not is_library_object(object_, name, type_, reflected, compare_to)


def include_object_except_library(host_include_object: IncludeObject) -> IncludeObject:
    """The host's own ``include_object``, with the library's schema left out before it is asked."""

    def include(object_: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if is_library_object(object_, name, type_, reflected, compare_to):
            return False
        return host_include_object(object_, name, type_, reflected, compare_to)

    return include
