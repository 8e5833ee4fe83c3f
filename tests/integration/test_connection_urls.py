"""Every libpq URL form against real servers: the embedded one (unix socket) and a second one with TLS
and a certificate made here. Each parameter is checked by what the server reports for the session,
and each entry point (engine, migrations, CLI, API container, Celery task body) takes such a URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from semantik_chunks.adapters.postgres import migrate
from semantik_chunks.adapters.postgres.chunks import PostgresChunkRepository
from semantik_chunks.adapters.postgres.engine import create_engine
from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.errors import DatabaseUnavailableError
from semantik_chunks.entrypoints.cli import app
from semantik_chunks.entrypoints.tasks import _monitor
from tests.tls_server import TlsServer, tls_server


def socket_dir(url: str) -> str:
    host = make_url(url).query["host"]
    assert isinstance(host, str)
    return host


def database_of(url: str) -> str:
    database = make_url(url).database
    assert database is not None
    return database


def libpq_url(url: str, query: str) -> str:
    """``url`` (the embedded server's ``postgresql://postgres:@/db?host=/dir``) with ``query`` added."""
    return f"postgresql://postgres@/{database_of(url)}?host={quote(socket_dir(url), safe='/')}&{query}"


async def session(url: str, sql: str) -> tuple[object, ...]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return tuple((await conn.execute(text(sql))).one())
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("query", "setting", "expected"),
    [
        ("application_name=probe-app", "application_name", "probe-app"),
        ("fallback_application_name=fallback-app", "application_name", "fallback-app"),
        ("connect_timeout=3", "application_name", "semantik-chunks"),  # the default name
        ("options=-c%20search_path%3Dprobe_path", "search_path", "probe_path"),
        ("options=-c%20statement_timeout%3D4321%20-c%20lock_timeout%3D1234", "statement_timeout", "4321ms"),
        ("options=-c%20statement_timeout%3D4321%20-c%20lock_timeout%3D1234", "lock_timeout", "1234ms"),
        ("target_session_attrs=read-write", "transaction_read_only", "off"),
        ("target_session_attrs=primary", "transaction_read_only", "off"),
        ("sslmode=disable", "application_name", "semantik-chunks"),
        ("sslmode=prefer&gssencmode=disable&channel_binding=prefer", "application_name", "semantik-chunks"),
    ],
)
async def test_each_parameter_reaches_the_session(pg_url: str, query: str, setting: str, expected: str) -> None:
    (value,) = await session(libpq_url(pg_url, query), f"SELECT current_setting('{setting}')")
    assert value == expected


async def test_connect_timeout_becomes_asyncpgs_timeout(pg_url: str) -> None:
    engine = create_engine(libpq_url(pg_url, "connect_timeout=3"))
    try:
        shown = engine.dialect.create_connect_args(engine.url)[1]
        assert shown == {"user": "postgres", "database": database_of(pg_url)}
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
    # The bound itself is proved against a server that never answers (test_bounded_waits).


async def count_chunks(url: str) -> int:
    """``count()`` through the chunk repository over an engine for ``url``: driver errors become domain errors."""
    engine = create_engine(url)
    try:
        return await PostgresChunkRepository(engine).count()
    finally:
        await engine.dispose()


async def test_a_standby_is_looked_for_and_not_found(pg_url: str) -> None:
    with pytest.raises(DatabaseUnavailableError, match="database unreachable"):
        await count_chunks(libpq_url(pg_url, "target_session_attrs=standby"))


def socket_port(directory: str) -> str:
    """The port in the name of the server's socket file, ``.s.PGSQL.<port>``."""
    (socket_file,) = (p for p in Path(directory).glob(".s.PGSQL.*") if not p.name.endswith(".lock"))
    return socket_file.name.rpartition(".")[2]


