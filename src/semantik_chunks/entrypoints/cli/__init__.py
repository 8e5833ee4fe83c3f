"""The operator CLI, ``semantik-chunks`` (Typer and Rich)."""

from semantik_chunks.entrypoints.cli import history as _history  # noqa: F401 -- registers snapshot/history/forecast
from semantik_chunks.entrypoints.cli.app import app, main

__all__ = ["app", "main"]
