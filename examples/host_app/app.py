"""The example host's web app: ``uvicorn --factory examples.host_app.app:create_app`` (see README.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import semantik_chunks
from semantik_chunks.config import Settings
from semantik_chunks.container import bootstrap, dispose
from semantik_chunks.entrypoints.api import create_partition_router
from semantik_chunks.entrypoints.metrics import make_metrics_app

from .auth import current_user, is_admin
from .settings import host_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The host's app over ``settings`` (default: the environment, else the embedded PostgreSQL)."""
    settings = settings or host_settings()
    # GET /health runs the interactive health check, which delivers no alerts: alerting is the
    # worker's job (the monitor task, worker.py), so the web process needs no sinks.
    container = bootstrap(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url and settings.backend == "postgres":
            # A real host runs the library's migrations from its own Alembic history (docs/migrations.md).
            from semantik_chunks.adapters.postgres import migrate

            await migrate.upgrade_async(settings.database_url, settings.partition_count)
        yield
        await dispose(container)

    # /docs (Swagger UI) and /redoc load their scripts and styles from this app, out of the fastapi-offline
    # wheel (the api extra), never from a CDN: the pages work without internet. The OpenAPI document carries
    # the library's version.
    app = FastAPIOffline(title="Example Semantik host", version=semantik_chunks.__version__, lifespan=lifespan)
    app.include_router(create_partition_router(container, current_user, is_admin=is_admin))
    app.mount("/metrics", make_metrics_app(container))
    return app
