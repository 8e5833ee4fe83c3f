"""DDL of the monitoring views and functions, rendered from the domain's thresholds.

Every status the SQL computes uses the same thresholds and the same float arithmetic as
``domain.skew`` (skews and percentages in ``float8``, in the same order of operations), so
a view and the domain agree on the same data, boundaries included: the skews divide exact
integers once, like ``skew.skew_factor``.

Cost. The health path (``partition_health_summary``, ``partition_health``,
``partition_distribution``, ``partition_size_distribution``, ``partition_stats``) reads row counts
from the statistics (``pg_stat_get_live_tuples``, the function behind
``pg_stat_user_tables.n_live_tup``) and sizes from ``pg_total_relation_size``: O(partitions),
whatever the table holds. ``partition_stats.created_at`` takes one backwards index probe per
partition; ``partition_hot_spots`` reads the last week's rows through the created_at index.
A partition on another server (a postgres_fdw foreign table, docs/scale-out.md) is read from that
server's own statistics views, one query per server, each in a subtransaction that turns a server
that does not answer into rows with ``reachable`` false: nothing here reads rows through a foreign
partition, so a server that is down never makes these views fail.
``partition_chunk_distribution`` and ``collection_chunking_stats`` count distinct documents
and average tokens, so they read the whole table (the latter only when refreshed).
"""

from __future__ import annotations

from semantik_chunks.domain import advice
from semantik_chunks.domain.thresholds import DEFAULT_THRESHOLDS, Thresholds

CATALOG_VIEW = "chunk_partition_catalog"
STATS_MATVIEW = "collection_chunking_stats"
VIEWS = (
    CATALOG_VIEW,
    "partition_stats",
    "partition_health_summary",
    "partition_health",
    "partition_distribution",
    "partition_size_distribution",
    "partition_chunk_distribution",
    "partition_hot_spots",
    "partition_isolated_collections",
)
FUNCTIONS = (
    "analyze_partition_skew()",
    "refresh_collection_chunking_stats()",
    "chunks_written_since(interval)",
    "chunk_remote_partition_stats()",
    "chunk_remote_partition_activity()",
    "chunk_local_partition_newest()",
    "chunk_local_partition_activity()",
)
# On each server holding partitions (placement_sql.REMOTE_STATEMENTS), read by the coordinator through
# these foreign tables, one pair per server (made by ``servers add`` and by every move to the server).
REMOTE_STATS_PREFIX = "semantik_chunks_stats__"
REMOTE_ACTIVITY_PREFIX = "semantik_chunks_activity__"
COORDINATOR = "coordinator"

_N = "chunk_partition_count()"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _float(value: float) -> str:
    # repr round-trips, so PostgreSQL parses the very double Python compares against.
    return f"{float(value)!r}::float8"


def _skew(part: str, total: str) -> str:
    """``skew.skew_factor``: ``|part * N - total| / total``, exact integers divided once in float8
    (so a skew of exactly 0.3 is 0.3), 0 for an empty table."""
    deviation = f"abs({part}::bigint * {_N} - {total}::bigint)"
    return f"CASE WHEN {total} > 0 THEN {deviation}::float8 / {total}::float8 ELSE 0::float8 END"


def _percentage(part: str, total: str) -> str:
    """``100.0 * part / total`` as the domain computes it, 0 for an empty table."""
    return f"CASE WHEN {total} > 0 THEN 100.0::float8 * {part} / {total} ELSE 0::float8 END"


def _health_status(skew: str, thresholds: Thresholds) -> str:
    """``skew.health_status``: only HEALTHY, WARNING and UNBALANCED."""
    return (
        f"CASE WHEN {skew} >= {_float(thresholds.critical)} THEN 'UNBALANCED' "
        f"WHEN {skew} >= {_float(thresholds.warning)} THEN 'WARNING' ELSE 'HEALTHY' END"
    )


