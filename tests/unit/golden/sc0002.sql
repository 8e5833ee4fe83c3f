-- upgrade sc0001:sc0002
BEGIN;

-- Running upgrade sc0001 -> sc0002

CREATE OR REPLACE FUNCTION chunk_partition_count() RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT 100';

CREATE OR REPLACE FUNCTION get_partition_key(collection_id text) RETURNS integer
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT abs(hashtext(collection_id::text) % 100) $$;

CREATE OR REPLACE FUNCTION get_partition_for_collection(collection_id text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT 'chunks_part_' || lpad(abs(hashtext(collection_id::text) % 100)::text, 2, '0') $$;

CREATE OR REPLACE FUNCTION get_partition_for_collection(collection_id uuid) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT get_partition_for_collection(collection_id::text) $$;

CREATE TABLE chunks (
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
            metadata JSONB DEFAULT '{}'::jsonb,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (id, collection_id, partition_key),
            CONSTRAINT chunks_partition_key_matches_collection CHECK (partition_key = abs(hashtext(collection_id::text) % 100))
        ) PARTITION BY LIST (partition_key);

COMMENT ON TABLE chunks IS 'semantik_chunks: created';

CREATE TABLE chunks_part_00 PARTITION OF chunks FOR VALUES IN (0);

CREATE TABLE chunks_part_01 PARTITION OF chunks FOR VALUES IN (1);

CREATE TABLE chunks_part_02 PARTITION OF chunks FOR VALUES IN (2);

CREATE TABLE chunks_part_03 PARTITION OF chunks FOR VALUES IN (3);

CREATE TABLE chunks_part_04 PARTITION OF chunks FOR VALUES IN (4);

CREATE TABLE chunks_part_05 PARTITION OF chunks FOR VALUES IN (5);

CREATE TABLE chunks_part_06 PARTITION OF chunks FOR VALUES IN (6);

CREATE TABLE chunks_part_07 PARTITION OF chunks FOR VALUES IN (7);

CREATE TABLE chunks_part_08 PARTITION OF chunks FOR VALUES IN (8);

CREATE TABLE chunks_part_09 PARTITION OF chunks FOR VALUES IN (9);

CREATE TABLE chunks_part_10 PARTITION OF chunks FOR VALUES IN (10);

CREATE TABLE chunks_part_11 PARTITION OF chunks FOR VALUES IN (11);

CREATE TABLE chunks_part_12 PARTITION OF chunks FOR VALUES IN (12);

CREATE TABLE chunks_part_13 PARTITION OF chunks FOR VALUES IN (13);

CREATE TABLE chunks_part_14 PARTITION OF chunks FOR VALUES IN (14);

CREATE TABLE chunks_part_15 PARTITION OF chunks FOR VALUES IN (15);

CREATE TABLE chunks_part_16 PARTITION OF chunks FOR VALUES IN (16);

CREATE TABLE chunks_part_17 PARTITION OF chunks FOR VALUES IN (17);

CREATE TABLE chunks_part_18 PARTITION OF chunks FOR VALUES IN (18);

CREATE TABLE chunks_part_19 PARTITION OF chunks FOR VALUES IN (19);

CREATE TABLE chunks_part_20 PARTITION OF chunks FOR VALUES IN (20);

CREATE TABLE chunks_part_21 PARTITION OF chunks FOR VALUES IN (21);

CREATE TABLE chunks_part_22 PARTITION OF chunks FOR VALUES IN (22);

CREATE TABLE chunks_part_23 PARTITION OF chunks FOR VALUES IN (23);

CREATE TABLE chunks_part_24 PARTITION OF chunks FOR VALUES IN (24);

CREATE TABLE chunks_part_25 PARTITION OF chunks FOR VALUES IN (25);

CREATE TABLE chunks_part_26 PARTITION OF chunks FOR VALUES IN (26);

CREATE TABLE chunks_part_27 PARTITION OF chunks FOR VALUES IN (27);

CREATE TABLE chunks_part_28 PARTITION OF chunks FOR VALUES IN (28);

CREATE TABLE chunks_part_29 PARTITION OF chunks FOR VALUES IN (29);

CREATE TABLE chunks_part_30 PARTITION OF chunks FOR VALUES IN (30);

CREATE TABLE chunks_part_31 PARTITION OF chunks FOR VALUES IN (31);

CREATE TABLE chunks_part_32 PARTITION OF chunks FOR VALUES IN (32);

CREATE TABLE chunks_part_33 PARTITION OF chunks FOR VALUES IN (33);

CREATE TABLE chunks_part_34 PARTITION OF chunks FOR VALUES IN (34);

CREATE TABLE chunks_part_35 PARTITION OF chunks FOR VALUES IN (35);

CREATE TABLE chunks_part_36 PARTITION OF chunks FOR VALUES IN (36);

CREATE TABLE chunks_part_37 PARTITION OF chunks FOR VALUES IN (37);

CREATE TABLE chunks_part_38 PARTITION OF chunks FOR VALUES IN (38);

CREATE TABLE chunks_part_39 PARTITION OF chunks FOR VALUES IN (39);

CREATE TABLE chunks_part_40 PARTITION OF chunks FOR VALUES IN (40);

CREATE TABLE chunks_part_41 PARTITION OF chunks FOR VALUES IN (41);

CREATE TABLE chunks_part_42 PARTITION OF chunks FOR VALUES IN (42);

CREATE TABLE chunks_part_43 PARTITION OF chunks FOR VALUES IN (43);

CREATE TABLE chunks_part_44 PARTITION OF chunks FOR VALUES IN (44);

CREATE TABLE chunks_part_45 PARTITION OF chunks FOR VALUES IN (45);

CREATE TABLE chunks_part_46 PARTITION OF chunks FOR VALUES IN (46);

CREATE TABLE chunks_part_47 PARTITION OF chunks FOR VALUES IN (47);

CREATE TABLE chunks_part_48 PARTITION OF chunks FOR VALUES IN (48);

CREATE TABLE chunks_part_49 PARTITION OF chunks FOR VALUES IN (49);

CREATE TABLE chunks_part_50 PARTITION OF chunks FOR VALUES IN (50);

CREATE TABLE chunks_part_51 PARTITION OF chunks FOR VALUES IN (51);

CREATE TABLE chunks_part_52 PARTITION OF chunks FOR VALUES IN (52);

CREATE TABLE chunks_part_53 PARTITION OF chunks FOR VALUES IN (53);

CREATE TABLE chunks_part_54 PARTITION OF chunks FOR VALUES IN (54);

CREATE TABLE chunks_part_55 PARTITION OF chunks FOR VALUES IN (55);

CREATE TABLE chunks_part_56 PARTITION OF chunks FOR VALUES IN (56);

CREATE TABLE chunks_part_57 PARTITION OF chunks FOR VALUES IN (57);

CREATE TABLE chunks_part_58 PARTITION OF chunks FOR VALUES IN (58);

CREATE TABLE chunks_part_59 PARTITION OF chunks FOR VALUES IN (59);

CREATE TABLE chunks_part_60 PARTITION OF chunks FOR VALUES IN (60);

CREATE TABLE chunks_part_61 PARTITION OF chunks FOR VALUES IN (61);

CREATE TABLE chunks_part_62 PARTITION OF chunks FOR VALUES IN (62);

CREATE TABLE chunks_part_63 PARTITION OF chunks FOR VALUES IN (63);

CREATE TABLE chunks_part_64 PARTITION OF chunks FOR VALUES IN (64);

CREATE TABLE chunks_part_65 PARTITION OF chunks FOR VALUES IN (65);

CREATE TABLE chunks_part_66 PARTITION OF chunks FOR VALUES IN (66);

CREATE TABLE chunks_part_67 PARTITION OF chunks FOR VALUES IN (67);

CREATE TABLE chunks_part_68 PARTITION OF chunks FOR VALUES IN (68);

CREATE TABLE chunks_part_69 PARTITION OF chunks FOR VALUES IN (69);

CREATE TABLE chunks_part_70 PARTITION OF chunks FOR VALUES IN (70);

CREATE TABLE chunks_part_71 PARTITION OF chunks FOR VALUES IN (71);

CREATE TABLE chunks_part_72 PARTITION OF chunks FOR VALUES IN (72);

CREATE TABLE chunks_part_73 PARTITION OF chunks FOR VALUES IN (73);

CREATE TABLE chunks_part_74 PARTITION OF chunks FOR VALUES IN (74);

CREATE TABLE chunks_part_75 PARTITION OF chunks FOR VALUES IN (75);

CREATE TABLE chunks_part_76 PARTITION OF chunks FOR VALUES IN (76);

CREATE TABLE chunks_part_77 PARTITION OF chunks FOR VALUES IN (77);

CREATE TABLE chunks_part_78 PARTITION OF chunks FOR VALUES IN (78);

CREATE TABLE chunks_part_79 PARTITION OF chunks FOR VALUES IN (79);

CREATE TABLE chunks_part_80 PARTITION OF chunks FOR VALUES IN (80);

CREATE TABLE chunks_part_81 PARTITION OF chunks FOR VALUES IN (81);

CREATE TABLE chunks_part_82 PARTITION OF chunks FOR VALUES IN (82);

CREATE TABLE chunks_part_83 PARTITION OF chunks FOR VALUES IN (83);

CREATE TABLE chunks_part_84 PARTITION OF chunks FOR VALUES IN (84);

CREATE TABLE chunks_part_85 PARTITION OF chunks FOR VALUES IN (85);

CREATE TABLE chunks_part_86 PARTITION OF chunks FOR VALUES IN (86);

CREATE TABLE chunks_part_87 PARTITION OF chunks FOR VALUES IN (87);

CREATE TABLE chunks_part_88 PARTITION OF chunks FOR VALUES IN (88);

CREATE TABLE chunks_part_89 PARTITION OF chunks FOR VALUES IN (89);

CREATE TABLE chunks_part_90 PARTITION OF chunks FOR VALUES IN (90);

CREATE TABLE chunks_part_91 PARTITION OF chunks FOR VALUES IN (91);

CREATE TABLE chunks_part_92 PARTITION OF chunks FOR VALUES IN (92);

CREATE TABLE chunks_part_93 PARTITION OF chunks FOR VALUES IN (93);

CREATE TABLE chunks_part_94 PARTITION OF chunks FOR VALUES IN (94);

CREATE TABLE chunks_part_95 PARTITION OF chunks FOR VALUES IN (95);

CREATE TABLE chunks_part_96 PARTITION OF chunks FOR VALUES IN (96);

CREATE TABLE chunks_part_97 PARTITION OF chunks FOR VALUES IN (97);

CREATE TABLE chunks_part_98 PARTITION OF chunks FOR VALUES IN (98);

CREATE TABLE chunks_part_99 PARTITION OF chunks FOR VALUES IN (99);

CREATE INDEX IF NOT EXISTS ix_chunks_collection_id ON chunks (collection_id);

CREATE INDEX IF NOT EXISTS ix_chunks_created_at ON chunks (created_at);

CREATE INDEX IF NOT EXISTS ix_chunks_collection_chunk_index ON chunks (collection_id, chunk_index);

CREATE INDEX IF NOT EXISTS ix_chunks_document_id ON chunks (document_id) WHERE document_id IS NOT NULL;

UPDATE semantik_chunks_alembic_version SET version_num='sc0002' WHERE semantik_chunks_alembic_version.version_num = 'sc0001';

COMMIT;


-- downgrade sc0002:sc0001
BEGIN;

-- Running downgrade sc0002 -> sc0001

DROP FUNCTION IF EXISTS get_partition_for_collection(uuid);

DROP FUNCTION IF EXISTS get_partition_for_collection(text);

DROP FUNCTION IF EXISTS get_partition_key(text);

DROP FUNCTION IF EXISTS chunk_partition_count();

UPDATE semantik_chunks_alembic_version SET version_num='sc0001' WHERE semantik_chunks_alembic_version.version_num = 'sc0002';

COMMIT;

