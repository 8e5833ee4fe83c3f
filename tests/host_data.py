"""Data and doubles shared by the host-integration tests (API, tasks, metrics, alerting)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import attrs
from dependency_injector import providers
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from semantik_chunks.adapters.memory.database import MemoryDatabase
from semantik_chunks.config import Settings
from semantik_chunks.container import Container, bootstrap
from semantik_chunks.domain.errors import DatabaseUnavailableError
from semantik_chunks.domain.hashing import partition_for
from semantik_chunks.domain.model import Chunk
from semantik_chunks.entrypoints.api import create_partition_router

PARTITIONS = 4
HEAVY_PARTITION = 0
COLLECTIONS_PER_PARTITION = 30
# Partition 0 holds twice the others' collections: 60 of 150 chunks, a skew of 0.6 (UNBALANCED),
# and with 150 equal collections chance explains a skew of at most about 0.42 (3 sigma).
HEAVY_COLLECTIONS = 60


def collections_in(partition: int, count: int, partition_count: int = PARTITIONS) -> list[str]:
    """``count`` collection ids that hash to ``partition``."""
    ids = (f"collection-{i}" for i in itertools.count())
    return list(itertools.islice((c for c in ids if partition_for(c, partition_count) == partition), count))


async def seed_skewed(container: Container, *, refresh: bool = True) -> dict[int, int]:
    """One one-chunk collection per slot, partition 0 holding twice its share; returns chunks per partition."""
    collections, chunks = container.collection_repository(), container.chunk_repository()
    per_partition = {
        p: HEAVY_COLLECTIONS if p == HEAVY_PARTITION else COLLECTIONS_PER_PARTITION for p in range(PARTITIONS)
    }
    for partition, count in per_partition.items():
        for collection_id in collections_in(partition, count):
            await collections.add(collection_id, f"name of {collection_id}")
            await chunks.add_many([Chunk(collection_id=collection_id, chunk_index=0, content="some text " * 5)])
    if refresh:
        await container.partition_statistics().refresh_collection_stats()
    return per_partition


def memory_container(database: MemoryDatabase, **settings: Any) -> Container:
    """A container over ``database`` (several containers may share one, like one PostgreSQL)."""
    container = bootstrap(Settings(partition_count=database.partition_count, database_url="memory://", **settings))
    container.memory_database.override(providers.Object(database))
    return container


class UnreachableStatistics:
    """The statistics port of a database that is down: every read fails the way the Postgres adapter's does."""

    partition_count = PARTITIONS

    async def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise DatabaseUnavailableError("database unreachable: [Errno 111] Connection refused")

    partition_snapshots = write_activity = last_hour_writes = collection_counts = _fail
    recent_collection_counts = collection_stats = refresh_collection_stats = analyze = isolated_collections = _fail
    chunk_statements = reset = _fail  # the statement statistics port of the same database


class UnreachableHistory:
    """The history port of a database that is down."""

    async def _fail(self, *_args: Any, **_kwargs: Any) -> Any:
        raise DatabaseUnavailableError("database unreachable: [Errno 111] Connection refused")

    record = read = prune = _fail


# -- a host's FastAPI app ----------------------------------------------------------------------------
_USERS = {"admin-token": {"name": "ada", "admin": True}, "user-token": {"name": "bob", "admin": False}}
_bearer = HTTPBearer(auto_error=False)


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> dict[str, Any] | None:
    """A host's optional user dependency: None without credentials, 401 for a bad token."""
    if credentials is None:
        return None
    user = _USERS.get(credentials.credentials)
    if user is None:
        raise HTTPException(401, detail="invalid token")
    return user


def host_app(container: Container) -> FastAPI:
    """A host app mounting the partitions router; bearer tokens "admin-token" and "user-token"."""
    app = FastAPI()
    app.include_router(create_partition_router(container, current_user, is_admin=lambda user: user["admin"]))
    return app


# -- a real HTTP server receiving webhooks --------------------------------------------------------
SECRET_PATH = "/services/T0000/B0000/s3cr3tT0k3nXYZ"


@attrs.define
class WebhookReceiver:
    """Records POSTs; answers the first ``failures`` requests with ``failure_status`` (after
    ``stall_seconds``, to make a client time out), then 200."""

    url: str
    failures: int = 0
    failure_status: int = 500
    stall_seconds: float = 0.0
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def next_status(self, record: dict[str, Any]) -> int:
        with self.lock:
            self.requests.append(record)
            failing = len(self.requests) <= self.failures
        if failing:
            time.sleep(self.stall_seconds)
        return self.failure_status if failing else 200

    @property
    def received(self) -> list[dict[str, Any]]:
        """The requests answered with 200."""
        return self.requests[self.failures :]


@contextmanager
def webhook_receiver(
    failures: int = 0, failure_status: int = 500, stall_seconds: float = 0.0
) -> Iterator[WebhookReceiver]:
    """An HTTP server on 127.0.0.1 (ephemeral port, own thread) whose URL carries a secret path."""
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.next_status(
                {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body}
            )
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up waiting (a stalled answer)
                pass

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(
        url=f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}",
        failures=failures,
        failure_status=failure_status,
        stall_seconds=stall_seconds,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port just released)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}{SECRET_PATH}"