def _skew_status(value: str, thresholds: Thresholds) -> str:
    """``skew.skew_status``: NORMAL, WARNING or CRITICAL."""
    return (
        f"CASE WHEN {value} >= {_float(thresholds.critical)} THEN 'CRITICAL' "
        f"WHEN {value} >= {_float(thresholds.warning)} THEN 'WARNING' ELSE 'NORMAL' END"
    )


def _names() -> str:
    return f"""(
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length(({_N} - 1)::text)), '0') AS partition_name
    FROM generate_series(0, {_N} - 1) AS n
)"""


_STATS_COLUMNS = (
    ("row_count", "bigint"),
    ("dead_rows", "bigint"),
    ("size_bytes", "bigint"),
    ("writes", "bigint"),
    ("newest_chunk_at", "timestamptz"),
    ("last_vacuum", "timestamptz"),
    ("last_autovacuum", "timestamptz"),
)
_ACTIVITY_COLUMNS = (("last_hour", "bigint"), ("last_day", "bigint"), ("last_week", "bigint"))


def _remote_function(name: str, prefix: str, columns: tuple[tuple[str, str], ...]) -> str:
    """Rows of the partitions on other servers, each server read through its foreign table
    ``prefix || server``. A server that does not answer (or lacks the table) gives its partitions
    with ``reachable`` false, zeros, and the error's message: never an error, so the views over
    this stay readable while a server is down. One remote query per server."""
    declared = ", ".join(f"{c} {t}" for c, t in columns)
    values = ", ".join(f"coalesce(x.{c}, 0)" if t == "bigint" else f"x.{c}" for c, t in columns)
    return f"""
CREATE FUNCTION {name}()
RETURNS TABLE(partition_name text, server text, reachable boolean, {declared}, error text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    s record;
    got jsonb;
    failure text;
BEGIN
    FOR s IN
        SELECT fs.srvname::text AS name, array_agg(c.relname::text ORDER BY c.relname) AS parts
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        JOIN pg_foreign_table AS ft ON ft.ftrelid = c.oid
        JOIN pg_foreign_server AS fs ON fs.oid = ft.ftserver
        WHERE i.inhparent = 'chunks'::regclass
        GROUP BY fs.srvname
        ORDER BY fs.srvname
    LOOP
        got := NULL;
        failure := NULL;
        BEGIN
            EXECUTE format('SELECT coalesce(jsonb_agg(t), ''[]'') FROM %I AS t WHERE t.partition_name = ANY($1)',
                           '{prefix}' || s.name)
                INTO got USING s.parts;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        RETURN QUERY
            SELECT p.name, s.name, x.partition_name IS NOT NULL, {values},
                   CASE WHEN x.partition_name IS NOT NULL THEN NULL
                        ELSE coalesce(failure, 'the server has no table ' || p.name) END
            FROM unnest(s.parts) AS p(name)
            LEFT JOIN jsonb_to_recordset(coalesce(got, '[]')) AS x(partition_name text, {declared})
                   ON x.partition_name = p.name;
    END LOOP;
END
$fn$
"""


def _local_function(name: str, returns: str, all_local: str, select: str, rest: str = " FROM %s AS t") -> str:
    """One row per partition of the coordinator's own (never a foreign one, which a server that is down
    would fail). While every partition is local, ``all_local``: a static query over ``chunks``, planned
    once per session. Otherwise ``select`` run on each local partition by name, glued with UNION ALL
    (planned at each call: its cost is part of what partitions on other servers cost)."""
    return f"""
CREATE FUNCTION {name}()
RETURNS TABLE(partition_name text, {returns})
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    query text;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'chunks'::regclass AND c.relkind = 'f'
    ) THEN
        RETURN QUERY {all_local};
        RETURN;
    END IF;
    SELECT string_agg(format({_literal("SELECT %L::text, " + select + rest)},
                             c.relname, c.oid::regclass), ' UNION ALL ')
        INTO query
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'chunks'::regclass AND c.relkind IN ('r', 'p');
    IF query IS NOT NULL THEN
        RETURN QUERY EXECUTE query;
    END IF;
END
$fn$
"""


