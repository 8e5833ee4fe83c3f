"""Fixtures shared by every suite. The PostgreSQL fixtures start a server only when a test asks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.postgres_servers import database_factory, postgres_server, run_sql, statement_statistics_missing

# Test modules that need pg_stat_statements on the server. Where the server has none (pgserver's
# PostgreSQL 16), they are not collected (their PostgreSQL cases, for a contract suite) and the log says why.
NEEDS_STATEMENT_STATISTICS = ("test_queries_postgres.py", "test_statement_statistics.py")
_STATEMENTS_MISSING = statement_statistics_missing()


def _needs_statements(path: str) -> bool:
    return path.replace("\\", "/").rsplit("/", 1)[-1] in NEEDS_STATEMENT_STATISTICS


def pytest_report_header() -> str | None:
    if _STATEMENTS_MISSING is None:
        return None
    return f"pg_stat_statements tests not collected: {_STATEMENTS_MISSING}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
    if _STATEMENTS_MISSING is None:
        return
    dropped = [
        item
        for item in items
        if _needs_statements(str(item.path)) and ("integration" in str(item.path) or "[postgres" in item.nodeid)
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _STATEMENTS_MISSING is not None:
        terminalreporter.write_line(f"pg_stat_statements tests not collected: {_STATEMENTS_MISSING}")


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


@pytest.fixture(scope="session")
def statements_pg_url(make_database: Callable[[], str]) -> str:
    """A migrated database (100 partitions) with pg_stat_statements installed, shared by the session."""
    from semantik_chunks.adapters.postgres import migrate

    url = make_database()
    migrate.upgrade(url, 100)
    run_sql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
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
