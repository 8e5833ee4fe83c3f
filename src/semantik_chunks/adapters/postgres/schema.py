"""DDL of the chunks table, rendered for a validated partition count.

Identifiers are built only from the partition count (validated to 1..1024) and
constants here, never from user input.
"""

from __future__ import annotations

from semantik_chunks.domain.hashing import partition_table_name, validate_partition_count

VERSION_TABLE = "semantik_chunks_alembic_version"
OWNED_MARK = "semantik_chunks: created"
ADOPTED_MARK = "semantik_chunks: adopted"
PARTITION_CHECK = "chunks_partition_key_matches_collection"

CHUNK_COLUMNS = (
    "id",
    "collection_id",
    "partition_key",
    "document_id",
    "chunking_config_id",
    "chunk_index",
    "content",
    "start_offset",
    "end_offset",
    "token_count",
    "embedding_vector_id",
    "metadata",
    "created_at",
    "updated_at",
)

# The seed's per-partition indexes, declared once on the parent: PostgreSQL creates them on every partition.
CHUNK_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_chunks_collection_id ON chunks (collection_id)",
    "CREATE INDEX IF NOT EXISTS ix_chunks_created_at ON chunks (created_at)",
    "CREATE INDEX IF NOT EXISTS ix_chunks_collection_chunk_index ON chunks (collection_id, chunk_index)",
    "CREATE INDEX IF NOT EXISTS ix_chunks_document_id ON chunks (document_id) WHERE document_id IS NOT NULL",
)


def partition_key_expression(column: str, partition_count: int) -> str:
    """``abs(hashtext(col) % N)``: never overflows, unlike ``abs(hashtext(col)) % N`` at INT_MIN."""
    return f"abs(hashtext({column}::text) % {validate_partition_count(partition_count)})"


def create_routing_functions(partition_count: int) -> list[str]:
    """SQL helpers computed from their argument alone (no table read), safe to inline and parallelise."""
    n = validate_partition_count(partition_count)
    width = len(partition_table_name(0, n)) - len("chunks_part_")
    key = partition_key_expression("collection_id", n)
    return [
        f"""CREATE OR REPLACE FUNCTION chunk_partition_count() RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT {n}'""",
        f"""CREATE OR REPLACE FUNCTION get_partition_key(collection_id text) RETURNS integer
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT {key} $$""",
        f"""CREATE OR REPLACE FUNCTION get_partition_for_collection(collection_id text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT 'chunks_part_' || lpad({key}::text, {width}, '0') $$""",
        """CREATE OR REPLACE FUNCTION get_partition_for_collection(collection_id uuid) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT get_partition_for_collection(collection_id::text) $$""",
    ]


DROP_ROUTING_FUNCTIONS = (
    "DROP FUNCTION IF EXISTS get_partition_for_collection(uuid)",
    "DROP FUNCTION IF EXISTS get_partition_for_collection(text)",
    "DROP FUNCTION IF EXISTS get_partition_key(text)",
    "DROP FUNCTION IF EXISTS chunk_partition_count()",
)


def create_collections_table() -> list[str]:
    """The minimal ``collections`` of standalone use; a host's own table is left as it is."""
    return [
        """CREATE TABLE collections (
            id VARCHAR PRIMARY KEY,
            name TEXT,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        f"COMMENT ON TABLE collections IS '{OWNED_MARK}'",
    ]


def create_chunks_table(partition_count: int, *, with_chunking_config_fk: bool) -> list[str]:
    n = validate_partition_count(partition_count)
    key = partition_key_expression("collection_id", n)
    config_fk = (
        ",\n            CONSTRAINT chunks_chunking_config_id_fkey FOREIGN KEY (chunking_config_id) "
        "REFERENCES chunking_configs (id)"
        if with_chunking_config_fk
        else ""
    )
    statements = [
        f"""CREATE TABLE chunks (
            id BIGSERIAL NOT NULL,
            collection_id VARCHAR NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            partition_key INTEGER NOT NULL,
            document_id VARCHAR,
            chunking_config_id INTEGER,
            chunk_index INTEGER NOT NULL,
            content TEXT NOT NULL,
            start_offset INTEGER,
            end_offset INTEGER,
            token_count INTEGER,
            embedding_vector_id VARCHAR,
            metadata JSONB DEFAULT '{{}}'::jsonb,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (id, collection_id, partition_key),
            CONSTRAINT {PARTITION_CHECK} CHECK (partition_key = {key}){config_fk}
        ) PARTITION BY LIST (partition_key)""",
        f"COMMENT ON TABLE chunks IS '{OWNED_MARK}'",
    ]
    statements += [
        f"CREATE TABLE {partition_table_name(i, n)} PARTITION OF chunks FOR VALUES IN ({i})" for i in range(n)
    ]
    statements += list(CHUNK_INDEXES)
    return statements