_WINDOWS = {"hour": "1 hour", "day": "24 hours", "week": "168 hours"}


def newest_all_local_sql() -> str:
    """``chunk_local_partition_newest()`` while every partition is local: max(created_at) per partition,
    one backwards probe of its created_at index each (run-time pruning)."""
    return (
        f"SELECT n.partition_name, (SELECT max(k.created_at) FROM chunks AS k WHERE k.partition_key = n.partition_num) "
        f"FROM {_names()} AS n"
    )


def activity_all_local_sql() -> str:
    """``chunk_local_partition_activity()`` while every partition is local: the week's rows read through
    the created_at indexes (chunks_written_since is inlined into now() - span, and PARALLEL UNSAFE keeps
    the query serial)."""
    counts = ", ".join(
        f"count(*) FILTER (WHERE created_at > chunks_written_since('{span}'))" for span in _WINDOWS.values()
    )
    return (
        f"SELECT n.partition_name, a.h, a.d, a.w FROM (SELECT partition_key, {counts} FROM chunks "
        f"WHERE created_at > chunks_written_since('{_WINDOWS['week']}') GROUP BY partition_key) "
        "AS a(partition_key, h, d, w) "
        f"JOIN {_names()} AS n ON n.partition_num = a.partition_key"
    )


def _functions_before_views() -> list[str]:
    return [
        _remote_function("chunk_remote_partition_stats", REMOTE_STATS_PREFIX, _STATS_COLUMNS),
        _remote_function("chunk_remote_partition_activity", REMOTE_ACTIVITY_PREFIX, _ACTIVITY_COLUMNS),
        _WRITTEN_SINCE_FUNCTION,
        _local_function(
            "chunk_local_partition_newest",
            "newest_chunk_at timestamptz",
            newest_all_local_sql(),
            "(SELECT max(created_at) FROM %s)",
            "",
        ),
        _local_function(
            "chunk_local_partition_activity",
            "last_hour bigint, last_day bigint, last_week bigint",
            activity_all_local_sql(),
            "count(*) FILTER (WHERE t.created_at > now() - interval '1 hour'), "
            "count(*) FILTER (WHERE t.created_at > now() - interval '24 hours'), count(*)",
            " FROM %s AS t WHERE t.created_at > now() - interval '168 hours'",
        ),
    ]


