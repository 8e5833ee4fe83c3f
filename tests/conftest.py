"""Fixtures shared by every suite. The PostgreSQL fixtures start a server only when a test asks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.postgres_servers import database_factory, postgres_server, run_sql


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """The maintenance database of the session's real PostgreSQL server."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh, empty databases (no schema), dropped at the end of the session."""
    create, drop_all = database_factory(pg_server_url)
    yield create
    drop_all()


@pytest.fixture(scope="session")
def pg_url(make_database: Callable[[], str]) -> str:
    """A database with the library's migrations applied (100 partitions), shared by the session."""
    from semantik_chunks.adapters.postgres import migrate

    url = make_database()
    migrate.upgrade(url, 100)
    return url


@pytest.fixture
def clean_pg_url(pg_url: str) -> str:
    """``pg_url`` with its chunks and collections emptied before the test.

    Sessions an earlier test left inside a transaction or mid-statement (an app or engine it never
    closed, e.g. a read orphaned when a sibling read timed out: ``active``, waiting on ClientRead) hold
    locks the TRUNCATE would wait on for ever: they are ended first, and the TRUNCATE waits at most a
    minute, so a leak fails the next test instead of hanging the suite."""
    run_sql(
        pg_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
        "AND state <> 'idle'",
        "SET lock_timeout = '60s'",
        "TRUNCATE chunks, collections RESTART IDENTITY CASCADE",
    )
    return pg_url


@pytest.fixture
async def pg_engine(clean_pg_url: str) -> AsyncIterator[AsyncEngine]:
    from semantik_chunks.adapters.postgres.engine import create_engine

    engine = create_engine(clean_pg_url)
    yield engine
    await engine.dispose()
