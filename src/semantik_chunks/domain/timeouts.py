"""How long the library's own monitoring reads may wait in the database (``lock_timeout``, ``statement_timeout``).

Behind a lock (an ALTER, a host's LOCK TABLE) a health check, ``/metrics`` or a CLI report gives up
after 5 s, and any of their reads after 30 s, so that they answer "unavailable" instead of hanging.
0 turns a bound off. The row movers have none: they batch instead.
"""

from __future__ import annotations

import attrs

DEFAULT_LOCK_TIMEOUT_MS = 5_000
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 2**31 - 1  # PostgreSQL's limit for both settings


@attrs.frozen
class SessionTimeouts:
    """``lock_timeout`` and ``statement_timeout`` in milliseconds for one read (0: none)."""

    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS

    @property
    def any(self) -> bool:
        return bool(self.lock_timeout_ms or self.statement_timeout_ms)


NO_TIMEOUTS = SessionTimeouts(0, 0)
