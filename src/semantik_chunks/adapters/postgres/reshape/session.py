"""The mover's session: its settings (no timeouts of its own, row triggers off where the role may set
``session_replication_role``), the advisory lock that lets one change run at a time on a database, and
``with_lock_retry``, which runs a transaction that takes locks under a short ``lock_timeout`` and tries
again (catching up in between, cancelling autovacuum workers in the way) until the locks are granted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from semantik_chunks.domain.reshape import ReshapeError

logger = logging.getLogger(__name__)


# pg_advisory_lock key: one change at a time per database ("semantik" in ASCII, truncated).
ADVISORY_KEY = 0x73656D616E74

# The swap waits this long for its lock, then gives up, catches up again and retries: writers queue
# behind a waiting ACCESS EXCLUSIVE request, so this bounds what a writer can wait for it.
SWAP_LOCK_TIMEOUT_MS = 250
SWAP_ATTEMPTS = 40

_INSUFFICIENT_PRIVILEGE = "42501"
_LOCK_NOT_AVAILABLE = "55P03"


def _code(exc: DBAPIError) -> str | None:
    original = exc.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


def prepare_session(bind: Connection) -> None:
    """The mover's session: no statement or lock timeout (it batches; the swap sets its own), and
    row triggers off for its writes when the role may (``session_replication_role = replica``): the
    copies change no value, so foreign-key checks could only pass, and the host's own triggers must
    not see a copy as an edit. Without the privilege rows are copied all the same, with checks."""
    bind.execute(text("SET statement_timeout = 0"))
    bind.execute(text("SET lock_timeout = 0"))
    bind.commit()
    try:
        bind.execute(text("SET session_replication_role = replica"))
        bind.commit()
    except DBAPIError as exc:
        bind.rollback()
        if _code(exc) != _INSUFFICIENT_PRIVILEGE:
            raise
        logger.info("copying with row triggers firing: this role may not set session_replication_role")


def take_run_lock(bind: Connection) -> None:
    if not bind.execute(text(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})")).scalar_one():
        bind.rollback()
        raise ReshapeError("another reshape or isolate is running on this database; wait for it to finish")
    bind.commit()


def release_run_lock(bind: Connection) -> None:
    try:
        bind.rollback()
        bind.execute(text(f"SELECT pg_advisory_unlock({ADVISORY_KEY})"))
        # Back to the session's own settings (the engine's timeouts) before the pool hands it out again.
        bind.execute(text("RESET session_replication_role"))
        bind.execute(text("RESET statement_timeout"))
        bind.execute(text("RESET lock_timeout"))
        bind.commit()
    except DBAPIError:
        bind.invalidate()  # interrupted mid-statement: never hand the session back as it is


def cancel_autovacuum(bind: Connection) -> None:
    """Best effort: cancel autovacuum workers holding a lock on the table's relations (old or new), which
    a swap would otherwise wait for until PostgreSQL cancels them itself (after deadlock_timeout). Needs
    a superuser (or, on PostgreSQL 18, pg_signal_autovacuum_worker); without, the retries wait them out."""
    try:
        bind.execute(
            text(
                """SELECT pg_cancel_backend(a.pid) FROM pg_stat_activity a
                   WHERE a.backend_type = 'autovacuum worker' AND a.pid IN (
                       SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                       WHERE l.granted AND (c.relname LIKE 'chunks%' OR c.relname LIKE 'rs\\_%'))"""
            )
        ).all()
        bind.commit()
    except DBAPIError:
        bind.rollback()


def with_lock_retry(bind: Connection, work: Callable[[], None], what: str, *, between: Callable[[], None]) -> int:
    """Run ``work`` (which takes locks) in a transaction with a short ``lock_timeout``; on a timeout
    roll back, call ``between`` (catch up) and try again. Returns the attempts it took."""
    waited = ""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            bind.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_MS}ms'"))
            work()
            bind.commit()
            return attempt
        except DBAPIError as exc:
            bind.rollback()
            if _code(exc) != _LOCK_NOT_AVAILABLE:
                raise
            waited = " ".join(str(exc.statement or "").split())[:100]
            logger.info(
                "%s: lock not granted within %d ms (attempt %d: %s)", what, SWAP_LOCK_TIMEOUT_MS, attempt, waited
            )
            cancel_autovacuum(bind)
            between()
            time.sleep(min(0.05 * attempt, 1.0))
    holders = bind.execute(
        text(
            """SELECT DISTINCT a.pid || ' (' || a.backend_type || ', ' || coalesce(a.state, '') || ')'
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.granted AND l.pid <> pg_backend_pid()
                 AND l.relation IN (SELECT relid FROM pg_partition_tree('chunks'))"""
        )
    ).scalars()
    found = ", ".join(sorted(holders)) or "none now"
    bind.rollback()
    raise ReshapeError(
        f"{what}: could not lock chunks in {SWAP_ATTEMPTS} attempts of {SWAP_LOCK_TIMEOUT_MS} ms (last waiting in "
        f"{waited!r}); sessions holding locks on it: {found} (see pg_stat_activity). Nothing was lost: run the "
        "command again to finish"
    )