def _catalog_view() -> str:
    # A partition found by name among the children of chunks; one row per partition number,
    # also for a partition that is missing. A partition sub-partitioned by an isolation
    # (docs/reshape.md) counts the rows and bytes of all its leaves. Row counts fall back to
    # reltuples when the statistics were reset (no insert counted since), e.g. after a crash. A
    # partition on another server (a foreign table) has its figures from that server's own
    # statistics; ``reachable`` is false (figures 0, ``unreachable_reason`` set) while that server
    # does not answer.
    return f"""
CREATE VIEW {CATALOG_VIEW} AS
WITH remote AS (
    SELECT * FROM chunk_remote_partition_stats()
)
SELECT p.partition_num,
       p.partition_name,
       CASE WHEN r.partition_name IS NOT NULL THEN r.row_count ELSE coalesce(leaves.row_count, 0)::bigint END
           AS row_count,
       CASE WHEN r.partition_name IS NOT NULL THEN r.dead_rows ELSE coalesce(leaves.dead_rows, 0)::bigint END
           AS dead_rows,
       CASE WHEN r.partition_name IS NOT NULL THEN r.size_bytes ELSE coalesce(leaves.size_bytes, 0)::bigint END
           AS size_bytes,
       coalesce(r.server, {_literal(COORDINATOR)}) AS server,
       coalesce(r.reachable, true) AS reachable,
       r.error AS unreachable_reason,
       CASE WHEN r.partition_name IS NOT NULL THEN r.writes ELSE coalesce(leaves.writes, 0)::bigint END AS writes,
       CASE WHEN r.partition_name IS NOT NULL THEN r.last_vacuum ELSE leaves.last_vacuum END AS last_vacuum,
       CASE WHEN r.partition_name IS NOT NULL THEN r.last_autovacuum ELSE leaves.last_autovacuum END
           AS last_autovacuum,
       r.newest_chunk_at AS remote_newest_chunk_at
FROM {_names()} AS p
LEFT JOIN (pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid)
       ON i.inhparent = 'chunks'::regclass AND c.relname = p.partition_name
LEFT JOIN LATERAL (
    SELECT sum(CASE
                   WHEN pg_stat_get_live_tuples(l.oid) = 0 AND pg_stat_get_tuples_inserted(l.oid) = 0
                        AND pg_stat_get_dead_tuples(l.oid) = 0 THEN greatest(l.reltuples, 0)::bigint
                   ELSE pg_stat_get_live_tuples(l.oid)
               END) AS row_count,
           sum(pg_stat_get_dead_tuples(l.oid)) AS dead_rows,
           sum(pg_total_relation_size(l.oid)) AS size_bytes,
           sum(pg_stat_get_tuples_inserted(l.oid) + pg_stat_get_tuples_updated(l.oid)
               + pg_stat_get_tuples_deleted(l.oid)) AS writes,
           max(pg_stat_get_last_vacuum_time(l.oid)) AS last_vacuum,
           max(pg_stat_get_last_autovacuum_time(l.oid)) AS last_autovacuum
    FROM pg_partition_tree(c.oid) AS tree JOIN pg_class AS l ON l.oid = tree.relid
    WHERE tree.isleaf AND l.relkind <> 'f'
) AS leaves ON c.oid IS NOT NULL
LEFT JOIN remote AS r ON r.partition_name = p.partition_name
"""


ISOLATED_VIEW = "partition_isolated_collections"
# The collection a sub-partition is bound to, from its bound ``FOR VALUES IN ('id')`` ('' unescaped).
_BOUND_VALUE = (
    r"""replace((regexp_match(pg_get_expr(s.relpartbound, s.oid), '^FOR VALUES IN \(''(.*)''\)$'))[1], '''''', '''')"""
)


# The isolated collections as the adapters read them (the reshaper and the statistics).
ISOLATED_QUERY = f"""
SELECT collection_id, partition_num, sub_partition, parts, rows, size_bytes
FROM {ISOLATED_VIEW} ORDER BY partition_num, collection_id COLLATE "C"
"""


def _isolated_view() -> str:
    # The sub-partitions an isolation made (docs/reshape.md): a partition of chunks that is itself
    # partitioned by collection_id, one sub-partition per isolated collection (bound to that one
    # value), possibly hash-split into parts, and a DEFAULT one for the neighbours (not listed).
    return f"""
CREATE VIEW {ISOLATED_VIEW} AS
SELECT {_BOUND_VALUE} AS collection_id,
       substring(pg_get_expr(t.relpartbound, t.oid) FROM '\\((-?\\d+)\\)')::integer AS partition_num,
       t.relname::text AS partition_name,
       s.relname::text AS sub_partition,
       greatest(1, (SELECT count(*) FROM pg_inherits AS h WHERE h.inhparent = s.oid))::integer AS parts,
       coalesce(leaves.rows, 0)::bigint AS rows,
       coalesce(leaves.size_bytes, 0)::bigint AS size_bytes,
       pg_size_pretty(coalesce(leaves.size_bytes, 0)::bigint) AS size_pretty
FROM pg_inherits AS ti
JOIN pg_class AS t ON t.oid = ti.inhrelid AND t.relkind = 'p'
JOIN pg_inherits AS si ON si.inhparent = t.oid
JOIN pg_class AS s ON s.oid = si.inhrelid AND pg_get_expr(s.relpartbound, s.oid) <> 'DEFAULT'
LEFT JOIN LATERAL (
    SELECT sum(pg_stat_get_live_tuples(tree.relid)) AS rows, sum(pg_total_relation_size(tree.relid)) AS size_bytes
    FROM pg_partition_tree(s.oid) AS tree WHERE tree.isleaf
) AS leaves ON true
WHERE ti.inhparent = 'chunks'::regclass
"""


