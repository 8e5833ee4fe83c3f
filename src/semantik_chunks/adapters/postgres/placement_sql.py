"""DDL of partition placement (migration sc0007): the move bookkeeping, the write capture, and the
collection checks of partitions on other servers. Constants only: nothing here comes from input."""

from __future__ import annotations

from semantik_chunks.adapters.postgres.monitoring_sql import REMOTE_ACTIVITY_PREFIX, REMOTE_STATS_PREFIX

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

# On each server holding partitions: its own statistics of them, for the coordinator's monitoring views
# (monitoring_sql's ``chunk_remote_partition_stats()`` / ``chunk_remote_partition_activity()`` read them
# through the foreign tables of ``remote_monitoring_tables``). One function call per server and view.
REMOTE_STATS_VIEW = "semantik_chunks_partition_stats"
REMOTE_ACTIVITY_VIEW = "semantik_chunks_partition_activity"
_REMOTE_PARTITIONS = (
    "SELECT c.oid, c.relname::text AS name, c.reltuples FROM pg_class c "
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname ~ '^chunks_part_[0-9]+$' "
    "ORDER BY c.relname"
)
REMOTE_STATEMENTS = (
    f"""CREATE OR REPLACE FUNCTION public.{REMOTE_STATS_VIEW}_read()
    RETURNS TABLE(partition_name text, row_count bigint, dead_rows bigint, size_bytes bigint, writes bigint,
                  newest_chunk_at timestamptz, last_vacuum timestamptz, last_autovacuum timestamptz)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
        r record;
    BEGIN
        FOR r IN {_REMOTE_PARTITIONS} LOOP
            partition_name := r.name;
            row_count := CASE
                WHEN pg_stat_get_live_tuples(r.oid) = 0 AND pg_stat_get_tuples_inserted(r.oid) = 0
                     AND pg_stat_get_dead_tuples(r.oid) = 0 THEN greatest(r.reltuples, 0)::bigint
                ELSE pg_stat_get_live_tuples(r.oid) END;
            dead_rows := pg_stat_get_dead_tuples(r.oid);
            size_bytes := pg_total_relation_size(r.oid);
            writes := pg_stat_get_tuples_inserted(r.oid) + pg_stat_get_tuples_updated(r.oid)
                      + pg_stat_get_tuples_deleted(r.oid);
            EXECUTE format('SELECT max(created_at) FROM public.%I', r.name) INTO newest_chunk_at;
            last_vacuum := pg_stat_get_last_vacuum_time(r.oid);
            last_autovacuum := pg_stat_get_last_autovacuum_time(r.oid);
            RETURN NEXT;
        END LOOP;
    END $$""",
    f"CREATE OR REPLACE VIEW public.{REMOTE_STATS_VIEW} AS SELECT * FROM public.{REMOTE_STATS_VIEW}_read()",
    f"""CREATE OR REPLACE FUNCTION public.{REMOTE_ACTIVITY_VIEW}_read()
    RETURNS TABLE(partition_name text, last_hour bigint, last_day bigint, last_week bigint)
    LANGUAGE plpgsql STABLE AS $$
    DECLARE
        r record;
    BEGIN
        FOR r IN {_REMOTE_PARTITIONS} LOOP
            partition_name := r.name;
            EXECUTE format('SELECT count(*) FILTER (WHERE created_at > now() - interval ''1 hour''), '
                           'count(*) FILTER (WHERE created_at > now() - interval ''24 hours''), count(*) '
                           'FROM public.%I WHERE created_at > now() - interval ''168 hours''', r.name)
                INTO last_hour, last_day, last_week;
            RETURN NEXT;
        END LOOP;
    END $$""",
    f"CREATE OR REPLACE VIEW public.{REMOTE_ACTIVITY_VIEW} AS SELECT * FROM public.{REMOTE_ACTIVITY_VIEW}_read()",
)


def remote_monitoring_tables(server: str) -> tuple[str, ...]:
    """The coordinator's foreign tables over ``server``'s two statistics views (``server`` a checked name)."""
    return (
        f"""CREATE FOREIGN TABLE IF NOT EXISTS {REMOTE_STATS_PREFIX}{server} (
            partition_name text, row_count bigint, dead_rows bigint, size_bytes bigint, writes bigint,
            newest_chunk_at timestamptz, last_vacuum timestamptz, last_autovacuum timestamptz
        ) SERVER "{server}" OPTIONS (schema_name 'public', table_name '{REMOTE_STATS_VIEW}')""",
        f"""CREATE FOREIGN TABLE IF NOT EXISTS {REMOTE_ACTIVITY_PREFIX}{server} (
            partition_name text, last_hour bigint, last_day bigint, last_week bigint
        ) SERVER "{server}" OPTIONS (schema_name 'public', table_name '{REMOTE_ACTIVITY_VIEW}')""",
    )
