"""Nothing waits without a bound: behind a lock another session holds, the API answers 503, ``/metrics``
says ``up 0`` and the CLI exits 3 in one line, all while the lock is still held; against a host that
accepts connections and never answers, the CLI gives up within ``connect_timeout`` and says why.

No test measures time: each asserts that the call returned (with the lock still held, or the silent
host still silent), which it could not do if it waited on them. ``pytest.mark.timeout`` turns a hang
into a failure."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
import httpx
import pytest
from examples.host_app.auth import current_user, is_admin
from fastapi import FastAPI
from typer.testing import CliRunner

from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.domain.errors import DatabaseTimeoutError
from semantik_chunks.domain.model import CheckOutcome
from semantik_chunks.entrypoints.api import UNAVAILABLE_DETAILS, create_partition_router
from semantik_chunks.entrypoints.cli import app
from semantik_chunks.entrypoints.metrics import make_metrics_app
from tests.postgres_servers import asyncpg_dsn

pytestmark = pytest.mark.timeout(300)

KEY = "bounded-waits-key"
BASE = "/api/v2/partitions"
TIMED_OUT = "partition statistics unavailable: the database did not answer in time"
assert TIMED_OUT in dict(UNAVAILABLE_DETAILS).values()


class HeldLock:
    """``LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE`` in a session on a thread (and event loop) of its
    own, held until ``release``; ``still_held`` asks the server whether that session still holds it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._locked = threading.Event()
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)

    async def _hold(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        try:
            conn = await asyncpg.connect(asyncpg_dsn(self._url))
            try:
                async with conn.transaction():
                    await conn.execute("LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE")
                    self._locked.set()
                    await self._release.wait()
            finally:
                await conn.close()
        except BaseException as exc:
            self._error = exc
            self._locked.set()

    def start(self) -> None:
        self._thread.start()
        assert self._locked.wait(120), "the lock was not taken"
        if self._error is not None:
            raise self._error

    def release(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        self._thread.join(120)

    def still_held(self) -> bool:
        async def ask() -> bool:
            conn = await asyncpg.connect(asyncpg_dsn(self._url))
            try:
                held = await conn.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'chunks'::regclass "
                    "AND mode = 'AccessExclusiveLock' AND granted"
                )
                return bool(held)
            finally:
                await conn.close()

        return asyncio.run(ask())


@contextmanager
def held_lock(url: str) -> Iterator[HeldLock]:
    lock = HeldLock(url)
    lock.start()
    try:
        yield lock
    finally:
        lock.release()


@asynccontextmanager
async def client(url: str, **timeouts: int) -> AsyncIterator[httpx.AsyncClient]:
    """The example host's API and /metrics over a container of its own, disposed at the end."""
    container = bootstrap(Settings(partition_count=100, database_url=url, internal_api_key=KEY, **timeouts))
    app = FastAPI()
    app.include_router(create_partition_router(container, current_user, is_admin=is_admin))
    app.mount("/metrics", make_metrics_app(container))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://host") as api:
            yield api
    finally:
        await dispose(container)


@pytest.mark.parametrize(
    "timeouts",
    [
        {"lock_timeout_ms": 300, "statement_timeout_ms": 0},  # lock_timeout fires
        {"lock_timeout_ms": 0, "statement_timeout_ms": 300},  # statement_timeout fires (it counts lock waits)
    ],
)
async def test_behind_a_held_lock_the_api_answers_503_and_metrics_up_0(
    clean_pg_url: str, timeouts: dict[str, int]
) -> None:
    headers = {"X-Internal-Api-Key": KEY}
    lock = HeldLock(clean_pg_url)
    await asyncio.to_thread(lock.start)
    try:
        async with client(clean_pg_url, **timeouts) as api:
            for path in ("/statistics", "/statistics?partition_num=3", "/recommendations", "/health-summary"):
                response = await api.get(BASE + path, headers=headers)
                assert response.status_code == 503, (path, response.text)
                assert response.json() == {"detail": TIMED_OUT}
            health = await api.get(BASE + "/health", headers=headers)
            metrics = await api.get("/metrics/")
        assert await asyncio.to_thread(lock.still_held)  # they answered while the lock was held
    finally:
        await asyncio.to_thread(lock.release)
    assert health.status_code == 503
    assert health.json()["status"] == "failed"
    for text in (health.text, metrics.text):
        assert "lock" not in text.lower() and "cancel" not in text.lower()  # no driver text
    assert "semantik_chunks_up 0.0" in metrics.text


async def test_the_default_timeouts_bound_the_api_too(clean_pg_url: str) -> None:
    """No setting given: the documented defaults (5 s lock, 30 s statement) apply."""
    lock = HeldLock(clean_pg_url)
    await asyncio.to_thread(lock.start)
    try:
        async with client(clean_pg_url) as api:
            response = await api.get(BASE + "/health-summary", headers={"X-Internal-Api-Key": KEY})
        assert await asyncio.to_thread(lock.still_held)
    finally:
        await asyncio.to_thread(lock.release)
    assert response.status_code == 503
    assert response.json() == {"detail": TIMED_OUT}


async def test_behind_a_lock_on_the_history_the_health_check_and_forecast_give_up(clean_pg_url: str) -> None:
    """The forecast's read of chunk_partition_history is a monitoring read too: bounded, not waited on."""
    holder = await asyncpg.connect(asyncpg_dsn(clean_pg_url))
    container = bootstrap(Settings(partition_count=100, database_url=clean_pg_url, lock_timeout_ms=300))
    try:
        await holder.execute("BEGIN")
        await holder.execute("LOCK TABLE chunk_partition_history IN ACCESS EXCLUSIVE MODE")
        result = await container.monitoring_service().check_partition_health()
        with pytest.raises(DatabaseTimeoutError):
            await container.history_service().forecast()
        held = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = 'chunk_partition_history'::regclass AND granted"
        )
    finally:
        await holder.close()
        await dispose(container)
    assert held  # they answered while the lock was held
    assert result.status is CheckOutcome.FAILED
    assert "did not answer in time" in str(result.error)