async def test_socket_directory_forms(pg_url: str) -> None:
    directory, database = socket_dir(pg_url), database_of(pg_url)
    port = await asyncio.to_thread(socket_port, directory)
    encoded = quote(directory, safe="")
    urls = [
        f"postgresql://postgres@{encoded}/{database}",  # percent-encoded directory as the host
        f"postgresql://postgres@{encoded}:{port}/{database}",
        f"postgresql:///{database}?host={directory}&user=postgres&port={port}",
        f"postgresql://?host={directory}&dbname={database}&user=postgres",
        # host and port lists: the first address has no server, the second has
        f"postgresql://postgres@/{database}?host=/nonexistent-socket-dir,{directory}",
        f"postgresql://postgres@/{database}?host={directory},{directory}&port=1,{port}",
        f"postgresql://postgres@/{database}?host=/nonexistent-socket-dir&host={directory}",
    ]
    for url in urls:
        assert await session(url, "SELECT current_database()") == (database,), url


# -- TLS ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls() -> Iterator[TlsServer]:
    with tls_server() as server:
        yield server


SSL_STATE = "SELECT ssl, coalesce(client_dn, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


async def test_sslmode_require_encrypts(tls: TlsServer) -> None:
    assert await session(tls.url("sslmode=require"), SSL_STATE) == (True, "")
    assert await session(tls.url("ssl=true"), SSL_STATE) == (True, "")  # SQLAlchemy/asyncpg's spelling


async def test_sslmode_disable_does_not(tls: TlsServer) -> None:
    assert await session(tls.url("sslmode=disable"), SSL_STATE) == (False, "")


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
async def test_verified_modes_check_the_certificate_against_sslrootcert(tls: TlsServer, mode: str) -> None:
    url = tls.url(f"sslmode={mode}&sslrootcert={tls.ca_file}")
    assert await session(url, SSL_STATE) == (True, "")
    by_name = tls.url(f"sslmode={mode}&sslrootcert={tls.ca_file}", host="localhost")
    assert await session(by_name, SSL_STATE) == (True, "")


async def test_a_certificate_from_another_ca_is_refused(tls: TlsServer) -> None:
    with pytest.raises(DatabaseUnavailableError, match="certificate verify failed"):
        await count_chunks(tls.url(f"sslmode=verify-full&sslrootcert={tls.other_ca_file}"))


async def test_a_client_certificate_is_presented(tls: TlsServer) -> None:
    client_crt, client_key = tls.ca_file.parent / "client.crt", tls.ca_file.parent / "client.key"
    url = tls.url(f"sslmode=verify-full&sslrootcert={tls.ca_file}&sslcert={client_crt}&sslkey={client_key}")
    assert await session(url, SSL_STATE) == (True, "/CN=postgres")


# -- every entry point takes such a URL --------------------------------------------------------------
PARAMETERS = "connect_timeout=5&application_name=probe-entry&options=-c%20lock_timeout%3D2000&sslmode=prefer"


@pytest.fixture
def migrated_with_parameters(make_database: Callable[[], str]) -> str:
    """A fresh database migrated through a URL carrying libpq parameters."""
    url = libpq_url(make_database(), PARAMETERS)
    migrate.upgrade(url, 8)
    assert migrate.current(url) != ()
    return url


def test_the_cli_takes_every_parameter(migrated_with_parameters: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "8")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["health", "--db-url", migrated_with_parameters])
    assert result.exit_code in (0, 1, 4), result.output


async def test_the_api_container_and_the_task_take_every_parameter(migrated_with_parameters: str) -> None:
    settings = Settings(partition_count=8, database_url=migrated_with_parameters)
    container = bootstrap(settings)
    try:
        assert (await container.monitoring_service().check_partition_health()).succeeded
    finally:
        await dispose(container)
    # The Celery task's body, in its own thread and event loop as a worker runs it.
    payload = await asyncio.to_thread(asyncio.run, _monitor(lambda: bootstrap(settings)))
    assert payload["status"] == "success"


def test_migrations_and_the_cli_over_verified_tls(tls: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = tls.url(f"sslmode=verify-full&sslrootcert={tls.ca_file}&connect_timeout=5&application_name=tls-probe")
    monkeypatch.setenv("CHUNK_PARTITION_COUNT", "8")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    migrated = CliRunner().invoke(app, ["migrate", "--db-url", url])
    assert migrated.exit_code == 0, migrated.output
    checked = CliRunner().invoke(app, ["health", "--db-url", url])
    assert checked.exit_code in (0, 1, 4), checked.output