def _partition_stats_view() -> str:
    # max(created_at) per partition: one backwards probe of each local partition's created_at index, and
    # the servers' own answers for theirs (never read through the foreign table: a server down would fail it).
    return f"""
CREATE VIEW partition_stats AS
SELECT c.partition_num,
       c.partition_name,
       c.row_count AS chunk_count,
       round(c.size_bytes / 1048576.0, 3) AS total_size_mb,
       CASE WHEN c.row_count > 0 THEN round(c.size_bytes / 1024.0 / c.row_count, 3) ELSE 0 END AS avg_chunk_size_kb,
       coalesce(local.newest_chunk_at, c.remote_newest_chunk_at) AS created_at,
       c.size_bytes,
       c.dead_rows,
       c.writes,
       c.server,
       c.reachable,
       c.unreachable_reason
FROM {CATALOG_VIEW} AS c
LEFT JOIN chunk_local_partition_newest() AS local ON local.partition_name = c.partition_name
ORDER BY c.partition_num
"""


def _health_summary_view(thresholds: Thresholds) -> str:
    chunk_skew = _skew("cat.row_count", "totals.total_rows")
    size_skew = _skew("cat.size_bytes", "totals.total_bytes")
    return f"""
CREATE VIEW partition_health_summary AS
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM {CATALOG_VIEW}
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows, sum(size_bytes)::bigint AS total_bytes FROM cat
), skews AS (
    SELECT cat.partition_num, cat.row_count, cat.size_bytes, totals.total_rows, totals.total_bytes,
           {chunk_skew} AS chunk_skew,
           {size_skew} AS size_skew
    FROM cat CROSS JOIN totals
), statuses AS (
    SELECT skews.*, {_health_status("chunk_skew", thresholds)} AS health_status FROM skews
)
SELECT partition_num,
       row_count AS chunk_count,
       total_rows AS total_chunks,
       ({_percentage("row_count", "total_rows")})::numeric AS chunk_percentage,
       ({_percentage("size_bytes", "total_bytes")})::numeric AS size_percentage,
       health_status,
       chunk_skew::numeric AS chunk_skew,
       size_skew::numeric AS size_skew,
       CASE health_status
           WHEN 'UNBALANCED' THEN {_literal(advice.UNBALANCED_RECOMMENDATION)}
           WHEN 'WARNING' THEN {_literal(advice.WARNING_RECOMMENDATION)}
       END AS recommendation,
       pg_size_pretty(size_bytes) AS partition_size,
       size_bytes
FROM statuses
ORDER BY partition_num
"""


def _partition_health_view(thresholds: Thresholds) -> str:
    # skew.partition_loads: deviation from the average row count, (rows * N - total) / total divided
    # once, HOT/COLD at the warning threshold. last_vacuum, last_autovacuum and needs_vacuum as the host's
    # seed 000 defines them (pg_stat_user_tables; more than 10 % dead rows against live ones).
    return f"""
CREATE VIEW partition_health AS
WITH cat AS (
    SELECT * FROM {CATALOG_VIEW}
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows FROM cat
), deviations AS (
    SELECT cat.*, totals.total_rows,
           CASE WHEN totals.total_rows > 0
                THEN (cat.row_count * {_N} - totals.total_rows)::float8 / totals.total_rows::float8
                ELSE 0::float8 END AS deviation
    FROM cat CROSS JOIN totals
)
SELECT partition_name,
       partition_num AS partition_id,
       partition_num,
       size_bytes,
       row_count,
       dead_rows,
       last_vacuum,
       last_autovacuum,
       pg_size_pretty(size_bytes) AS size_pretty,
       (100.0::float8 * deviation)::numeric AS pct_deviation_from_avg,
       CASE
           WHEN total_rows > 0 AND deviation >= {_float(thresholds.warning)} THEN 'HOT'
           WHEN total_rows > 0 AND -deviation >= {_float(thresholds.warning)} THEN 'COLD'
           ELSE 'NORMAL'
       END AS partition_status,
       dead_rows > row_count * 0.1 AS needs_vacuum
FROM deviations
ORDER BY partition_num
"""


