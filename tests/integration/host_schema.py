"""A database that looks like the host's (Semantik's) before the library takes it over.

Built from the facts in ``/work/shared/host-contract.md``: the host's ``collections`` (with NOT NULL
columns of its own) and ``chunking_configs``; ``chunks`` LIST-partitioned on ``partition_key`` into
``chunks_part_00..99`` with primary key ``(id, collection_id, partition_key)`` and foreign keys to both;
the BEFORE INSERT trigger ``set_partition_key`` hashing ``collection_id || ':' || document_id``; the
host's eight per-partition indexes; its monitoring views and functions in their older shapes; and a
view of its own (``active_chunking_configs``) that the takeover must leave alone.

A BEFORE ROW trigger cannot reroute a row (the partition is chosen before it fires), so the host's
writers supply the trigger's very key and the trigger agrees: ``insert_host_rows`` does the same.
"""

from __future__ import annotations

import hashlib
import uuid

import asyncpg

HOST_PARTITIONS = 100
HOST_TRIGGER = "set_partition_key"
HOST_TRIGGER_FUNCTION = "compute_partition_key"

# The host's monitoring objects, which the library replaces with its own (sc0003).
HOST_VIEWS = (
    "partition_size_distribution",
    "partition_chunk_distribution",
    "partition_hot_spots",
    "partition_stats",
    "partition_health_summary",
    "partition_health",
    "partition_distribution",
)
HOST_MATVIEW = "collection_chunking_stats"
HOST_FUNCTIONS = (
    "analyze_partition_skew()",
    "refresh_collection_chunking_stats()",
    "get_partition_key(character varying)",
    "get_partition_for_collection(character varying)",
)
HOST_OWN_VIEW = "active_chunking_configs"

# The key the host's trigger computes; its writers compute the same before inserting.
_HOST_KEY = """
    CASE WHEN {document_id} IS NOT NULL
         THEN abs(hashtext({collection_id}::text || ':' || {document_id}::text)) % 100
         ELSE abs(hashtext({collection_id}::text || ':' || coalesce({chunk_index}::text, 'null'))) % 100
    END"""

# Every column but partition_key, in id order: equal before and after a takeover when no row is lost or altered.
CHECKSUM = """
    SELECT count(*) AS rows, coalesce(md5(string_agg(
        concat_ws('|', id, collection_id, document_id, chunking_config_id, chunk_index, content, start_offset,
                  end_offset, token_count, embedding_vector_id, metadata::text, created_at, updated_at),
        ',' ORDER BY id, collection_id)), '') AS checksum
    FROM chunks
"""

_TABLES = [
    """CREATE TABLE collections (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        owner_id INTEGER NOT NULL,
        vector_store_name VARCHAR NOT NULL,
        embedding_model VARCHAR NOT NULL,
        status VARCHAR NOT NULL DEFAULT 'ready',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE chunking_configs (
        id SERIAL PRIMARY KEY,
        strategy VARCHAR NOT NULL,
        config_hash VARCHAR NOT NULL UNIQUE,
        config_data JSONB NOT NULL DEFAULT '{}'::jsonb
    )""",
    """CREATE TABLE chunks (
        id BIGSERIAL,
        collection_id VARCHAR NOT NULL,
        partition_key INTEGER NOT NULL,
        document_id VARCHAR,
        chunking_config_id INTEGER,
        chunk_index INTEGER NOT NULL,
        content TEXT NOT NULL,
        start_offset INTEGER,
        end_offset INTEGER,
        token_count INTEGER,
        embedding_vector_id VARCHAR,
        metadata JSONB DEFAULT '{}'::jsonb,
        created_at TIMESTAMPTZ DEFAULT now(),
        updated_at TIMESTAMPTZ DEFAULT now(),
        PRIMARY KEY (id, collection_id, partition_key),
        FOREIGN KEY (collection_id) REFERENCES collections (id) ON DELETE CASCADE,
        FOREIGN KEY (chunking_config_id) REFERENCES chunking_configs (id)
    ) PARTITION BY LIST (partition_key)""",
]

_TRIGGER = [
    f"""CREATE FUNCTION {HOST_TRIGGER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.partition_key := {
        _HOST_KEY.format(
            collection_id="NEW.collection_id", document_id="NEW.document_id", chunk_index="NEW.chunk_index"
        )
    };
            RETURN NEW;
        END $$""",
    f"""CREATE TRIGGER {HOST_TRIGGER} BEFORE INSERT ON chunks
        FOR EACH ROW EXECUTE FUNCTION {HOST_TRIGGER_FUNCTION}()""",
]


