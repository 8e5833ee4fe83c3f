-- upgrade sc0003:sc0004
BEGIN;

-- Running upgrade sc0003 -> sc0004

CREATE TABLE IF NOT EXISTS chunk_partition_history (
            taken_at TIMESTAMPTZ NOT NULL,
            partition_num INTEGER NOT NULL CHECK (partition_num >= 0),
            row_count BIGINT NOT NULL,
            size_bytes BIGINT NOT NULL,
            dead_rows BIGINT NOT NULL DEFAULT 0,
            writes BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (taken_at, partition_num)
        );

COMMENT ON TABLE chunk_partition_history IS 'semantik_chunks: per-partition snapshots taken at health checks (pruned after the retention period)';

UPDATE semantik_chunks_alembic_version SET version_num='sc0004' WHERE semantik_chunks_alembic_version.version_num = 'sc0003';

COMMIT;


-- downgrade sc0004:sc0003
BEGIN;

-- Running downgrade sc0004 -> sc0003

DROP TABLE IF EXISTS chunk_partition_history;

UPDATE semantik_chunks_alembic_version SET version_num='sc0003' WHERE semantik_chunks_alembic_version.version_num = 'sc0004';

COMMIT;

