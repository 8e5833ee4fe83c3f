# ruff: noqa: E501 -- the frozen DDL is kept verbatim, long lines included
"""Monitoring objects that know sub-partitioned partitions (isolated collections), and their own view.

``chunk_partition_catalog`` (and so every view on it) now sums the rows and bytes of all the leaves
of a partition, which an isolation (``semantik-chunks isolate``, docs/reshape.md) turns into
sub-partitions; the view ``partition_isolated_collections`` lists the isolated collections. The
monitoring objects are dropped and created again from ``monitoring_sql``; the downgrade puts back
sc0005's (frozen there).

The monitoring DDL below is frozen: it is what ``semantik_chunks.adapters.postgres.monitoring_sql``
rendered when this revision was released (default thresholds), copied here verbatim (as was done for
sc0003 and sc0005) when sc0007 changed that module, so that this revision keeps doing what it did.

Revision ID: sc0006
Revises: sc0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op
from semantik_chunks.migrations.versions import sc0005_host_names

revision = "sc0006"
down_revision = "sc0005"
branch_labels = None
depends_on = None

# fmt: off
DROP_STATEMENTS: tuple[str, ...] = (
    r"""DROP FUNCTION IF EXISTS analyze_partition_skew() CASCADE""",
    r"""DROP FUNCTION IF EXISTS refresh_collection_chunking_stats() CASCADE""",
    r"""DROP FUNCTION IF EXISTS chunks_written_since(interval) CASCADE""",
    r"""
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.relname, c.relkind
        FROM unnest(ARRAY['chunk_partition_catalog', 'partition_stats', 'partition_health_summary', 'partition_health', 'partition_distribution', 'partition_size_distribution', 'partition_chunk_distribution', 'partition_hot_spots', 'partition_isolated_collections', 'collection_chunking_stats']) AS wanted(name)
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
""",
)
CREATE_STATEMENTS: tuple[str, ...] = (
    r"""
CREATE VIEW chunk_partition_catalog AS
SELECT p.partition_num,
       p.partition_name,
       coalesce(leaves.row_count, 0)::bigint AS row_count,
       coalesce(leaves.dead_rows, 0)::bigint AS dead_rows,
       coalesce(leaves.size_bytes, 0)::bigint AS size_bytes
FROM (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS p
LEFT JOIN (pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid)
       ON i.inhparent = 'chunks'::regclass AND c.relname = p.partition_name
LEFT JOIN LATERAL (
    SELECT sum(CASE
                   WHEN pg_stat_get_live_tuples(l.oid) = 0 AND pg_stat_get_tuples_inserted(l.oid) = 0
                        AND pg_stat_get_dead_tuples(l.oid) = 0 THEN greatest(l.reltuples, 0)::bigint
                   ELSE pg_stat_get_live_tuples(l.oid)
               END) AS row_count,
           sum(pg_stat_get_dead_tuples(l.oid)) AS dead_rows,
           sum(pg_total_relation_size(l.oid)) AS size_bytes
    FROM pg_partition_tree(c.oid) AS tree JOIN pg_class AS l ON l.oid = tree.relid
    WHERE tree.isleaf
) AS leaves ON c.oid IS NOT NULL
""",
    r"""
CREATE VIEW partition_stats AS
SELECT c.partition_num,
       c.partition_name,
       c.row_count AS chunk_count,
       round(c.size_bytes / 1048576.0, 3) AS total_size_mb,
       CASE WHEN c.row_count > 0 THEN round(c.size_bytes / 1024.0 / c.row_count, 3) ELSE 0 END AS avg_chunk_size_kb,
       (SELECT max(k.created_at) FROM chunks AS k WHERE k.partition_key = c.partition_num) AS created_at,
       c.size_bytes,
       c.dead_rows
FROM chunk_partition_catalog AS c
ORDER BY c.partition_num
""",
    r"""
CREATE VIEW partition_health_summary AS
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows, sum(size_bytes)::bigint AS total_bytes FROM cat
), skews AS (
    SELECT cat.partition_num, cat.row_count, cat.size_bytes, totals.total_rows, totals.total_bytes,
           CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew,
           CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew
    FROM cat CROSS JOIN totals
), statuses AS (
    SELECT skews.*, CASE WHEN chunk_skew >= 0.5::float8 THEN 'UNBALANCED' WHEN chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS health_status FROM skews
)
SELECT partition_num,
       row_count AS chunk_count,
       total_rows AS total_chunks,
       (CASE WHEN total_rows > 0 THEN 100.0::float8 * row_count / total_rows ELSE 0::float8 END)::numeric AS chunk_percentage,
       (CASE WHEN total_bytes > 0 THEN 100.0::float8 * size_bytes / total_bytes ELSE 0::float8 END)::numeric AS size_percentage,
       health_status,
       chunk_skew::numeric AS chunk_skew,
       size_skew::numeric AS size_skew,
       CASE health_status
           WHEN 'UNBALANCED' THEN 'Unbalanced: see the rebalancing recommendations for the collections behind it'
           WHEN 'WARNING' THEN 'Monitor partition growth'
       END AS recommendation,
       pg_size_pretty(size_bytes) AS partition_size,
       size_bytes