def _partition_ddl(i: int) -> list[str]:
    part = f"chunks_part_{i:02d}"
    return [
        f"CREATE TABLE {part} PARTITION OF chunks FOR VALUES IN ({i})",
        f"CREATE INDEX idx_{part}_collection ON {part} (collection_id)",
        f"CREATE INDEX idx_{part}_document ON {part} (document_id) WHERE document_id IS NOT NULL",
        f"CREATE INDEX idx_{part}_created ON {part} (created_at)",
        f"CREATE INDEX idx_{part}_chunk_index ON {part} (collection_id, chunk_index)",
        f"CREATE INDEX idx_{part}_collection_document ON {part} (collection_id, document_id)",
        f"CREATE INDEX idx_{part}_document_index ON {part} (document_id, chunk_index)",
        f"CREATE INDEX idx_{part}_created_brin ON {part} USING brin (created_at)",
        f"CREATE INDEX idx_{part}_no_embedding ON {part} (collection_id, id) WHERE embedding_vector_id IS NULL",
    ]


# The host's monitoring objects in their older shapes (partition_health_summary without partition_size,
# analyze_partition_skew answering HEALTHY, the materialized view keyed by collection_id).
_MONITORING = [
    """CREATE VIEW partition_size_distribution AS
        SELECT substring(c.relname FROM 'chunks_part_([0-9]+)')::int AS partition_num,
               c.relname::text AS partition_name,
               pg_total_relation_size(c.oid) AS size_bytes,
               pg_size_pretty(pg_total_relation_size(c.oid)) AS partition_size,
               coalesce(s.n_live_tup, 0) AS estimated_rows
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE i.inhparent = 'chunks'::regclass""",
    """CREATE VIEW partition_chunk_distribution AS
        WITH agg AS (
            SELECT partition_key AS partition_num, count(*) AS chunk_count,
                   count(DISTINCT collection_id) AS collection_count, count(DISTINCT document_id) AS document_count,
                   coalesce(avg(token_count), 0) AS avg_token_count
            FROM chunks GROUP BY partition_key
        )
        SELECT gs.partition_num, coalesce(agg.chunk_count, 0) AS chunk_count,
               coalesce(agg.collection_count, 0) AS collection_count,
               coalesce(agg.document_count, 0) AS document_count,
               coalesce(agg.avg_token_count, 0) AS avg_token_count
        FROM generate_series(0, 99) AS gs(partition_num) LEFT JOIN agg USING (partition_num)""",
    """CREATE VIEW partition_hot_spots AS
        SELECT partition_key AS partition_num,
               count(*) FILTER (WHERE created_at >= now() - interval '1 hour') AS chunks_last_hour,
               count(*) FILTER (WHERE created_at >= now() - interval '1 day') AS chunks_last_day
        FROM chunks GROUP BY partition_key""",
    """CREATE VIEW partition_stats AS
        SELECT d.partition_num, d.chunk_count, round(s.size_bytes / 1048576.0, 2) AS total_size_mb
        FROM partition_chunk_distribution d JOIN partition_size_distribution s USING (partition_num)""",
    """CREATE VIEW partition_health_summary AS
        WITH totals AS (SELECT sum(chunk_count) AS total_chunks FROM partition_chunk_distribution)
        SELECT d.partition_num, d.chunk_count, totals.total_chunks,
               CASE WHEN totals.total_chunks = 0 THEN 0
                    ELSE round(d.chunk_count * 100.0 / totals.total_chunks, 2) END AS chunk_percentage,
               CASE WHEN totals.total_chunks = 0 THEN 'HEALTHY'
                    WHEN d.chunk_count * 100.0 / totals.total_chunks > 16.25 THEN 'UNBALANCED'
                    WHEN d.chunk_count * 100.0 / totals.total_chunks > 11.25 THEN 'WARNING'
                    ELSE 'HEALTHY' END AS health_status
        FROM partition_chunk_distribution d CROSS JOIN totals""",
    """CREATE VIEW partition_health AS
        SELECT c.relname::text AS partition_name, s.n_live_tup AS row_count, s.n_dead_tup AS dead_rows,
               pg_size_pretty(pg_total_relation_size(c.oid)) AS size_pretty,
               to_char(now(), 'YYYY-MM-DD HH24:MI') AS checked_at
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE i.inhparent = 'chunks'::regclass""",
    """CREATE VIEW partition_distribution AS
        SELECT count(DISTINCT partition_key) AS partitions_used, count(*)::numeric / 100 AS avg_chunks_per_partition
        FROM chunks""",
    """CREATE FUNCTION analyze_partition_skew()
        RETURNS TABLE(metric text, value numeric, status text, details text) LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY SELECT 'max_chunk_skew'::text, coalesce(max(chunk_percentage), 0), 'HEALTHY'::text,
                                'largest share of chunks'::text
                         FROM partition_health_summary;
        END $$""",
    """CREATE MATERIALIZED VIEW collection_chunking_stats AS
        SELECT c.id AS collection_id, c.name, count(ch.id) AS total_chunks,
               count(DISTINCT ch.document_id) AS chunked_documents, max(ch.created_at) AS last_chunk_created
        FROM collections c LEFT JOIN chunks ch ON ch.collection_id = c.id
        GROUP BY c.id, c.name""",
    "CREATE UNIQUE INDEX ix_collection_chunking_stats_id ON collection_chunking_stats (collection_id)",
    """CREATE FUNCTION refresh_collection_chunking_stats() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            REFRESH MATERIALIZED VIEW CONCURRENTLY collection_chunking_stats;
        END $$""",
    # The host's routing helpers: abs(hashtext(x)) % 100 overflows on INT_MIN; their VARCHAR signature
    # would shadow the library's text one for VARCHAR arguments.
    """CREATE FUNCTION get_partition_key(collection_id VARCHAR) RETURNS integer
        LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN RETURN abs(hashtext(collection_id::text)) % 100; END $$""",
    """CREATE FUNCTION get_partition_for_collection(collection_id VARCHAR) RETURNS text
        LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN RETURN 'chunks_part_' || lpad((abs(hashtext(collection_id::text)) % 100)::text, 2, '0'); END $$""",
    # Not a monitoring object: the takeover must leave it as it is.
    f"""CREATE VIEW {HOST_OWN_VIEW} AS
        SELECT cc.id, cc.strategy, count(DISTINCT ch.collection_id) AS collections_using
        FROM chunking_configs cc LEFT JOIN chunks ch ON ch.chunking_config_id = cc.id
        GROUP BY cc.id, cc.strategy""",
]


