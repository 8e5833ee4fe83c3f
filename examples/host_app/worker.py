"""The example host's Celery app: ``celery -A examples.host_app.worker worker --beat`` (see README.md).

Without ``CELERY_BROKER_URL`` it uses kombu's filesystem transport and a file result backend
in a temporary directory, so the example runs without Redis or RabbitMQ."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from celery import Celery
from celery.signals import worker_init

from semantik_chunks.container import bootstrap
from semantik_chunks.entrypoints.tasks import beat_schedule, register_tasks

from .settings import host_settings

settings = host_settings()

state = Path(os.environ.get("EXAMPLE_CELERY_DIR", Path(tempfile.gettempdir()) / "semantik-host-celery"))
for folder in ("queue", "processed", "results"):
    (state / folder).mkdir(parents=True, exist_ok=True)

celery_app = Celery(
    "example_host",
    broker=os.environ.get("CELERY_BROKER_URL", "filesystem://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", f"file://{state / 'results'}"),
)
celery_app.conf.update(
    broker_transport_options={
        "data_folder_in": str(state / "queue"),
        "data_folder_out": str(state / "queue"),
        "processed_folder": str(state / "processed"),
    },
    beat_schedule_filename=str(state / "celerybeat-schedule"),
)

# The one call a host makes, plus merging the schedule into its own.
register_tasks(celery_app, lambda: bootstrap(settings))
celery_app.conf.beat_schedule = {**(celery_app.conf.beat_schedule or {}), **beat_schedule()}


@worker_init.connect
def migrate_when_the_worker_starts(**_kwargs: object) -> None:
    """The schema is migrated when a worker starts, once, before it takes tasks; importing this module (a
    ``send_task`` one-liner, beat, a test) changes nothing in the database. A real host runs the library's
    migrations from its own Alembic history (docs/migrations.md)."""
    if settings.backend == "postgres":
        from semantik_chunks.adapters.postgres import migrate

        assert settings.database_url is not None
        migrate.upgrade(settings.database_url, settings.partition_count)