FROM statuses
ORDER BY partition_num
""",
    r"""
CREATE VIEW partition_health AS
WITH cat AS (
    SELECT chunk_partition_catalog.*, to_regclass(quote_ident(partition_name)) AS relid FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows FROM cat
), deviations AS (
    SELECT cat.*, totals.total_rows,
           CASE WHEN totals.total_rows > 0
                THEN (cat.row_count * chunk_partition_count() - totals.total_rows)::float8 / totals.total_rows::float8
                ELSE 0::float8 END AS deviation
    FROM cat CROSS JOIN totals
)
SELECT partition_name,
       partition_num AS partition_id,
       partition_num,
       size_bytes,
       row_count,
       dead_rows,
       pg_stat_get_last_vacuum_time(relid) AS last_vacuum,
       pg_stat_get_last_autovacuum_time(relid) AS last_autovacuum,
       pg_size_pretty(size_bytes) AS size_pretty,
       (100.0::float8 * deviation)::numeric AS pct_deviation_from_avg,
       CASE
           WHEN total_rows > 0 AND deviation >= 0.3::float8 THEN 'HOT'
           WHEN total_rows > 0 AND -deviation >= 0.3::float8 THEN 'COLD'
           ELSE 'NORMAL'
       END AS partition_status,
       dead_rows > row_count * 0.1 AS needs_vacuum
FROM deviations
ORDER BY partition_num
""",
    r"""