def _distribution_view(thresholds: Thresholds) -> str:
    # skew.distribution_stats: sample standard deviation, average over all N partitions.
    max_skew = _skew("max_chunks", "total_chunks")
    return f"""
CREATE VIEW partition_distribution AS
WITH cat AS (
    SELECT row_count, size_bytes FROM {CATALOG_VIEW}
), agg AS (
    SELECT count(*) FILTER (WHERE row_count > 0) AS partitions_used,
           count(*) FILTER (WHERE row_count = 0) AS empty_partitions,
           coalesce(sum(row_count), 0)::bigint AS total_chunks,
           coalesce(sum(size_bytes), 0)::bigint AS total_size_bytes,
           coalesce(max(row_count), 0) AS max_chunks,
           coalesce(min(row_count), 0) AS min_chunks,
           coalesce(stddev_samp(row_count), 0) AS stddev_chunks
    FROM cat
)
SELECT {_N} AS partition_count,
       partitions_used,
       total_chunks,
       total_size_bytes,
       (total_chunks::float8 / {_N})::numeric AS avg_chunks_per_partition,
       stddev_chunks,
       max_chunks,
       min_chunks,
       (CASE WHEN total_chunks > 0 THEN max_chunks / (total_chunks::float8 / {_N}) ELSE 0::float8 END)::numeric
           AS max_skew_ratio,
       {_health_status(max_skew, thresholds)} AS distribution_status,
       empty_partitions
FROM agg
"""


def _size_distribution_view() -> str:
    return f"""
CREATE VIEW partition_size_distribution AS
WITH cat AS (
    SELECT * FROM {CATALOG_VIEW}
), totals AS (
    SELECT sum(size_bytes) AS total_bytes FROM cat
)
SELECT cat.partition_num,
       cat.partition_name,
       cat.size_bytes,
       pg_size_pretty(cat.size_bytes) AS size_pretty,
       CASE WHEN totals.total_bytes > 0 THEN round(100.0 * cat.size_bytes / totals.total_bytes, 2) ELSE 0 END
           AS size_percentage,
       cat.row_count AS row_estimate
FROM cat CROSS JOIN totals
ORDER BY cat.partition_num
"""


def _chunk_distribution_view() -> str:
    # Distinct documents and collections and average tokens cannot come from statistics: this one scans.
    return f"""
CREATE VIEW partition_chunk_distribution AS
WITH counts AS (
    SELECT partition_key,
           count(*) AS chunk_count,
           count(DISTINCT document_id) AS document_count,
           count(DISTINCT collection_id) AS collection_count,
           avg(token_count) AS avg_tokens,
           min(created_at) AS oldest_chunk,
           max(created_at) AS newest_chunk
    FROM chunks
    GROUP BY partition_key
), totals AS (
    SELECT sum(chunk_count) AS total FROM counts
)
SELECT p.partition_num,
       coalesce(counts.chunk_count, 0) AS chunk_count,
       coalesce(counts.document_count, 0) AS document_count,
       coalesce(counts.collection_count, 0) AS collection_count,
       coalesce(round(counts.avg_tokens, 2), 0) AS avg_tokens,
       CASE WHEN totals.total > 0 THEN round(100.0 * coalesce(counts.chunk_count, 0) / totals.total, 2) ELSE 0 END
           AS chunk_percentage,
       counts.oldest_chunk,
       counts.newest_chunk
FROM generate_series(0, {_N} - 1) AS p(partition_num)
LEFT JOIN counts ON counts.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num
"""


