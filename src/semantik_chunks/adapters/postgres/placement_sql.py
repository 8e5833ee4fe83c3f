"""DDL of partition placement (migration sc0006): the move bookkeeping, the write capture, and the
collection checks of partitions on other servers. Constants only: nothing here comes from input."""

from __future__ import annotations

MOVES_TABLE = "semantik_chunks_moves"
MOVE_LOG_TABLE = "semantik_chunks_move_log"
SERVER_MARK = "semantik_chunks: server"
CAPTURE_TRIGGER = "semantik_chunks_capture"
CHECK_COLLECTION_TRIGGER = "semantik_chunks_check_collection"
CASCADE_TRIGGER = "semantik_chunks_cascade_remote_chunks"

CREATE_STATEMENTS = (
    # One row per move under way: a rerun of the same move finishes it; another move of it is refused.
    f"""CREATE TABLE IF NOT EXISTS {MOVES_TABLE} (
        partition_num integer PRIMARY KEY,
        source text NOT NULL,
        target text NOT NULL,
        phase text NOT NULL CHECK (phase IN ('copy', 'swapped')),
        started_at timestamptz NOT NULL DEFAULT now()
    )""",
    # The keys of rows written to a partition while it is copied; replayed onto the copy.
    f"""CREATE TABLE IF NOT EXISTS {MOVE_LOG_TABLE} (
        seq bigserial PRIMARY KEY,
        partition_num integer NOT NULL,
        id bigint NOT NULL,
        collection_id text NOT NULL
    )""",
    f"""CREATE OR REPLACE FUNCTION {CAPTURE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO {MOVE_LOG_TABLE} (partition_num, id, collection_id)
            VALUES (TG_ARGV[0]::integer, OLD.id, OLD.collection_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO {MOVE_LOG_TABLE} (partition_num, id, collection_id)
            VALUES (TG_ARGV[0]::integer, NEW.id, NEW.collection_id);
        END IF;
        RETURN NULL;
    END $$""",
    # The FK of a partition on another server, checked on the coordinator (row locked like an FK does).
    f"""CREATE OR REPLACE FUNCTION {CHECK_COLLECTION_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM collections WHERE id = NEW.collection_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%_collection_id_fkey"',
                TG_TABLE_NAME, TG_TABLE_NAME
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (collection_id)=(%s) is not present in table "collections".',
                                      NEW.collection_id);
        END IF;
        RETURN NEW;
    END $$""",
    # ON DELETE CASCADE for partitions on other servers (local ones keep their FK's cascade).
    f"""CREATE OR REPLACE FUNCTION {CASCADE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM chunks WHERE partition_key = get_partition_key(OLD.id::text) AND collection_id = OLD.id;
        RETURN NULL;
    END $$""",
)

DROP_STATEMENTS = (
    f"DROP TRIGGER IF EXISTS {CASCADE_TRIGGER} ON collections",
    f"DROP FUNCTION IF EXISTS {CASCADE_TRIGGER}()",
    f"DROP FUNCTION IF EXISTS {CHECK_COLLECTION_TRIGGER}()",
    f"DROP FUNCTION IF EXISTS {CAPTURE_TRIGGER}()",
    f"DROP TABLE IF EXISTS {MOVE_LOG_TABLE}",
    f"DROP TABLE IF EXISTS {MOVES_TABLE}",
)
