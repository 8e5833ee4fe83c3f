-- upgrade base:sc0001
BEGIN;

CREATE TABLE semantik_chunks_alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT semantik_chunks_alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> sc0001

CREATE TABLE collections (
            id VARCHAR PRIMARY KEY,
            name TEXT,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );

COMMENT ON TABLE collections IS 'semantik_chunks: created';

INSERT INTO semantik_chunks_alembic_version (version_num) VALUES ('sc0001') RETURNING semantik_chunks_alembic_version.version_num;

COMMIT;


-- downgrade sc0001:base
BEGIN;

-- Running downgrade sc0001 -> 

DELETE FROM semantik_chunks_alembic_version WHERE semantik_chunks_alembic_version.version_num = 'sc0001';

COMMIT;