_WRITTEN_SINCE_FUNCTION = """
CREATE FUNCTION chunks_written_since(span interval) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL UNSAFE AS 'SELECT now() - span'
"""
# Inlined into ``now() - span``, so the created_at indexes serve it; PARALLEL UNSAFE keeps the
# hot-spot query serial, since starting workers costs more than reading a week of writes.


def _hot_spots_view() -> str:
    # Only the last week's rows are read, through the created_at index of each partition. The
    # windows are in hours (24, 168), as the memory adapter's timedelta(days=...) are: a '1 day'
    # interval would also cost a time-zone computation per row.
    windows = {"hour": "1 hour", "day": "24 hours", "week": "168 hours"}
    totals = ", ".join(f"sum(last_{name}) AS total_{name}" for name in windows)
    columns = ",\n       ".join(f"coalesce(recent.last_{name}, 0) AS chunks_last_{name}" for name in windows)
    percentages = ",\n       ".join(
        f"CASE WHEN totals.total_{name} > 0 THEN 100.0 * coalesce(recent.last_{name}, 0) / totals.total_{name} "
        f"ELSE 0 END AS {name}_percentage"
        for name in windows
    )
    return f"""
CREATE VIEW partition_hot_spots AS
WITH activity AS (
    SELECT partition_name, last_hour, last_day, last_week FROM chunk_local_partition_activity()
    UNION ALL
    SELECT partition_name, last_hour, last_day, last_week FROM chunk_remote_partition_activity()
), recent AS (
    SELECT names.partition_num AS partition_key, activity.last_hour, activity.last_day, activity.last_week
    FROM {_names()} AS names JOIN activity ON activity.partition_name = names.partition_name
), totals AS (
    SELECT {totals} FROM recent
)
SELECT p.partition_num,
       {columns},
       {percentages}
FROM generate_series(0, {_N} - 1) AS p(partition_num)
LEFT JOIN recent ON recent.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num
"""


def collection_stats_matview(table: str = "chunks", name: str = STATS_MATVIEW) -> list[str]:
    """The materialized view over ``table`` under ``name`` (a reshape builds the next one beside the old)."""
    return [
        f"""
CREATE MATERIALIZED VIEW {name} AS
SELECT c.id,
       c.name,
       get_partition_key(c.id) AS partition_num,
       coalesce(s.chunked_documents, 0) AS chunked_documents,
       coalesce(s.total_chunks, 0) AS total_chunks,
       s.avg_tokens_per_chunk,
       s.last_chunk_created
FROM collections AS c
LEFT JOIN (
    SELECT collection_id,
           count(DISTINCT document_id) AS chunked_documents,
           count(*) AS total_chunks,
           avg(token_count) AS avg_tokens_per_chunk,
           max(created_at) AS last_chunk_created
    FROM {table}
    GROUP BY collection_id
) AS s ON s.collection_id = c.id
WITH DATA
""",
        # REFRESH ... CONCURRENTLY needs a unique index on plain columns covering every row.
        f"CREATE UNIQUE INDEX {name}_id ON {name} (id)",
        f"CREATE INDEX {name}_partition ON {name} (partition_num, total_chunks DESC)",
    ]