async def test_behind_a_lock_on_the_history_a_snapshot_gives_up_and_writes_nothing(clean_pg_url: str) -> None:
    """The snapshot (the scheduled task's write) is bounded as the reads are: the task goes on."""
    holder = await asyncpg.connect(asyncpg_dsn(clean_pg_url))
    container = bootstrap(Settings(partition_count=100, database_url=clean_pg_url, lock_timeout_ms=300))
    try:
        before = await holder.fetchval("SELECT count(*) FROM chunk_partition_history")
        await holder.execute("BEGIN")
        await holder.execute("LOCK TABLE chunk_partition_history IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(DatabaseTimeoutError):
            await container.history_service().take_snapshot()
        held = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE relation = 'chunk_partition_history'::regclass AND granted"
        )
        await holder.execute("ROLLBACK")
        stored = await holder.fetchval("SELECT count(*) FROM chunk_partition_history")
    finally:
        await holder.close()
        await dispose(container)
    assert held  # it answered while the lock was held
    assert stored == before  # and wrote nothing


def test_behind_a_held_lock_the_cli_exits_3_in_one_line(clean_pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMANTIK_LOCK_TIMEOUT_MS", "300")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CHUNK_PARTITION_COUNT", raising=False)
    with held_lock(clean_pg_url) as lock:
        result = CliRunner().invoke(app, ["health", "--db-url", clean_pg_url])
        assert lock.still_held()
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "did not answer in time" in lines[0]
    assert "lock timeout" in lines[0]  # the CLI names the cause for the operator
    assert "SEMANTIK_LOCK_TIMEOUT_MS" in lines[0]


def test_a_bad_timeout_setting_is_one_line(monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    monkeypatch.setenv("SEMANTIK_STATEMENT_TIMEOUT_MS", "soon")
    result = CliRunner().invoke(app, ["health", "--db-url", pg_url])
    assert result.exit_code == 3
    assert "SEMANTIK_STATEMENT_TIMEOUT_MS must be a whole number of milliseconds" in result.stderr


@contextmanager
def silent_host() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_a_host_that_never_answers_fails_within_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with silent_host() as port:
        url = f"postgresql://someone:s3cret@127.0.0.1:{port}/semantik?connect_timeout=1"
        result = CliRunner().invoke(app, ["health", "--db-url", url])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no answer within the connect timeout" in lines[0]
    assert "unreachable: ;" not in lines[0] and "s3cret" not in lines[0]