async def create_host_schema(conn: asyncpg.Connection) -> None:
    """The host's tables, partitions, indexes, trigger and monitoring objects, in one transaction."""
    async with conn.transaction():
        for statement in _TABLES:
            await conn.execute(statement)
        for i in range(HOST_PARTITIONS):
            for statement in _partition_ddl(i):
                await conn.execute(statement)
        for statement in _TRIGGER + _MONITORING:
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO chunking_configs (strategy, config_hash, config_data) VALUES "
            """('recursive', 'h-recursive', '{"chunk_size": 512}'), ('markdown', 'h-markdown', '{}')"""
        )


def collection_id(number: int) -> str:
    """The ``number``-th collection's id: a UUID as text, like the host's, and the same on every run."""
    return str(uuid.UUID(hashlib.md5(f"collection-{number}".encode()).hexdigest()))


async def insert_host_rows(
    conn: asyncpg.Connection,
    *,
    collections: range,
    documents_per_collection: int,
    chunks_per_document: int,
) -> int:
    """Collections ``collections`` and their chunks, each placed where the host's trigger puts it.

    One document in ten has no document_id (the trigger's fallback branch); one chunk in three has no
    embedding yet. Returns the number of chunks inserted.
    """
    await conn.execute(
        """INSERT INTO collections (id, name, owner_id, vector_store_name, embedding_model)
           SELECT md5('collection-' || i)::uuid::text, 'Collection ' || i, 1 + i % 7, 'col_' || i, 'BAAI/bge-small'
           FROM generate_series($1::int, $2::int) AS i""",
        collections.start,
        collections.stop - 1,
    )
    key = _HOST_KEY.format(collection_id="c.id", document_id="d.document_id", chunk_index="k")
    status = await conn.execute(
        f"""INSERT INTO chunks (collection_id, partition_key, document_id, chunking_config_id, chunk_index, content,
                                start_offset, end_offset, token_count, embedding_vector_id, metadata, created_at)
            SELECT c.id, {key}, d.document_id, 1 + (k % 2), k,
                   'Chunk ' || k || ' of ' || coalesce(d.document_id, 'an untitled document') || ': '
                       || repeat('lorem ipsum dolor sit amet ', 1 + (k % 4)),
                   k * 500, k * 500 + 499, 90 + (k % 40),
                   CASE WHEN k % 3 = 0 THEN NULL ELSE 'vec-' || c.n || '-' || d.j || '-' || k END,
                   jsonb_build_object('page', k / 10, 'source', 'import'),
                   timestamptz '2025-10-01 00:00:00+00' + (c.n * 1000 + d.j * 10 + k) * interval '1 second'
            FROM (SELECT i AS n, md5('collection-' || i)::uuid::text AS id
                  FROM generate_series($1::int, $2::int) AS i) AS c
            CROSS JOIN LATERAL (
                SELECT j, CASE WHEN j % 10 = 0 THEN NULL ELSE md5(c.id || '/doc-' || j)::uuid::text END
                       AS document_id
                FROM generate_series(1, $3::int) AS j) AS d
            CROSS JOIN generate_series(0, $4::int - 1) AS k""",
        collections.start,
        collections.stop - 1,
        documents_per_collection,
        chunks_per_document,
    )
    await conn.execute(f"REFRESH MATERIALIZED VIEW {HOST_MATVIEW}")
    return int(status.split()[-1])


async def build_host_database(
    dsn: str, *, collections: int, documents_per_collection: int, chunks_per_document: int
) -> int:
    """Create the host's schema in the empty database at ``dsn`` (an asyncpg DSN) and fill it."""
    conn = await asyncpg.connect(dsn)
    try:
        await create_host_schema(conn)
        inserted = await insert_host_rows(
            conn,
            collections=range(collections),
            documents_per_collection=documents_per_collection,
            chunks_per_document=chunks_per_document,
        )
        await conn.execute("ANALYZE chunks")
        return inserted
    finally:
        await conn.close()