def _analyze_skew_function(thresholds: Thresholds) -> str:
    # skew.skew_metrics: worst chunk and size skew (first partition on ties), and the
    # coefficient of variation (population standard deviation over the mean) of chunk counts.
    chunk_skew = _skew("cat.row_count", "totals.total_rows")
    size_skew = _skew("cat.size_bytes", "totals.total_bytes")
    return f"""
CREATE FUNCTION analyze_partition_skew()
RETURNS TABLE(metric text, value numeric, status text, details text)
LANGUAGE sql STABLE AS $$
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM {CATALOG_VIEW}
), totals AS (
    SELECT sum(row_count) AS total_rows, sum(size_bytes) AS total_bytes,
           coalesce(stddev_pop(row_count::numeric), 0) AS sd_rows, count(*) AS partitions
    FROM cat
), skews AS (
    SELECT cat.partition_num, {chunk_skew} AS chunk_skew, {size_skew} AS size_skew FROM cat CROSS JOIN totals
), worst_chunk AS (
    SELECT partition_num, chunk_skew FROM skews ORDER BY chunk_skew DESC, partition_num LIMIT 1
), worst_size AS (
    SELECT partition_num, size_skew FROM skews ORDER BY size_skew DESC, partition_num LIMIT 1
), variation AS (
    SELECT (CASE WHEN total_rows > 0 AND partitions > 1
                 THEN sd_rows / (total_rows::numeric / {_N}) ELSE 0 END)::float8 AS value
    FROM totals
)
SELECT 'chunk_distribution'::text,
       w.chunk_skew::numeric,
       {_skew_status("w.chunk_skew", thresholds)},
       CASE WHEN t.total_rows > 0
            THEN format('max chunk skew %s at partition %s', round(w.chunk_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_chunk AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'size_distribution'::text,
       w.size_skew::numeric,
       {_skew_status("w.size_skew", thresholds)},
       CASE WHEN t.total_rows > 0
            THEN format('max size skew %s at partition %s', round(w.size_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_size AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'chunk_count_variation'::text,
       v.value::numeric,
       {_skew_status("v.value", thresholds)},
       format('coefficient of variation of chunk counts over %s partitions', {_N})
FROM variation AS v
$$
"""


_REFRESH_FUNCTION = f"""
CREATE FUNCTION refresh_collection_chunking_stats() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- CONCURRENTLY keeps readers unblocked but needs a populated view; the first fill is a plain refresh.
    IF (SELECT relispopulated FROM pg_class WHERE oid = '{STATS_MATVIEW}'::regclass) THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY {STATS_MATVIEW};
    ELSE
        REFRESH MATERIALIZED VIEW {STATS_MATVIEW};
    END IF;
END
$$
"""


def drop_statements() -> list[str]:
    """Drop every monitoring object of these names, whoever made it and whatever kind it is
    (a host's same-named views, or a materialized view where a view is expected)."""
    names = ", ".join(_literal(name) for name in (*VIEWS, STATS_MATVIEW))
    drop_relations = f"""
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.relname, c.relkind
        FROM unnest(ARRAY[{names}]) AS wanted(name)
        JOIN pg_class AS c ON c.oid = to_regclass(wanted.name)
    LOOP
        IF found.relkind = 'v' THEN
            EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', found.relname);
        ELSIF found.relkind = 'm' THEN
            EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I CASCADE', found.relname);
        END IF;
    END LOOP;
END
$$
"""
    return [*(f"DROP FUNCTION IF EXISTS {f} CASCADE" for f in FUNCTIONS), drop_relations]


def create_statements(thresholds: Thresholds = DEFAULT_THRESHOLDS, *, stats_matview: bool = True) -> list[str]:
    """Every view, the materialized view (unless a reshape brings its own) and the functions, in dependency order."""
    return [
        *_functions_before_views(),
        _catalog_view(),
        _partition_stats_view(),
        _health_summary_view(thresholds),
        _partition_health_view(thresholds),
        _distribution_view(thresholds),
        _size_distribution_view(),
        _chunk_distribution_view(),
        _hot_spots_view(),
        _isolated_view(),
        *(collection_stats_matview() if stats_matview else []),
        _analyze_skew_function(thresholds),
        _REFRESH_FUNCTION,
    ]