CREATE VIEW partition_distribution AS
WITH cat AS (
    SELECT row_count, size_bytes FROM chunk_partition_catalog
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
SELECT chunk_partition_count() AS partition_count,
       partitions_used,
       total_chunks,
       total_size_bytes,
       (total_chunks::float8 / chunk_partition_count())::numeric AS avg_chunks_per_partition,
       stddev_chunks,
       max_chunks,
       min_chunks,
       (CASE WHEN total_chunks > 0 THEN max_chunks / (total_chunks::float8 / chunk_partition_count()) ELSE 0::float8 END)::numeric
           AS max_skew_ratio,
       CASE WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.5::float8 THEN 'UNBALANCED' WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS distribution_status,
       empty_partitions
FROM agg
""",
    r"""
CREATE VIEW partition_size_distribution AS
WITH cat AS (
    SELECT * FROM chunk_partition_catalog
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
""",
    r"""
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
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN counts ON counts.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num
""",
    r"""
CREATE FUNCTION chunks_written_since(span interval) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL UNSAFE AS 'SELECT now() - span'
""",
    r"""
CREATE VIEW partition_hot_spots AS
WITH recent AS (
    SELECT partition_key,
           count(*) FILTER (WHERE created_at > chunks_written_since('1 hour')) AS last_hour,
           count(*) FILTER (WHERE created_at > chunks_written_since('24 hours')) AS last_day,
           count(*) FILTER (WHERE created_at > chunks_written_since('168 hours')) AS last_week
    FROM chunks
    WHERE created_at > chunks_written_since('168 hours')
    GROUP BY partition_key
), totals AS (
    SELECT sum(last_hour) AS total_hour, sum(last_day) AS total_day, sum(last_week) AS total_week FROM recent
)
SELECT p.partition_num,
       coalesce(recent.last_hour, 0) AS chunks_last_hour,
       coalesce(recent.last_day, 0) AS chunks_last_day,
       coalesce(recent.last_week, 0) AS chunks_last_week,
       CASE WHEN totals.total_hour > 0 THEN 100.0 * coalesce(recent.last_hour, 0) / totals.total_hour ELSE 0 END AS hour_percentage,
       CASE WHEN totals.total_day > 0 THEN 100.0 * coalesce(recent.last_day, 0) / totals.total_day ELSE 0 END AS day_percentage,
       CASE WHEN totals.total_week > 0 THEN 100.0 * coalesce(recent.last_week, 0) / totals.total_week ELSE 0 END AS week_percentage
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN recent ON recent.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num
""",
    r"""
CREATE VIEW partition_isolated_collections AS
SELECT replace((regexp_match(pg_get_expr(s.relpartbound, s.oid), '^FOR VALUES IN \(''(.*)''\)$'))[1], '''''', '''') AS collection_id,
       substring(pg_get_expr(t.relpartbound, t.oid) FROM '\((-?\d+)\)')::integer AS partition_num,
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
""",
    r"""
CREATE MATERIALIZED VIEW collection_chunking_stats AS
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
    FROM chunks
    GROUP BY collection_id
) AS s ON s.collection_id = c.id
WITH DATA
""",
    r"""CREATE UNIQUE INDEX collection_chunking_stats_id ON collection_chunking_stats (id)""",
    r"""CREATE INDEX collection_chunking_stats_partition ON collection_chunking_stats (partition_num, total_chunks DESC)""",
    r"""
CREATE FUNCTION analyze_partition_skew()
RETURNS TABLE(metric text, value numeric, status text, details text)
LANGUAGE sql STABLE AS $$
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count) AS total_rows, sum(size_bytes) AS total_bytes,
           coalesce(stddev_pop(row_count::numeric), 0) AS sd_rows, count(*) AS partitions
    FROM cat
), skews AS (
    SELECT cat.partition_num, CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew, CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew FROM cat CROSS JOIN totals
), worst_chunk AS (
    SELECT partition_num, chunk_skew FROM skews ORDER BY chunk_skew DESC, partition_num LIMIT 1
), worst_size AS (
    SELECT partition_num, size_skew FROM skews ORDER BY size_skew DESC, partition_num LIMIT 1
), variation AS (
    SELECT (CASE WHEN total_rows > 0 AND partitions > 1
                 THEN sd_rows / (total_rows::numeric / chunk_partition_count()) ELSE 0 END)::float8 AS value
    FROM totals
)
SELECT 'chunk_distribution'::text,
       w.chunk_skew::numeric,
       CASE WHEN w.chunk_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max chunk skew %s at partition %s', round(w.chunk_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_chunk AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'size_distribution'::text,
       w.size_skew::numeric,
       CASE WHEN w.size_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.size_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max size skew %s at partition %s', round(w.size_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_size AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'chunk_count_variation'::text,
       v.value::numeric,
       CASE WHEN v.value >= 0.5::float8 THEN 'CRITICAL' WHEN v.value >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       format('coefficient of variation of chunk counts over %s partitions', chunk_partition_count())
FROM variation AS v
$$
""",
    r"""
CREATE FUNCTION refresh_collection_chunking_stats() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- CONCURRENTLY keeps readers unblocked but needs a populated view; the first fill is a plain refresh.
    IF (SELECT relispopulated FROM pg_class WHERE oid = 'collection_chunking_stats'::regclass) THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY collection_chunking_stats;
    ELSE
        REFRESH MATERIALIZED VIEW collection_chunking_stats;
    END IF;
END
$$
""",
)
# fmt: on


def upgrade() -> None:
    for statement in [*DROP_STATEMENTS, *CREATE_STATEMENTS]:
        op.execute(statement)


def downgrade() -> None:
    for statement in [*DROP_STATEMENTS, *sc0005_host_names.CREATE_STATEMENTS]:
        op.execute(statement)
