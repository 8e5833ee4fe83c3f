"""Taking over a host database's existing chunks table (placeholder until the adoption work lands)."""

from __future__ import annotations

from sqlalchemy.engine import Connection


def adopt_host_table(bind: Connection, partition_count: int) -> None:
    raise NotImplementedError("adopting the host's chunks table is not implemented yet")


def release_host_table(bind: Connection) -> None:
    raise NotImplementedError("releasing an adopted chunks table is not implemented yet")
