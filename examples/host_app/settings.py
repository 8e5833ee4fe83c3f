"""Where the example host's database is: ``DATABASE_URL``, else the embedded PostgreSQL the CLI also uses."""

from __future__ import annotations

import os

import attrs

from semantik_chunks.config import Settings


def host_settings() -> Settings:
    """The library's settings from the environment (``SEMANTIK_INTERNAL_API_KEY``,
    ``SEMANTIK_ALERT_WEBHOOK_URL``, ``SEMANTIK_ALERT_MIN_LEVEL``, ``CHUNK_PARTITION_COUNT``),
    pointed at a real PostgreSQL.

    Without ``DATABASE_URL`` this starts (or reuses) the embedded server in
    ``~/.local/share/semantik-chunks``, the same one ``semantik-chunks demo`` fills."""
    settings = Settings.from_env()
    if settings.database_url is not None:
        return settings
    from semantik_chunks.adapters.postgres.embedded import embedded_url

    return attrs.evolve(settings, database_url=embedded_url())


def demo_tokens() -> dict[str, dict[str, object]]:
    """The example's stand-in for a user store: bearer token -> user."""
    return {
        os.environ.get("EXAMPLE_ADMIN_TOKEN", "admin-demo-token"): {"name": "ada", "is_superuser": True},
        os.environ.get("EXAMPLE_USER_TOKEN", "user-demo-token"): {"name": "bob", "is_superuser": False},
    }
