"""Capture, copy, catch-up, shared by reshape and isolate: the triggers that log the key of every row
written to the source from the start of the copy on (and refuse a TRUNCATE), the ``Mover`` that copies
the source's rows into the new table in resumable batches and replays the log, and
``copy_objects_onto``, which gives the new table the host's triggers, grants, owner and comment in the
swap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import attrs
from sqlalchemy import text
from sqlalchemy.engine import Connection

from semantik_chunks.adapters.postgres.reshape.catalog import host_triggers
from semantik_chunks.adapters.postgres.reshape.state import (
    CAPTURE_FUNCTION,
    CAPTURE_TRIGGER,
    CURSORS,
    GUARD_FUNCTION,
    GUARD_TRIGGER,
    LOG,
    RUNS,
    Hooks,
    Progress,
    Run,
    quote_ident,
    quote_literal,
    relation_exists,
)
from semantik_chunks.domain.reshape import ReshapeOutcome, ReshapeProgress

REPLAY_BATCH = 10_000

# The log is replayed outside the lock until fewer than this many changes are left for the swap (each
# replayed under its lock costs the writers' wait), or for at most CATCH_UP_ROUNDS rounds.
SWAP_BACKLOG = 200
CATCH_UP_ROUNDS = 50


def install_capture(bind: Connection, source: str) -> None:
    """The log, and the triggers on ``source`` that fill it (called inside a lock-retry transaction)."""
    bind.execute(text(f"CREATE TABLE IF NOT EXISTS {LOG} (seq BIGSERIAL PRIMARY KEY, id BIGINT, collection_id TEXT)"))
    bind.execute(
        text(
            f"""CREATE OR REPLACE FUNCTION {CAPTURE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    INSERT INTO {LOG} (id, collection_id) VALUES (OLD.id, OLD.collection_id);
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    INSERT INTO {LOG} (id, collection_id) VALUES (NEW.id, NEW.collection_id);
                END IF;
                RETURN NULL;
            END $$"""
        )
    )
    bind.execute(
        text(
            f"""CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'chunks is being reshaped: TRUNCATE is refused until the reshape finishes'
                    USING ERRCODE = 'object_in_use';
            END $$"""
        )
    )
    target = quote_ident(source)
    bind.execute(text(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE"))
    bind.execute(text(f"DROP TRIGGER IF EXISTS {CAPTURE_TRIGGER} ON {target}"))
    bind.execute(text(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {target}"))
    bind.execute(
        text(
            f"CREATE TRIGGER {CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {target} "
            f"FOR EACH ROW EXECUTE FUNCTION {CAPTURE_FUNCTION}()"
        )
    )
    bind.execute(
        text(
            f"CREATE TRIGGER {GUARD_TRIGGER} BEFORE TRUNCATE ON {target} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()"
        )
    )
    bind.execute(text(f"ALTER TABLE {target} ENABLE ALWAYS TRIGGER {CAPTURE_TRIGGER}"))
    bind.execute(text(f"ALTER TABLE {target} ENABLE ALWAYS TRIGGER {GUARD_TRIGGER}"))


def drop_capture(bind: Connection, source: str | None) -> None:
    if source is not None and relation_exists(bind, source):
        bind.execute(text(f"DROP TRIGGER IF EXISTS {CAPTURE_TRIGGER} ON {quote_ident(source)}"))
        bind.execute(text(f"DROP TRIGGER IF EXISTS {GUARD_TRIGGER} ON {quote_ident(source)}"))
    bind.execute(text(f"DROP TABLE IF EXISTS {LOG}"))
    bind.execute(text(f"DROP FUNCTION IF EXISTS {CAPTURE_FUNCTION}()"))
    bind.execute(text(f"DROP FUNCTION IF EXISTS {GUARD_FUNCTION}()"))


@attrs.define
class Mover:
    """Copies ``chunks`` rows of the source partitions into ``target``, and replays the log.

    ``new_key(collection_id)`` is the partition_key a row gets in the target (its old one for an
    isolation); ``old_key(collection_id)`` the one it has in ``chunks``; ``key_sql`` the SQL of the
    former over a column."""

    run: Run
    target: str
    key_sql: str
    new_key: Callable[[str], int]
    old_key: Callable[[str], int]
    columns: list[str]
    batch_size: int
    progress: Progress | None
    hooks: Hooks
    expected_rows: int = 0
    rows_copied: int = 0
    replayed: int = 0
    batches: int = 0
    copy_seconds: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.rows_copied = self.run.rows_copied
        self.copy_seconds = self.run.copy_seconds
        self.batches = self.run.batches
        self.replayed = self.run.replayed

    def outcome(
        self,
        kind: str,
        from_count: int,
        to_count: int,
        *,
        started: float,
        swap: tuple[int, float],
        resumed: bool,
        collection_id: str | None = None,
        split_parts: int = 1,
    ) -> ReshapeOutcome:
        """What the run did: this mover's figures, the swap's (``swap_and_finish``'s attempts and seconds)
        and the time since ``started`` (``time.perf_counter``)."""
        attempts, swap_seconds = swap
        return ReshapeOutcome(
            kind=kind,
            from_count=from_count,
            to_count=to_count,
            rows_copied=self.rows_copied,
            changes_replayed=self.replayed,
            batches=self.batches,
            copy_seconds=self.copy_seconds,
            seconds=time.perf_counter() - started,
            swap_seconds=swap_seconds,
            swap_attempts=attempts,
            resumed=resumed,
            collection_id=collection_id,
            split_parts=split_parts,
        )

    @property
    def _select_list(self) -> str:
        return ", ".join(self.key_sql if c == "partition_key" else f"c.{quote_ident(c)}" for c in self.columns)

    @property
    def _column_list(self) -> str:
        return ", ".join(quote_ident(c) for c in self.columns)

    def report(self, phase: str) -> None:
        if self.progress is not None:
            self.progress(ReshapeProgress(phase, self.rows_copied, self.expected_rows, self.copy_seconds))

    def copy_all(self, bind: Connection) -> None:
        pending = bind.execute(
            text(f"SELECT source, last_id FROM {CURSORS} WHERE run_id = {self.run.id} AND NOT done ORDER BY source")
        ).all()
        bind.commit()
        for source, last_id in pending:
            self._copy_partition(bind, source, last_id)

    def _copy_partition(self, bind: Connection, source: int, last_id: int | None) -> None:
        batch_count = 0
        while True:
            started = time.perf_counter()
            lower = "" if last_id is None else f"AND id > {int(last_id)}"
            upper = bind.execute(
                text(
                    f"""SELECT max(id) FROM (SELECT id FROM chunks WHERE partition_key = {source} {lower}
                        ORDER BY id LIMIT {self.batch_size}) AS batch"""
                )
            ).scalar_one()
            if upper is None:
                bind.execute(
                    text(f"UPDATE {CURSORS} SET done = true WHERE run_id = {self.run.id} AND source = {source}")
                )
                bind.commit()
                return
            # Literal bounds: the planner sees the range and reads just this batch through the primary key.
            copied = bind.execute(
                text(
                    f"""INSERT INTO {quote_ident(self.target)} ({self._column_list})
                        SELECT {self._select_list} FROM chunks AS c
                        WHERE c.partition_key = {source} {lower.replace("id", "c.id")} AND c.id <= {int(upper)}"""
                )
            ).rowcount
            took = time.perf_counter() - started
            bind.execute(
                text(f"UPDATE {CURSORS} SET last_id = {int(upper)} WHERE run_id = {self.run.id} AND source = {source}")
            )
            bind.execute(
                text(
                    f"""UPDATE {RUNS} SET rows_copied = rows_copied + {copied}, batches = batches + 1,
                        copy_seconds = copy_seconds + {took!r} WHERE id = {self.run.id}"""
                )
            )
            bind.commit()  # the batch and its cursor: one transaction
            self.rows_copied += copied
            self.copy_seconds += took
            self.batches += 1
            batch_count += 1
            last_id = int(upper)
            self.report("copying")
            if self.hooks.after_batch is not None:
                self.hooks.after_batch(self.batches)

    def replay(self, bind: Connection, *, limit: int = REPLAY_BATCH, commit: bool = True) -> int:
        """Replay up to ``limit`` logged changes: the keys' rows in the target become what they are in
        ``chunks`` now (deleted, or copied again). Returns how many log entries were taken."""
        taken = bind.execute(
            text(
                f"""DELETE FROM {LOG} WHERE seq IN (SELECT seq FROM {LOG} ORDER BY seq LIMIT {limit})
                    RETURNING id, collection_id"""
            )
        ).all()
        if not taken:
            if commit:
                bind.commit()
            return 0
        keys = sorted({(int(i), c) for i, c in taken})
        ids = [i for i, _ in keys]
        collections = [c for _, c in keys]
        bind.execute(
            text(
                f"""DELETE FROM {quote_ident(self.target)} AS t
                    USING unnest(CAST(:ids AS bigint[]), CAST(:cids AS text[]), CAST(:keys AS integer[]))
                        AS k(id, cid, pk)
                    WHERE t.partition_key = k.pk AND t.collection_id = k.cid AND t.id = k.id"""
            ),
            {"ids": ids, "cids": collections, "keys": [self.new_key(c) for c in collections]},
        )
        bind.execute(
            text(
                f"""INSERT INTO {quote_ident(self.target)} ({self._column_list})
                    SELECT {self._select_list} FROM chunks AS c
                    JOIN unnest(CAST(:ids AS bigint[]), CAST(:cids AS text[]), CAST(:keys AS integer[]))
                        AS k(id, cid, pk)
                      ON c.partition_key = k.pk AND c.collection_id = k.cid AND c.id = k.id"""
            ),
            {"ids": ids, "cids": collections, "keys": [self.old_key(c) for c in collections]},
        )
        self.replayed += len(taken)
        bind.execute(text(f"UPDATE {RUNS} SET replayed = replayed + {len(taken)} WHERE id = {self.run.id}"))
        if commit:
            bind.commit()
        return len(taken)

    def catch_up(self, bind: Connection, *, until: int = SWAP_BACKLOG) -> None:
        """Replay the log until fewer than ``until`` changes are left (writers keep adding to it)."""
        for _ in range(CATCH_UP_ROUNDS):
            taken = self.replay(bind)
            self.report("catching up")
            if taken < until:
                return

    def replay_all(self, bind: Connection) -> None:
        """Under the swap's lock: nothing is added any more."""
        while self.replay(bind, commit=False) == REPLAY_BATCH:
            pass


def copy_objects_onto(bind: Connection, old: str, new: str) -> None:
    """The host's triggers, grants, owner and comment of ``old``, onto ``new`` (in the swap)."""
    for name, definition, enabled in host_triggers(bind, old):
        body = re.sub(rf" ON (public\.)?{re.escape(old)} ", f" ON {quote_ident(new)} ", definition, count=1)
        bind.exec_driver_sql(body)
        state = {"D": "DISABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA"}.get(enabled)
        if state:
            bind.execute(text(f"ALTER TABLE {quote_ident(new)} {state} TRIGGER {quote_ident(name)}"))
    grants = bind.execute(
        text(
            """SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                      a.is_grantable
               FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
               WHERE c.oid = to_regclass(:t) AND a.grantee <> c.relowner"""
        ),
        {"t": old},
    ).all()
    for privilege, grantee, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        bind.execute(text(f"GRANT {privilege} ON {quote_ident(new)} TO {grantee}{option}"))
    owners = bind.execute(
        text(
            """SELECT o.relowner::regrole::text, n.relowner::regrole::text FROM pg_class o, pg_class n
               WHERE o.oid = to_regclass(:old) AND n.oid = to_regclass(:new)"""
        ),
        {"old": old, "new": quote_ident(new)},
    ).one()
    if owners[0] != owners[1]:
        bind.execute(text(f"ALTER TABLE {quote_ident(new)} OWNER TO {owners[0]}"))
    comment = bind.execute(text("SELECT obj_description(to_regclass(:t), 'pg_class')"), {"t": old}).scalar_one()
    if comment is not None:
        bind.execute(text(f"COMMENT ON TABLE {quote_ident(new)} IS {quote_literal(comment)}"))
